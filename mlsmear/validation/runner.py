"""``validate()``: a model bundle and hold-out pairs in, ``metrics.json`` + ``report.html`` out."""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from ..context import context_fields, needed_kinds
from ..electron_photons import KIND as PHOTON_FROM_ELECTRON
from ..electron_photons import with_teacher_table
from ..kinds import KINDS
from ..met_context import RECOIL_FIELDS
from ..model import Bundle, KindModel
from ..pairs import RECO_ONLY
from ..registry import load
from .baseline import train_baseline, training_sources
from .closure import (
    closure_metrics,
    event_reco,
    learnt_claims,
    learnt_recoil,
    object_checks,
    observables,
    reco_only_fractions,
)
from .closure_plots import closure_figures
from .observables import Observables, make_axes, observe
from .plots import kind_figures, style
from .provenance import holdout_provenance
from .report import write_html
from .sampling import KindSample, Reco, holdout_sample, learnt_reco
from .summary import SELECTION, compare

__all__ = ["validate", "MODEL_LABEL", "BASELINE_LABEL"]

MODEL_LABEL, BASELINE_LABEL = "mlsmear", "Paper baseline"
Source = str | os.PathLike[str]


def _bundle(model: str | Path | Bundle | KindModel) -> Bundle:
    loaded = load(model)
    return Bundle(loaded.kind, {loaded.kind: loaded}) if isinstance(loaded, KindModel) else loaded


def _sources(source: Source | Sequence[Source]) -> list[Source]:
    return [source] if isinstance(source, str | os.PathLike) else list(source)


def _read(sources: Sequence[Source], met: str = "auto") -> dict[str, pa.Table]:
    from ..readers import pairs_from_source  # uproot readers load only when used

    return with_teacher_table(
        pairs_from_source(sources if len(sources) > 1 else sources[0], met=met)
    )


def _first_events(tables: dict[str, pa.Table], max_events: int | None) -> np.ndarray:
    """Sorted unique events of the hold-out (the first ``max_events`` of them if given)."""
    events = np.unique(np.concatenate([t.column("event").to_numpy() for t in tables.values()]))
    return events[:max_events] if max_events else events


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _select_kinds(
    bundle: Bundle, tables: Mapping[str, pa.Table], kinds: Sequence[str] | None
) -> list[str]:
    both = [k for k in KINDS if k in bundle and k in tables]
    if kinds:
        unknown = [k for k in kinds if k not in both]
        if unknown:
            raise ValueError(
                f"kinds {unknown} are not in both the model ({sorted(bundle)}) and the hold-out "
                f"({sorted(tables)})"
            )
        both = [k for k in both if k in kinds]
    if not both:
        raise ValueError(
            f"the model ({sorted(bundle)}) and the hold-out ({sorted(tables)}) share no kind"
        )
    return both


