"""Binned observables of one reco sample: the common input of the metrics and the plots.

The binning (:class:`Axes`) is fixed once per kind from the hold-out's truth and reference reco,
so the reference, the model, the baseline and the noise-floor sample are filled into identical
bins. Histograms are :class:`hist.Hist` objects (units: GeV for pT, mass, MET and HT).
"""

from __future__ import annotations

from dataclasses import dataclass

import hist
import numpy as np

from .. import residuals
from ..kinds import kind_spec
from .metrics import binned_widths, rank_correlation
from .sampling import KindSample, Reco

__all__ = [
    "Axes",
    "Observables",
    "ETA_SLICES",
    "PAPER_REGIONS",
    "MET_TAIL_CUT",
    "LABELS",
    "LOG_VARIABLES",
    "make_axes",
    "observe",
    "resolution_response",
    "residual_columns",
]

#: |η| slice edges of the resolution-vs-pT plots (trimmed to the data).
ETA_SLICES = (0.0, 0.4, 0.8, 1.5, 2.5, 3.2, 5.0)
#: The paper's resolution test: |η| < 0.4 against |η| > 0.8.
PAPER_REGIONS = {"|η| < 0.4": (0.0, 0.4), "|η| > 0.8": (0.8, np.inf)}
#: MET threshold of the tail-yield figure (GeV).
MET_TAIL_CUT = 250.0
#: Axis labels (with units) of reco and truth quantities.
LABELS = {
    "pt": r"$p_{\mathrm{T}}$ [GeV]",
    "eta": r"$\eta$",
    "phi": r"$\phi$ [rad]",
    "mass": r"$m$ [GeV]",
    "ht": r"$H_{\mathrm{T}}$ [GeV]",
    "n_per_event": "objects per event",
}
#: Variables with steeply falling spectra: log y; log-spaced bins and log x for objects.
LOG_VARIABLES = frozenset({"pt", "mass", "ht"})


@dataclass(frozen=True)
class Axes:
    """Bin edges of one kind's observables.

    Arguments:
        distributions: reco quantity → edges of its distribution (``n_per_event`` included for
            object kinds).
        efficiency: truth variable → edges of the efficiency curve (empty for MET).
        resolution_variable: truth variable the resolution is binned in (``pt``; ``ht`` for MET).
        resolution: edges in that variable.
        eta_slices: |η| slice edges of the resolution (``(0, inf)`` for MET).
        log_x: variables binned (and drawn) logarithmically.
    """

    distributions: dict[str, np.ndarray]
    efficiency: dict[str, np.ndarray]
    resolution_variable: str
    resolution: np.ndarray
    eta_slices: np.ndarray
    log_x: frozenset[str]


def _edges(values: np.ndarray, n: int, *, log: bool) -> np.ndarray:
    """``n`` bins over the 0.1–99.9 % range of the finite values (of the positive ones, and
    log-spaced, if ``log``; from 0 for linear bins of non-negative values). Log bins start at
    least 10⁻⁴ of the upper edge: below that a value is a numerical zero (a single-tower jet's
    mass is 1e-6 GeV from E² − p² rounding, the learnt detector's exactly 0), so both samples put
    such values in the same underflow."""
    v = values[np.isfinite(values)]
    if log:
        v = v[v > 0]
    if v.size == 0:
        return np.linspace(0.0, 1.0, n + 1)
    low, high = (float(x) for x in np.quantile(v, [0.001, 0.999]))
    if not log and low >= 0:  # a non-negative spectrum (MET) starts at 0
        low = 0.0
    if log:
        low = max(low, 1e-4 * high)
    if high <= low:
        high = low + 1.0
    return np.geomspace(low, high, n + 1) if log else np.linspace(low, high, n + 1)


def make_axes(sample: KindSample, events: np.ndarray) -> Axes:
    """Bin edges for ``sample`` (``events``: every event of the hold-out, for the counts)."""
    spec = kind_spec(sample.kind)
    if len(sample) == 0:
        raise ValueError(f"no {sample.kind} objects in the hold-out: no axes to bin them on")
    ref = sample.reference.values
    log_x = frozenset({"ht"} if spec.per_event else LOG_VARIABLES)  # MET: linear spectrum
    distributions = {}
    for q in spec.quantities:
        if q == "phi":
            distributions[q] = np.linspace(-np.pi, np.pi, 33)
        elif q == "eta":
            edge = float(np.nanmax(np.abs(ref[q]))) if np.isfinite(ref[q]).any() else 1.0
            distributions[q] = np.linspace(-edge, edge, 51)
        else:
            distributions[q] = _edges(ref[q], 40, log=q in log_x)
    truth = sample.truth
    if spec.per_event:
        return Axes(
            distributions, {}, "ht", _edges(truth["ht"], 12, log=True), np.array([0.0, np.inf]),
            log_x,
        )
    counts = np.bincount(_event_slot(sample.event, events), minlength=events.size)
    distributions["n_per_event"] = np.arange(-0.5, counts.max() + 1.5)
    eta_max = float(np.max(np.abs(truth["eta"])))
    efficiency = {
        "pt": _edges(truth["pt"], 30, log=True),
        "eta": np.linspace(-eta_max, eta_max, 31),
    }
    slices = np.array([e for e in ETA_SLICES if e < eta_max] + [eta_max + 1e-9])
    resolution = _edges(truth["pt"][sample.reference.reconstructed], 15, log=True)
    return Axes(distributions, efficiency, "pt", resolution, slices, log_x)


