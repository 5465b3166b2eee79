"""Analysis closure: the same events through the teacher and the learnt detector, the same cuts.

From a hold-out pairs directory, each event's teacher reco is rebuilt (the matched reco of every
truth object plus the reco objects without a truth partner, ``<kind>_reco_only``) and so is its
learnt reco (every truth object smeared by the bundle, MET from the sampled objects). Both go
through the same selections (:data:`SELECTIONS`) and histograms (:data:`DISTRIBUTIONS`). The events
are shared, so a yield ratio is far more precise than between independent samples: with ``a``
events passing only for the teacher and ``b`` only for the learnt detector, the ratio's
uncertainty is √(a + b) / N_teacher (paired counting; the events passing both cancel).

Objects (GeV): jets pT > 30, |η| < 2.5; b-tagged: tag value ≥ 0.5 (the teacher's decision or
its discriminant's working point); leptons (e, μ) pT > 25, |η| < 2.5; photons pT > 25, |η| < 2.5.
HT = Σ jet pT; Δφmin = min Δφ(jet, MET) over the four leading jets (π without jets); M3 = mass
of the three-jet combination of largest vector pT (≥ 3 jets); m_ll of the two leading leptons
of the same flavour and opposite charge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import awkward as ak
import numpy as np
import pyarrow as pa
import vector

from ..event_pairs import claims_by_event, recoil_by_event
from ..jet_context import CLAIMING_KINDS
from ..met_context import ObjectTerms
from ..pairs import RECO_ONLY
from .sampling import KindSample, Reco

__all__ = [
    "BTAG_CUT", "CLOSURE_BAR", "CLOSURE_MIN_EVENTS", "DISTRIBUTIONS", "SELECTIONS",
    "EventReco", "closure_metrics", "event_reco", "learnt_claims", "learnt_recoil",
    "object_checks",
    "observables", "reco_only_fractions",
]

vector.register_awkward()

JET_PT, JET_ETA, LEPTON_PT, LEPTON_ETA, PHOTON_PT = 30.0, 2.5, 25.0, 2.5, 25.0
#: A jet counts as b-tagged when its tag value is at least this.
BTAG_CUT = 0.5
#: Closure bar on a yield ratio, judged where the teacher has at least CLOSURE_MIN_EVENTS events.
CLOSURE_BAR, CLOSURE_MIN_EVENTS = 0.05, 300
Z_MASS, Z_WINDOW = 91.19, 10.0


@dataclass(frozen=True)
class EventReco:
    """One detector's reco of the hold-out events: jagged collections by kind and MET."""

    jets: ak.Array
    electrons: ak.Array
    muons: ak.Array
    photons: ak.Array
    met: ak.Array


def _jagged(n_events: int, event_row: np.ndarray, fields: Mapping[str, np.ndarray]) -> ak.Array:
    order = np.argsort(event_row, kind="stable")
    counts = np.bincount(event_row, minlength=n_events)
    record = ak.zip({k: np.asarray(v)[order] for k, v in fields.items()}, with_name="Momentum4D")
    return ak.unflatten(record, counts)


def _objects(
    events: np.ndarray,
    pieces: Sequence[tuple[KindSample, Reco]],
    reco_only: Mapping[str, np.ndarray] | None,
) -> ak.Array:
    """The reconstructed objects of one kind, per event (pt-ordered), from the reco of truth
    rows (``pieces``: the kind's own, and those of models whose objects join it)."""
    rows: list[np.ndarray] = []
    fields: dict[str, list[np.ndarray]] = {
        "pt": [], "eta": [], "phi": [], "mass": [], "btag": [], "charge": []
    }
    for sample, reco in pieces:
        keep = reco.reconstructed
        rows.append(np.searchsorted(events, sample.event[keep]))
        for name in ("pt", "eta", "phi"):
            fields[name].append(reco.values[name][keep])
        fields["mass"].append(reco.values.get("mass", np.zeros(keep.size))[keep])
        fields["btag"].append(reco.values.get("btag", np.zeros(keep.size))[keep])
        charge = reco.values.get("charge", sample.truth.get("charge", np.zeros(keep.size)))
        fields["charge"].append(np.asarray(charge)[keep])
    if reco_only:
        n = reco_only["reco_pt"].size
        present = np.isin(reco_only["event"], events)
        rows.append(np.searchsorted(events, reco_only["event"][present]))
        for name in ("pt", "eta", "phi", "mass", "btag", "charge"):
            values = reco_only.get(f"reco_{name}", np.zeros(n))
            fields[name].append(np.asarray(values, dtype=np.float64)[present])
    if not rows:
        return _jagged(events.size, np.zeros(0, np.int64), {k: np.zeros(0) for k in fields})
    columns = {k: np.concatenate(v).astype(np.float64) for k, v in fields.items()}
    objects = _jagged(events.size, np.concatenate(rows), columns)
    return objects[ak.argsort(objects.pt, axis=1, ascending=False)]


