"""Per-kind metrics of a learnt reco set against the reference reco, and the issue's bars.

:func:`compare` turns two filled :class:`~mlsmear.validation.observables.Observables` (and the
unbinned reco for the AUC and Wasserstein distances) into the ``metrics.json`` entry of a kind:

=====================  ==========================================================================
key                    definition (see :mod:`mlsmear.validation.metrics` for the formulas)
=====================  ==========================================================================
``auc``                classifier two-sample AUC, features: truth inputs (not those that carry other
                       objects' sampled reco), reco quantities and their residuals (NaN when not
                       reconstructed), paired by truth object and split by event into a training
                       and a scoring half
``worst_bin_dev``      largest ``|learnt/reference − 1|`` over the bins of every reco distribution
                       (and objects per event) whose ratio uncertainty is < 2 %
``paper_bin_dev``      the same over bins with ratio uncertainty < 10 %: the paper's comparison
                       (arXiv:2002.11516 reached 15 % on Delphes), shown next to it
``max_eff_diff``       largest ``|Δε|`` over truth-pT and truth-η bins with ``σ(Δε)`` < 0.004;
                       ε = fraction of truth objects reconstructed and passing the model's
                       reco thresholds (0 for MET, always reconstructed)
``max_res_rel_diff``   largest ``|σ_learnt/σ_ref − 1|`` of the pT resolution over (|η| slice,
                       truth-pT bin) and the paper's |η| < 0.4 / > 0.8 regions, bins with σ < 2 %
                       (resolution = robust width of reco/truth pT; MET: of reco − truth, in HT
                       bins); ``eta_test_rel_diff``: the same over the paper's two regions only
``max_corr_diff``      largest ``|Δρ|`` of the residuals' rank correlations over quantity pairs
``pt_corr_diff``       the same over the pT–m and pT–η pairs only (objects; the jet bar)
``w1``                 Wasserstein-1 per reco quantity (its units: GeV for pT and mass)
``tail250_ratio``      MET only: ``N_learnt(MET > 250 GeV) / N_ref(MET > 250 GeV)``
=====================  ==========================================================================

Also recorded: ``bin_dev`` and ``chi2_ndf`` per distribution, ``corr`` (both correlations per
quantity pair), ``auc_rows`` (training and scoring rows), ``objects``, ``reconstructed``
(learnt, reference) and ``pass`` (bar key → passed; None: not decisive, see below).

Each figure ``x`` comes with ``x_unc`` (its statistical uncertainty) and, for the max-over-bins
figures, ``x_where`` (the bin) and ``x_bins`` (bins used / bins in total). The uncertainty cuts are
``bar / 2.5`` (2 % for the 5 % bars, as the issue asks; 0.004 for the 0.01 efficiency bar), and
the same rule decides whether a figure can pass or fail its bar at all (``pass`` is None
otherwise: e.g. a MET tail with too few events above 250 GeV).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import residuals
from ..context import SAMPLED_FIELDS
from ..kinds import kind_spec
from .metrics import (
    TooFewRows,
    Worst,
    chi2_ndf,
    efficiency_difference,
    ratio,
    relative_difference,
    tail_yield_ratio,
    two_sample_auc,
    wasserstein1,
    worst,
)
from .observables import MET_TAIL_CUT, PAPER_REGIONS, Axes, Observables
from .sampling import KindSample, Reco

__all__ = ["Bar", "BARS", "DECISIVE", "SELECTION", "compare", "check_bars"]

#: A figure decides a bar only if its statistical uncertainty is below this fraction of the bar.
DECISIVE = 1 / 2.5
#: Uncertainty cut of the bins entering each max-over-bins figure (DECISIVE × the bar).
SELECTION = {"worst_bin_dev": 0.02, "max_eff_diff": 0.004, "max_res_rel_diff": 0.02}
#: The paper's per-bin comparison: bins with a statistical uncertainty < 10 %; it reached 15 %.
PAPER_BIN_SELECTION, PAPER_BIN_DEV = 0.10, 0.15
_OBJECT_KINDS = ("jet", "electron", "muon", "photon")


@dataclass(frozen=True)
class Bar:
    """A pass/fail requirement on one metric.

    Arguments:
        key: metric key in the kind's entry.
        limit: largest allowed value (of ``|value − 1|`` when ``around_one``).
        kinds: kinds the bar applies to.
        text: the requirement in words.
        around_one: the metric is a ratio whose deviation from 1 is judged.
    """

    key: str
    limit: float
    kinds: tuple[str, ...]
    text: str
    around_one: bool = False

    def deviation(self, metrics: Mapping[str, Any]) -> float | None:
        """The judged value (None when the metric could not be computed)."""
        value = metrics.get(self.key)
        if value is None or not np.isfinite(value):
            return None
        return abs(value - 1.0) if self.around_one else float(value)


#: The issue's requirements.
BARS = (
    Bar("auc", 0.55, ("jet",), "two-sample AUC ≤ 0.55 (aim 0.52)"),
    Bar("worst_bin_dev", 0.05, ("jet",), "every bin with σ < 2 % within 5 %"),
    Bar("max_eff_diff", 0.01, _OBJECT_KINDS, "efficiency within 0.01"),
    Bar("max_res_rel_diff", 0.05, _OBJECT_KINDS, "resolution within 5 % in every η slice"),
    Bar("pt_corr_diff", 0.03, ("jet",), "pT–m and pT–η residual correlations within 0.03"),
    Bar("tail250_ratio", 0.05, ("met",), "MET > 250 GeV yield within 5 %", around_one=True),
)


def check_bars(kind: str, metrics: Mapping[str, Any]) -> dict[str, bool | None]:
    """Bar key → passed; None when the figure is missing or not decisive: no bin qualified, or
    its statistical uncertainty ``{key}_unc`` exceeds :data:`DECISIVE` × the bar."""
    out: dict[str, bool | None] = {}
    for bar in BARS:
        if kind in bar.kinds:
            value, unc = bar.deviation(metrics), metrics.get(f"{bar.key}_unc")
            decisive = unc is None or (np.isfinite(unc) and unc < DECISIVE * bar.limit)
            out[bar.key] = None if value is None or not decisive else bool(value <= bar.limit)
    return out


def _intervals(edges: np.ndarray, unit: str = "") -> list[str]:
    """``[lo, hi)`` label of each bin."""
    return [f"[{lo:.3g}, {hi:.3g}){unit}" for lo, hi in itertools.pairwise(edges)]


def _worst_entry(
    key: str,
    deviation: np.ndarray,
    unc: np.ndarray,
    labels: list[str],
    max_unc: float | None = None,
) -> dict[str, Any]:
    w = worst(deviation, unc, max_unc=SELECTION[key] if max_unc is None else max_unc)
    return {
        key: w.value,
        f"{key}_unc": w.unc,
        f"{key}_where": labels[w.index] if w.index >= 0 else None,
        f"{key}_bins": [w.used, w.total],
    }


def _distribution_metrics(test: Observables, ref: Observables) -> dict[str, Any]:
    deviations, uncs, labels, per_quantity, chi2 = [], [], [], {}, {}
    for name, h_ref in ref.distributions.items():
        a, b = test.distributions[name].values(), h_ref.values()
        r, unc = ratio(a, b)
        edges = h_ref.axes[0].edges
        deviations.append(r - 1.0)
        uncs.append(unc)
        labels += [f"{name} {b}" for b in _intervals(edges)]
        per_quantity[name] = worst(r - 1.0, unc, max_unc=SELECTION["worst_bin_dev"]).value
        chi2[name] = chi2_ndf(a, b)
    deviation, unc = np.concatenate(deviations), np.concatenate(uncs)
    entry = _worst_entry("worst_bin_dev", deviation, unc, labels)
    paper = _worst_entry("paper_bin_dev", deviation, unc, labels, max_unc=PAPER_BIN_SELECTION)
    return {**entry, **paper, "bin_dev": per_quantity, "chi2_ndf": chi2}


def _efficiency_metrics(test: Observables, ref: Observables) -> dict[str, Any]:
    diffs, uncs, labels = [np.zeros(0)], [np.zeros(0)], []
    for variable, total in ref.total.items():
        k_test, k_ref, n = (
            test.passed[variable].values(), ref.passed[variable].values(), total.values()
        )
        d, u = efficiency_difference(k_test, k_ref, n)
        # both detectors reconstruct none (beyond the truth acceptance) or all of the bin: its
        # tiny uncertainty is the pseudo-count's, not a measurement at the bar; left out (a
        # figure from such bins alone read "0.0000, PASS" for every lepton model)
        u[(k_test == k_ref) & ((k_ref == 0) | (k_ref == n))] = np.nan
        edges = total.axes[0].edges
        diffs.append(d)
        uncs.append(u)
        labels += [f"truth {variable} {b}" for b in _intervals(edges)]
    if not labels:  # MET: always reconstructed
        return {"max_eff_diff": 0.0, "max_eff_diff_unc": 0.0}
    return _worst_entry("max_eff_diff", np.concatenate(diffs), np.concatenate(uncs), labels)


def _resolution_metrics(test: Observables, ref: Observables, axes: Axes) -> dict[str, Any]:
    bins = [f"truth {axes.resolution_variable} {b}" for b in _intervals(axes.resolution, " GeV")]
    d, u = relative_difference(test.widths, test.width_uncs, ref.widths, ref.width_uncs)
    if not ref.regions:  # MET: a single slice
        return _worst_entry("max_res_rel_diff", d.ravel(), u.ravel(), bins)
    labels = [f"|η| {e}, {b}" for e in _intervals(axes.eta_slices) for b in bins]
    region_d, region_u, region_labels = [], [], []
    for region in PAPER_REGIONS:
        rd, ru = relative_difference(*test.regions[region][:2], *ref.regions[region][:2])
        region_d.append(rd)
        region_u.append(ru)
        region_labels += [f"{region}, {b}" for b in bins]
    eta_test = _worst_entry(
        "max_res_rel_diff", np.concatenate(region_d), np.concatenate(region_u), region_labels
    )
    entry = _worst_entry(
        "max_res_rel_diff", np.concatenate([d.ravel(), *region_d]),
        np.concatenate([u.ravel(), *region_u]), labels + region_labels,
    )
    entry["eta_test_rel_diff"] = eta_test["max_res_rel_diff"]
    entry["eta_test_rel_diff_unc"] = eta_test["max_res_rel_diff_unc"]
    return entry


def _correlation_metrics(kind: str, test: Observables, ref: Observables) -> dict[str, Any]:
    quantities = kind_spec(kind).quantities
    pairs = {}
    for i in range(len(quantities)):
        for j in range(i + 1, len(quantities)):
            pairs[f"{quantities[i]}-{quantities[j]}"] = {
                "reference": float(ref.correlation[i, j]),
                "learnt": float(test.correlation[i, j]),
                "diff": float(test.correlation[i, j] - ref.correlation[i, j]),
                "unc": float(np.hypot(test.correlation_unc[i, j], ref.correlation_unc[i, j])),
            }
    def largest(names: list[str]) -> Worst:
        diffs = np.array([pairs[n]["diff"] for n in names])
        return worst(diffs, np.array([pairs[n]["unc"] for n in names]), max_unc=np.inf)

    w = largest(list(pairs))
    entry = {"max_corr_diff": w.value, "max_corr_diff_unc": w.unc, "corr": pairs}
    named: list[str] = [n for n in ("pt-mass", "pt-eta") if n in pairs]
    if named:  # objects: the pairs the jet bar names
        w = largest(named)
        entry.update(pt_corr_diff=w.value, pt_corr_diff_unc=w.unc)
    return entry


def _auc_features(sample: KindSample, reco: Reco, rows: np.ndarray) -> np.ndarray:
    """Truth columns, reco quantities and residuals (NaN when not reconstructed) of ``rows``.

    Fields that carry other objects' sampled reco (:data:`mlsmear.context.SAMPLED_FIELDS`: the
    learnt objects', the same for both reco sets) are left out: the teacher's reco follows the
    teacher's objects, so with them the classifier would see that only the learnt reco follows
    those fields, however good the model."""
    spec, truth = kind_spec(sample.kind), {k: v[rows] for k, v in sample.truth.items()}
    columns = [truth[name] for name in sorted(truth) if name not in SAMPLED_FIELDS]
    for q, kind_r in zip(spec.quantities, spec.residuals, strict=True):
        values = reco.values[q][rows]
        columns.append(values)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns.append(residuals.residual(kind_r, truth[q], values, truth["pt"]))
    return np.stack(columns, axis=1)


def compare(
    sample: KindSample,
    test: tuple[Reco, Observables],
    reference: tuple[Reco, Observables],
    axes: Axes,
    *,
    auc_objects: int = 200_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of ``test`` (learnt reco and its observables) against ``reference``.

    Arguments:
        sample: the hold-out rows both reco sets belong to.
        test, reference: ``(reco, observables)`` pairs filled into ``axes``.
        auc_objects: truth objects (each giving one row per sample) used by the AUC; half train
            the classifier, half score it.
        seed: seeds the AUC's subsample, split and classifier.
    """
    kind = sample.kind
    (reco_t, obs_t), (reco_r, obs_r) = test, reference
    rows = np.sort(np.random.default_rng(seed).permutation(len(sample))[:auc_objects])
    try:
        auc = two_sample_auc(
            _auc_features(sample, reco_t, rows), _auc_features(sample, reco_r, rows),
            groups=sample.event[rows], max_rows=rows.size, seed=seed,
        )
        auc_entry = {"auc": auc.value, "auc_unc": auc.unc, "auc_rows": [auc.n_train, auc.n_test]}
    except TooFewRows:  # e.g. electrons in Z→νν: reported as n/a, the other metrics still count
        auc_entry = {"auc": None, "auc_unc": None, "auc_rows": [0, 0]}
    metrics: dict[str, Any] = {
        **auc_entry,
        **_distribution_metrics(obs_t, obs_r),
        **_efficiency_metrics(obs_t, obs_r),
        **_resolution_metrics(obs_t, obs_r, axes),
        **_correlation_metrics(kind, obs_t, obs_r),
        "w1": {
            q: wasserstein1(reco_t.values[q][reco_t.reconstructed],
                            reco_r.values[q][reco_r.reconstructed])
            for q in kind_spec(kind).quantities
        },
        "objects": len(sample),
        "reconstructed": [int(reco_t.reconstructed.sum()), int(reco_r.reconstructed.sum())],
    }
    if kind_spec(kind).per_event:
        r, unc, n_t, n_r = tail_yield_ratio(reco_t.values["pt"], reco_r.values["pt"], MET_TAIL_CUT)
        metrics.update(tail250_ratio=r, tail250_ratio_unc=unc, tail250_counts=[n_t, n_r])
    metrics["pass"] = check_bars(kind, metrics)
    return metrics