def _event_slot(event: np.ndarray, events: np.ndarray) -> np.ndarray:
    slot = np.searchsorted(events, event)
    if np.any(slot >= events.size) or np.any(events[np.minimum(slot, events.size - 1)] != event):
        raise ValueError("the event list must hold every event of the sample (sorted, unique)")
    return slot


def _hist(edges: np.ndarray, name: str, values: np.ndarray) -> hist.Hist:
    h: hist.Hist = hist.Hist(hist.axis.Variable(edges, name=name, label=LABELS.get(name, name)))
    return h.fill(values[np.isfinite(values)])


def residual_columns(kind: str, truth: dict[str, np.ndarray], reco: Reco) -> np.ndarray:
    """``(n_reconstructed, n_quantities)`` residuals of the reconstructed objects, each in the
    kind's own residual definition (:mod:`mlsmear.residuals`)."""
    spec = kind_spec(kind)
    ok = reco.reconstructed
    return np.stack(
        [
            residuals.residual(r, truth[q][ok], reco.values[q][ok], truth["pt"][ok])
            for q, r in zip(spec.quantities, spec.residuals, strict=True)
        ],
        axis=1,
    )


def resolution_response(kind: str, truth: dict[str, np.ndarray], reco: Reco) -> np.ndarray:
    """The quantity whose robust width is the resolution, per truth object (NaN when lost):
    ``reco pT / truth pT`` for objects, ``reco MET − truth MET`` (GeV) for MET."""
    if kind_spec(kind).per_event:
        return reco.values["pt"] - truth["pt"]
    return reco.values["pt"] / truth["pt"]


@dataclass(frozen=True)
class Observables:
    """Binned observables of one reco sample.

    Arguments:
        distributions: quantity → histogram of the reconstructed objects' reco values (and
            ``n_per_event``: reconstructed objects per hold-out event).
        passed: truth variable → histogram of reconstructed objects in truth bins.
        total: truth variable → histogram of all truth objects (same for every sample).
        widths, width_uncs, width_counts: ``(n_slices, n_bins)`` resolution per |η| slice.
        regions: paper's region label → ``(widths, uncs, counts)`` over the resolution bins.
        correlation, correlation_unc: rank correlation matrix of the residuals and its σ.
        met: reco MET of every event (MET only, else empty).
    """

    distributions: dict[str, hist.Hist]
    passed: dict[str, hist.Hist]
    total: dict[str, hist.Hist]
    widths: np.ndarray
    width_uncs: np.ndarray
    width_counts: np.ndarray
    regions: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    correlation: np.ndarray
    correlation_unc: np.ndarray
    met: np.ndarray


def observe(sample: KindSample, reco: Reco, axes: Axes, events: np.ndarray) -> Observables:
    """Fill the observables of ``reco`` (a reco set of ``sample``'s truth objects)."""
    kind, truth = sample.kind, sample.truth
    distributions = {
        q: _hist(edges, q, reco.values[q])
        for q, edges in axes.distributions.items() if q != "n_per_event"
    }
    if "n_per_event" in axes.distributions:
        slots = _event_slot(sample.event[reco.reconstructed], events)
        counts = np.bincount(slots, minlength=events.size).astype(np.float64)
        distributions["n_per_event"] = _hist(
            axes.distributions["n_per_event"], "n_per_event", counts
        )
    passed = {v: _hist(e, v, truth[v][reco.reconstructed]) for v, e in axes.efficiency.items()}
    total = {v: _hist(e, v, truth[v]) for v, e in axes.efficiency.items()}
    response = resolution_response(kind, truth, reco)
    abs_eta = np.abs(truth["eta"]) if "eta" in truth else np.zeros(len(sample))

    def widths_in(lo: float, hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inside = np.where((abs_eta >= lo) & (abs_eta < hi), response, np.nan)
        return binned_widths(inside, truth[axes.resolution_variable], axes.resolution)

    slices = zip(axes.eta_slices[:-1], axes.eta_slices[1:], strict=True)
    widths, uncs, n = (np.array(a) for a in zip(*(widths_in(*s) for s in slices), strict=True))
    per_event = kind_spec(kind).per_event
    regions = {} if per_event else {k: widths_in(*lh) for k, lh in PAPER_REGIONS.items()}
    correlation, correlation_unc = rank_correlation(residual_columns(kind, truth, reco))
    met = reco.values["pt"] if per_event else np.zeros(0)
    return Observables(
        distributions, passed, total, widths, uncs, n, regions, correlation, correlation_unc, met
    )