def event_reco(
    events: np.ndarray,
    samples: Mapping[str, KindSample],
    recos: Mapping[str, Reco],
    reco_only: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    *,
    joining: Mapping[str, Sequence[tuple[KindSample, Reco]]] | None = None,
) -> EventReco:
    """Per-event reco collections of one detector.

    Arguments:
        events: sorted unique event identities of the hold-out.
        samples: the hold-out rows by kind (``met`` one row per event).
        recos: that detector's reco of every row, by kind.
        reco_only: the teacher's reco objects without a truth partner by kind (columns
            ``event``, ``reco_pt`` …), none for the learnt detector.
        joining: by kind, more (rows, reco) whose objects join that kind's collection (the
            learnt photons of lost electrons).
    """
    reco_only, joining = reco_only or {}, joining or {}
    kinds = {}
    for kind in ("jet", "electron", "muon", "photon"):
        own = [(samples[kind], recos[kind])] if kind in samples and kind in recos else []
        kinds[kind] = _objects(events, [*own, *joining.get(kind, ())], reco_only.get(kind))
    met_pt, met_phi = np.zeros(events.size), np.zeros(events.size)
    if "met" in samples and "met" in recos:
        rows = np.searchsorted(events, samples["met"].event)
        met_pt[rows] = recos["met"].values["pt"]
        met_phi[rows] = recos["met"].values["phi"]
    met = ak.zip({"pt": met_pt, "phi": met_phi}, with_name="Momentum2D")
    return EventReco(kinds["jet"], kinds["electron"], kinds["muon"], kinds["photon"], met)


def _learnt_terms(
    samples: Mapping[str, KindSample], recos: Mapping[str, Reco], kinds: tuple[str, ...]
) -> dict[str, ObjectTerms]:
    """The learnt objects of ``kinds`` (``event`` = identities; jets: calorimeter share
    1 − ``muon_frac`` when the truth has it)."""
    objects = {}
    for kind in kinds:
        if kind not in samples or kind not in recos:
            continue
        sample, reco = samples[kind], recos[kind]
        calo = None
        if kind == "jet" and "muon_frac" in sample.truth:
            calo = 1.0 - sample.truth["muon_frac"]
        objects[kind] = ObjectTerms(
            sample.event, sample.truth["pt"], sample.truth["eta"], sample.truth["phi"],
            reco.values["pt"], reco.values["phi"], reco.reconstructed, calo,
        )
    return objects


def learnt_recoil(
    met_events: np.ndarray, samples: Mapping[str, KindSample], recos: Mapping[str, Reco]
) -> tuple[np.ndarray, np.ndarray]:
    """``(dmet_px, dmet_py)`` (GeV) of each MET row from the learnt jets and muons
    (:func:`mlsmear.event_pairs.recoil_by_event`), aligned with ``met_events``."""
    return recoil_by_event(met_events, _learnt_terms(samples, recos, ("jet", "muon")))