def validate(
    model: str | Path | Bundle | KindModel,
    holdout: Source | Sequence[Source],
    output: str | Path,
    *,
    baseline: str | Path | Bundle | None = None,
    train_baseline_on: Sequence[Source] | None = None,
    baseline_epochs: int | None = None,
    kinds: Sequence[str] | None = None,
    seed: int = 1,
    auc_objects: int = 200_000,
    noise_floor: bool = True,
    max_events: int | None = None,
    allow_seed_overlap: bool = False,
    device: str = "cpu",
    progress: bool = False,
    met: str = "auto",
    closure: bool = True,
) -> dict[str, dict[str, Any]]:
    """Validate a model on hold-out pairs; write ``metrics.json``, ``provenance.json``,
    ``report.html`` and the PNG figures into ``output``.

    Arguments:
        model: bundle name, directory, model card or loaded model.
        holdout: pairs directories or NanoAOD/Delphes files never used in training.
        output: directory to write into (created).
        baseline: a bundle of the paper's baseline to show side by side.
        train_baseline_on: train that baseline here instead, on these pairs (an empty list: the
            training sources recorded in the model card); it is saved to ``output/baseline``.
        baseline_epochs: override the epochs of the baseline training.
        kinds: restrict to these kinds (default: every kind in both model and hold-out).
        seed: sampling seed of the learnt reco (the noise floor uses ``seed + 1``).
        auc_objects: truth objects per kind used by the two-sample AUC (half train, half score).
        noise_floor: also compare the model with itself (another seed): the figures' floor.
        max_events: use only the first ``max_events`` events (by event identity) of the hold-out.
        allow_seed_overlap: accept a hold-out generated with a training seed.
        device: torch device for sampling.
        progress: show progress bars (over kinds, and of the baseline training).
        met: NanoAOD reco MET collection (``"auto"``: ``MET``, else Run-3 ``PFMET``; or e.g.
            ``PuppiMET``).

        closure: also run the analysis closure (:mod:`mlsmear.validation.closure`) when jets,
            electrons, muons and MET are validated together (key ``closure``).

    Returns:
        The metrics by kind, as written to ``metrics.json``.
    """
    if baseline is not None and train_baseline_on is not None:
        raise ValueError("give either a baseline bundle or data to train one on, not both")
    bundle, sources, output = _bundle(model), _sources(holdout), Path(output)
    tables = _read(sources, met)
    kinds = _select_kinds(bundle, tables, kinds)
    provenance = holdout_provenance(sources, bundle, kinds, allow_seed_overlap=allow_seed_overlap)
    events = _first_events(tables, max_events)  # every kind's events: counts include zeros
    output.mkdir(parents=True, exist_ok=True)
    baseline_bundle: Bundle | None
    if train_baseline_on is not None:
        baseline_bundle = _train_baseline(
            train_baseline_on, bundle, kinds, output, epochs=baseline_epochs, progress=progress
        )
    else:
        baseline_bundle = None if baseline is None else _bundle(baseline)
    metrics, figures = {}, {}
    truth_samples, learnt = _event_samples(bundle, tables, kinds, events, seed, device)
    empty = [k for k in kinds if len(truth_samples[k]) == 0]
    if empty == kinds:
        raise ValueError(f"the hold-out has no objects of the kinds {empty} in its {events.size} "
                         "events: nothing to validate")
    for kind in empty:  # e.g. jets in Z->nunu: the other kinds are still validated
        warnings.warn(f"the hold-out has no {kind} objects in its {events.size} events: {kind} "
                      "not validated", stacklevel=2)
    kinds = [k for k in kinds if k not in empty]
    for kind in tqdm(kinds, desc="validate", unit="kind", disable=not progress):
        sample = truth_samples[kind]
        samples = {MODEL_LABEL: learnt[kind]}
        if baseline_bundle is not None and kind in baseline_bundle:
            samples[BASELINE_LABEL] = learnt_reco(baseline_bundle[kind], sample, seed,
                                                  device=device)
        metrics[kind], figures[kind] = _validate_kind(
            sample, samples, events, output, bundle=bundle, seed=seed, device=device,
            auc_objects=auc_objects, noise_floor=noise_floor, title=_title(kind, provenance),
        )
    if closure and set(kinds) >= {"jet", "electron", "muon", "met"}:
        metrics["closure"], figures["closure"] = _closure(
            truth_samples, learnt, tables, events, output, title=_title("events", provenance),
            joining=_photons_of_lost_electrons(bundle, truth_samples, learnt, seed, device),
        )
    elif closure and {"electron", "muon"} & set(kinds):
        # no event selections without all four kinds (a lepton gun), but its leptons' efficiency
        # per truth-pT bin: 10⁵ gun leptons make a 0.01 difference decisive
        leptons: dict[str, KindSample] = {
            k: truth_samples[k] for k in ("electron", "muon") if k in kinds
        }
        metrics["closure"] = {"selections": {}, "objects": object_checks(leptons, learnt)}
    metrics = _jsonable(metrics)
    (output / "metrics.json").write_text(json.dumps(metrics, indent=1, ensure_ascii=False) + "\n")
    info = {
        "model": bundle.name, "holdout": [str(s) for s in sources],
        "sampling seed": seed, "AUC objects per kind": auc_objects, "events": int(events.size),
        "baseline": (
            "trained here (saved in baseline/)" if train_baseline_on is not None
            else getattr(baseline_bundle, "name", "none")
        ),
    }
    record = _jsonable({"info": info, "selection": SELECTION, **provenance})
    (output / "provenance.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    write_html(output / "report.html", metrics, figures, provenance, info)
    return metrics


def _event_samples(
    bundle: Bundle, tables: Mapping[str, pa.Table], kinds: Sequence[str], events: np.ndarray,
    seed: int, device: str,
) -> tuple[dict[str, KindSample], dict[str, Reco]]:
    """Hold-out rows and learnt reco of ``kinds`` in :data:`~mlsmear.context.SMEAR_ORDER` (a
    model with object context gets the claims or recoil of the learnt objects it follows, which
    are sampled for that if needed). The photons from electrons are those of the electrons the
    *teacher* lost (the model's conditional, as trained); :func:`_photons_of_lost_electrons`
    gives those of the learnt chain."""
    wanted = needed_kinds(bundle, kinds)
    lacking = [k for k in wanted if k not in tables]
    if lacking:
        raise ValueError(f"the models follow the sampled {lacking}: the hold-out lacks those pairs")
    holdout: dict[str, KindSample] = {}
    learnt: dict[str, Reco] = {}
    for kind in wanted:
        table = tables[kind]
        table = table.filter(pc.is_in(table.column("event"), value_set=pa.array(events)))
        sample = holdout_sample(kind, table, bundle[kind].thresholds)
        if context_fields(bundle[kind]):
            if kind == "met":
                recoil = learnt_recoil(sample.event, holdout, learnt)
                context = dict(zip(RECOIL_FIELDS, recoil, strict=True))
            else:
                context = learnt_claims(sample, holdout, learnt)
            sample = KindSample(kind, sample.event, {**sample.truth, **context}, sample.reference)
        holdout[kind] = sample
        learnt[kind] = learnt_reco(bundle[kind], sample, seed, device=device)
    return holdout, learnt


def _photons_of_lost_electrons(
    bundle: Bundle, holdout: Mapping[str, KindSample], learnt: Mapping[str, Reco], seed: int,
    device: str,
) -> dict[str, list[tuple[KindSample, Reco]]]:
    """The learnt photons of the electrons the *learnt* electron model lost (every hold-out
    electron sampled with the ``photon_from_electron`` model, those reconstructed as electrons
    dropped), as objects joining the learnt photons; none without that model."""
    if PHOTON_FROM_ELECTRON not in bundle or "electron" not in learnt:
        return {}
    electrons = holdout["electron"]
    photons = learnt_reco(bundle[PHOTON_FROM_ELECTRON], electrons, seed, device=device)
    lost = photons.reconstructed & ~learnt["electron"].reconstructed
    values = {q: np.where(lost, v, np.nan) for q, v in photons.values.items()}
    values["charge"] = np.zeros(lost.size)  # photons, not the electrons' charge
    return {"photon": [(electrons, Reco(lost, values))]}


def _closure(
    holdout: Mapping[str, KindSample], learnt: Mapping[str, Reco],
    tables: Mapping[str, pa.Table], events: np.ndarray, output: Path, *, title: str,
    joining: Mapping[str, list[tuple[KindSample, Reco]]],
) -> tuple[dict[str, Any], list[Path]]:
    """Analysis-closure yields (``metrics.json`` key ``closure``) and figures (``joining``:
    learnt objects that join a kind's collection, :func:`_photons_of_lost_electrons`)."""
    reco_only = {}
    for kind, name in RECO_ONLY.items():
        if name in tables:
            reco_only[kind] = {c: tables[name].column(c).to_numpy(zero_copy_only=False)
                               for c in tables[name].column_names}
    teacher = {k: s.reference for k, s in holdout.items()}
    obs_t = observables(event_reco(events, holdout, teacher, reco_only))
    obs_l = observables(event_reco(events, holdout, learnt, joining=joining))
    result: dict[str, Any] = {"selections": closure_metrics(obs_t, obs_l)}
    result["reco_only_fraction"] = reco_only_fractions(holdout, tables, events)
    result["objects"] = object_checks(holdout, learnt)
    paths = []
    with style():
        for stem, figure in closure_figures(obs_t, obs_l, title).items():
            path = output / f"{stem}.png"
            figure.savefig(path, dpi=90)
            paths.append(path)
    return result, paths


def _train_baseline(
    sources: Sequence[Source], bundle: Bundle, kinds: Sequence[str], output: Path, *,
    epochs: int | None, progress: bool,
) -> Bundle:
    """Train the paper's baseline on ``sources`` (default: the model card's training data) and
    save it to ``output/baseline``."""
    sources = list(sources) or training_sources(bundle[kinds[0]])
    if not sources:
        raise ValueError("the model card records no training sources: name the pairs")
    trained = train_baseline(_read(sources), bundle, kinds, epochs=epochs, progress=progress)
    trained.save(output / "baseline")
    return trained


def _title(kind: str, provenance: Mapping[str, Any]) -> str:
    processes = sorted({str(h.get("process")) for h in provenance["holdout"] if h.get("process")})
    return f"mlsmear validation · {kind} · hold-out: {', '.join(processes) or 'unknown process'}"


def _validate_kind(
    sample: KindSample,
    samples: Mapping[str, Reco],
    events: np.ndarray,
    output: Path,
    *,
    bundle: Bundle,
    seed: int,
    device: str,
    auc_objects: int,
    noise_floor: bool,
    title: str,
) -> tuple[dict[str, Any], list[Path]]:
    """Metrics and figures of one kind (``samples``: label → learnt reco, model first)."""
    axes = make_axes(sample, events)
    reference = (sample.reference, observe(sample, sample.reference, axes, events))
    observed: dict[str, tuple[Reco, Observables]] = {
        label: (reco, observe(sample, reco, axes, events)) for label, reco in samples.items()
    }
    model = observed[MODEL_LABEL]
    metrics = compare(sample, model, reference, axes, auc_objects=auc_objects, seed=seed)
    if noise_floor:
        again = learnt_reco(bundle[sample.kind], sample, seed + 1, device=device)
        floor = compare(sample, (again, observe(sample, again, axes, events)), model, axes,
                        auc_objects=auc_objects, seed=seed)
        metrics["noise_floor"] = floor
    if BASELINE_LABEL in observed:
        metrics["baseline"] = compare(sample, observed[BASELINE_LABEL], reference, axes,
                                      auc_objects=auc_objects, seed=seed)
    paths = []
    with style():
        others = {label: obs for label, (_, obs) in observed.items()}
        for stem, figure in kind_figures(sample.kind, axes, reference[1], others, title).items():
            path = output / f"{stem}.png"
            figure.savefig(path, dpi=90)
            paths.append(path)
    return metrics, paths