def learnt_claims(
    jets: KindSample, samples: Mapping[str, KindSample], recos: Mapping[str, Reco]
) -> dict[str, np.ndarray]:
    """``claimed_em`` and ``claimed_muon`` of each hold-out jet row from the learnt electrons,
    muons and photons (:func:`mlsmear.event_pairs.claims_by_event`)."""
    return claims_by_event(
        jets.event, jets.truth["pt"], jets.truth["eta"], jets.truth["phi"],
        _learnt_terms(samples, recos, CLAIMING_KINDS),
    )


#: Truth-pT bins (GeV) of the per-flavour b-tag efficiency check, and of the close-by jets.
TAG_PT_BINS = (30.0, 50.0, 80.0, 120.0, 200.0, 400.0, np.inf)
CLOSE_BY_DR, CLOSE_BY_PT_BINS, CLOSE_BY_RECO_PT = 0.5, ((20.0, 40.0), (40.0, 100.0)), 25.0
#: Bars of the object checks: b-tag efficiency per flavour, close-by jets, lepton efficiency.
TAG_BARS = {5: 0.01, 4: 0.01, 0: 0.002}
CLOSE_BY_BAR, LEPTON_BAR = 0.02, 0.01
#: Both leptons of a pair kept: a 0.01 efficiency difference per lepton is about 0.02 on the pair.
PAIR_BAR = 2 * LEPTON_BAR


def _rate_row(
    teacher: tuple[np.ndarray, np.ndarray], learnt: tuple[np.ndarray, np.ndarray],
    truth_bin: np.ndarray, bar: float,
) -> dict[str, float | int | bool | None]:
    """Each detector's rate in a truth bin: per detector ``(counted, flagged)`` masks over the
    truth objects (e.g. its reconstructed jets, and those it tagged). The difference's σ comes
    from both binomial counts, each rate taken as (k + 1) / (n + 2) there so that a rate of 0 or 1
    on a few objects is not read as exact; judged (pass) only when σ < 0.4 × the bar."""
    (t_in, t_flag), (l_in, l_flag) = teacher, learnt
    n_t, n_l = int((t_in & truth_bin).sum()), int((l_in & truth_bin).sum())
    if not n_t or not n_l:
        return {"objects": n_t, "teacher": None, "learnt": None, "diff": None, "sigma": None,
                "pass": None}
    k_t, k_l = int((t_flag & truth_bin).sum()), int((l_flag & truth_bin).sum())
    t, lt = k_t / n_t, k_l / n_l
    t_s, l_s = (k_t + 1) / (n_t + 2), (k_l + 1) / (n_l + 2)
    sigma = float(np.sqrt(t_s * (1 - t_s) / n_t + l_s * (1 - l_s) / n_l))
    return {"objects": n_t, "teacher": float(t), "learnt": float(lt), "diff": float(lt - t),
            "sigma": sigma, "pass": bool(abs(lt - t) <= bar) if sigma < 0.4 * bar else None}


def object_checks(
    samples: Mapping[str, KindSample], learnt: Mapping[str, Reco]
) -> dict[str, dict[str, dict]]:
    """Per-object figures that analyses lean on, teacher vs learnt on the same truth objects:
    the b-tag efficiency of reco jets (pT > 30 GeV, |η| < 2.5) per hadron flavour in truth-pT
    bins; the efficiency (reco pT > 25 GeV) of truth jets with a truth neighbour within ΔR 0.5;
    the efficiency of prompt isolated (``jet_iso`` < 0.05) electrons and muons, |η| < 2.5, in
    truth pT 10–25 and > 25 GeV; in the events with exactly two truth electrons (muons) of
    pT > 25 GeV, |η| < 2.5 (a Z → ℓℓ), the fraction with both reconstructed
    (:func:`_both_of_two`)."""
    out: dict[str, dict[str, dict]] = {}
    jets = samples.get("jet")
    if jets is not None and "jet" in learnt:
        ref, mod = jets.reference, learnt["jet"]
        pt, eta = jets.truth["pt"], np.abs(jets.truth["eta"])
        if "btag" in ref.values and "btag" in mod.values and "hadronFlavour" in jets.truth:
            flavour = jets.truth["hadronFlavour"]
            cut = {}
            for name, reco in (("teacher", ref), ("learnt", mod)):
                inside = reco.reconstructed & _analysis_cuts(
                    "jet", reco.values["pt"], reco.values["eta"]
                )
                cut[name] = (inside, inside & (np.nan_to_num(reco.values["btag"]) >= BTAG_CUT))
            for f, bar in TAG_BARS.items():
                rows = {}
                for lo, hi in zip(TAG_PT_BINS[:-1], TAG_PT_BINS[1:], strict=True):
                    truth_bin = (flavour == f) & (pt >= lo) & (pt < hi)
                    rows[f"pt{lo:g}-{hi:g}"] = _rate_row(
                        cut["teacher"], cut["learnt"], truth_bin, bar
                    )
                out[f"btag_efficiency_flavour{f}"] = rows
        if "dr_nearest" in jets.truth:
            everyone = np.ones(pt.size, dtype=bool)  # the same truth jets for both detectors
            close = jets.truth["dr_nearest"] < CLOSE_BY_DR
            t_eff = ref.reconstructed & (np.nan_to_num(ref.values["pt"]) > CLOSE_BY_RECO_PT)
            l_eff = mod.reconstructed & (np.nan_to_num(mod.values["pt"]) > CLOSE_BY_RECO_PT)
            out["close_by_jets"] = {
                f"pt{lo:g}-{hi:g}": _rate_row(
                    (everyone, t_eff), (everyone, l_eff),
                    close & (pt >= lo) & (pt < hi) & (eta < 2.5), CLOSE_BY_BAR,
                )
                for lo, hi in CLOSE_BY_PT_BINS
            }
    for kind in ("electron", "muon"):
        sample = samples.get(kind)
        if sample is None or kind not in learnt or "jet_iso" not in sample.truth:
            continue
        pt, eta = sample.truth["pt"], np.abs(sample.truth["eta"])
        isolated = (sample.truth["jet_iso"] < 0.05) & (eta < 2.5)
        everyone = np.ones(pt.size, dtype=bool)
        out[f"{kind}_efficiency"] = {
            label: _rate_row(
                (everyone, sample.reference.reconstructed), (everyone, learnt[kind].reconstructed),
                isolated & (pt >= lo) & (pt < hi), LEPTON_BAR,
            )
            for label, lo, hi in (("pt10-25", 10.0, 25.0), ("pt25+", 25.0, np.inf))
        }
        out[f"{kind}_pairs_both_kept"] = {"pt25+": _both_of_two(sample, learnt[kind])}
    return out


def _both_of_two(sample: KindSample, learnt: Reco) -> dict[str, float | int | bool | None]:
    """Teacher vs learnt fraction of the events with exactly two truth objects of ``sample``
    in the lepton acceptance (pT > 25 GeV, |η| < 2.5) whose two objects are both reconstructed:
    what a dilepton selection needs beyond each lepton's efficiency (``objects``: events)."""
    accepted = (sample.truth["pt"] > LEPTON_PT) & (np.abs(sample.truth["eta"]) < LEPTON_ETA)
    events, row_event, counts = np.unique(
        sample.event[accepted], return_inverse=True, return_counts=True
    )
    two = counts == 2

    def both(reco: Reco) -> np.ndarray:
        kept = np.bincount(row_event, weights=reco.reconstructed[accepted], minlength=events.size)
        return kept[two] == 2

    everyone = np.ones(int(two.sum()), dtype=bool)
    return _rate_row((everyone, both(sample.reference)), (everyone, both(learnt)), everyone,
                     PAIR_BAR)


def _analysis_cuts(kind: str, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    minimum = JET_PT if kind == "jet" else LEPTON_PT if kind != "photon" else PHOTON_PT
    eta_max = JET_ETA if kind == "jet" else LEPTON_ETA
    with np.errstate(invalid="ignore"):
        return (pt > minimum) & (np.abs(eta) < eta_max)


def reco_only_fractions(
    samples: Mapping[str, KindSample], tables: Mapping[str, pa.Table], events: np.ndarray
) -> dict[str, dict[str, float | int | None]]:
    """Per kind: the teacher's reco objects above the analysis cuts, how many of them have no
    truth partner (``<kind>_reco_only`` rows), and their fraction."""
    out = {}
    for kind, name in RECO_ONLY.items():
        if kind not in samples or name not in tables:
            continue
        table = tables[name]
        present = np.isin(table.column("event").to_numpy(), events)
        pt, eta = (table.column(c).to_numpy(zero_copy_only=False)[present]
                   for c in ("reco_pt", "reco_eta"))
        n_only = int(_analysis_cuts(kind, pt, eta).sum())
        ref = samples[kind].reference
        n_matched = int(_analysis_cuts(kind, ref.values["pt"], ref.values["eta"]).sum())
        total = n_only + n_matched
        out[kind] = {"reco_objects": total, "reco_only": n_only,
                     "fraction": n_only / total if total else None}
    return out


def _selected(objects: ak.Array, pt: float, eta: float) -> ak.Array:
    return objects[(objects.pt > pt) & (np.abs(objects.eta) < eta)]


def observables(reco: EventReco) -> dict[str, np.ndarray]:
    """Per-event analysis observables (NaN where undefined) of one detector's reco."""
    jets = _selected(reco.jets, JET_PT, JET_ETA)
    leptons = {
        "e": _selected(reco.electrons, LEPTON_PT, LEPTON_ETA),
        "mu": _selected(reco.muons, LEPTON_PT, LEPTON_ETA),
    }
    photons = _selected(reco.photons, PHOTON_PT, LEPTON_ETA)
    n_events = len(jets)
    dphi = np.abs((jets.phi[:, :4] - reco.met.phi + np.pi) % (2 * np.pi) - np.pi)
    dphi_min = ak.to_numpy(ak.fill_none(ak.min(dphi, axis=1), np.pi))
    trijets = ak.combinations(jets, 3)
    p3 = trijets["0"] + trijets["1"] + trijets["2"]
    best = ak.argmax(p3.pt, axis=1, keepdims=True)
    m3 = ak.to_numpy(ak.fill_none(ak.firsts(p3.mass[best]), np.nan))
    mll = np.full(n_events, np.nan)
    for flavour in leptons.values():
        two = flavour[:, :2]
        pair = ak.num(two) == 2
        padded = ak.pad_none(two, 2)
        opposite = ak.fill_none(padded.charge[:, 0] * padded.charge[:, 1] < 0, False)
        mass = ak.to_numpy(ak.fill_none((padded[:, 0] + padded[:, 1]).mass, np.nan))
        ok = ak.to_numpy(pair & opposite) & np.isnan(mll)
        mll[ok] = mass[ok]
    return {
        "n_jets": ak.to_numpy(ak.num(jets)),
        "n_btags": ak.to_numpy(ak.sum(jets.btag >= BTAG_CUT, axis=1)),
        "ht": ak.to_numpy(ak.sum(jets.pt, axis=1)),
        "met": ak.to_numpy(reco.met.pt),
        "dphi_min": dphi_min,
        "m3": m3,
        "mll": mll,
        "lead_jet_pt": ak.to_numpy(ak.fill_none(ak.firsts(jets.pt), np.nan)),
        "n_leptons": ak.to_numpy(ak.num(leptons["e"]) + ak.num(leptons["mu"])),
        "n_photons": ak.to_numpy(ak.num(photons)),
    }


def _z(o: Mapping[str, np.ndarray]) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.abs(o["mll"] - Z_MASS) < Z_WINDOW


#: The standard selections: name → (description, per-event pass from the observables).
SELECTIONS: dict[str, tuple[str, Callable[[Mapping[str, np.ndarray]], np.ndarray]]] = {
    "1l_4j": ("one lepton, >= 4 jets", lambda o: (o["n_leptons"] == 1) & (o["n_jets"] >= 4)),
    "1l_4j_1b": ("one lepton, >= 4 jets, >= 1 b-tag",
                 lambda o: (o["n_leptons"] == 1) & (o["n_jets"] >= 4) & (o["n_btags"] >= 1)),
    "1l_4j_2b": ("one lepton, >= 4 jets, >= 2 b-tags",
                 lambda o: (o["n_leptons"] == 1) & (o["n_jets"] >= 4) & (o["n_btags"] >= 2)),
    "2l_z": ("two same-flavour opposite-charge leptons, |m_ll - 91| < 10 GeV", _z),
    "2l_z_1j": ("dilepton Z, >= 1 jet", lambda o: _z(o) & (o["n_jets"] >= 1)),
    "0l_ht800_met150": ("no lepton, HT > 800, MET > 150",
                        lambda o: (o["n_leptons"] == 0) & (o["ht"] > 800) & (o["met"] > 150)),
    "met100_dphi_lt03": ("MET > 100, dphi_min < 0.3",
                         lambda o: (o["met"] > 100) & (o["dphi_min"] < 0.3)),
    "met250_dphi_gt05": ("MET > 250, dphi_min > 0.5, >= 2 jets",
                         lambda o: (o["met"] > 250) & (o["dphi_min"] > 0.5) & (o["n_jets"] >= 2)),
    "6j_ht500": ("no lepton, >= 6 jets, HT > 500",
                 lambda o: (o["n_leptons"] == 0) & (o["n_jets"] >= 6) & (o["ht"] > 500)),
    "2j_ht1000": ("no lepton, >= 2 jets, HT > 1000",
                  lambda o: (o["n_leptons"] == 0) & (o["n_jets"] >= 2) & (o["ht"] > 1000)),
    "1g_1j": ("photon pT > 25, >= 1 jet", lambda o: (o["n_photons"] >= 1) & (o["n_jets"] >= 1)),
}

#: Distributions drawn for the closure: observable → (axis label, bin edges).
DISTRIBUTIONS: dict[str, tuple[str, np.ndarray]] = {
    "n_jets": ("jets per event\n(pT > 30 GeV, |η| < 2.5)", np.arange(-0.5, 12.5)),
    "n_btags": ("b-tagged jets per event\n(pT > 30 GeV, |η| < 2.5)", np.arange(-0.5, 5.5)),
    "ht": ("$H_T$ [GeV]\n(jets pT > 30 GeV, |η| < 2.5)", np.geomspace(30, 4000, 31)),
    "met": ("$E_T^{miss}$ [GeV]", np.geomspace(5, 1500, 31)),
    "dphi_min": ("Δφ$_{min}$(4 leading jets, $E_T^{miss}$)\n(events with $E_T^{miss}$ > 50 GeV)",
                 np.linspace(0, np.pi, 17)),
    "m3": ("M3 [GeV]\n(3 jets of largest vector pT, ≥ 3 jets)", np.linspace(0, 600, 31)),
    "mll": ("$m_{ll}$ [GeV] (pT > 25 GeV)\n(same flavour, opposite charge)",
            np.linspace(40, 140, 26)),
    "lead_jet_pt": ("leading jet pT [GeV] (|η| < 2.5)", np.geomspace(30, 3000, 31)),
}


def closure_metrics(
    teacher: Mapping[str, np.ndarray], learnt: Mapping[str, np.ndarray]
) -> dict[str, dict]:
    """Yield of every selection for both detectors, the ratio and its paired uncertainty, and
    whether it passes the bar (None where the teacher has fewer than CLOSURE_MIN_EVENTS)."""
    out = {}
    for name, (description, select) in SELECTIONS.items():
        t, lt = np.asarray(select(teacher), bool), np.asarray(select(learnt), bool)
        n_t, n_l = int(t.sum()), int(lt.sum())
        only_t, only_l = int((t & ~lt).sum()), int((lt & ~t).sum())
        ratio = n_l / n_t if n_t else None
        sigma = np.sqrt(only_t + only_l) / n_t if n_t else None
        judged = n_t >= CLOSURE_MIN_EVENTS
        out[name] = {
            "description": description, "teacher": n_t, "learnt": n_l, "ratio": ratio,
            "sigma": sigma, "only_teacher": only_t, "only_learnt": only_l,
            "pass": (abs(ratio - 1) <= CLOSURE_BAR) if judged and ratio is not None else None,
        }
    return out
