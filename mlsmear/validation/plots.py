"""Validation figures (hist + mplhep): the reference as black points with error bars, each learnt
sample as a coloured line, and a lower panel comparing them with the reference.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state;
safe in workers); :func:`kind_figures` makes the full set of one kind. Draw inside
:func:`style` for the mplhep look.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Mapping
from typing import Any

import hist
import matplotlib as mpl
import mplhep
import numpy as np
from hist.intervals import clopper_pearson_interval
from matplotlib import ticker
from matplotlib.figure import Figure

from ..kinds import kind_spec
from .metrics import efficiency_difference, ratio, relative_difference
from .observables import LABELS, LOG_VARIABLES, MET_TAIL_CUT, PAPER_REGIONS, Axes, Observables

__all__ = [
    "style",
    "distribution",
    "efficiency",
    "resolution",
    "eta_test",
    "correlations",
    "met_tail",
    "kind_figures",
]

#: Line styles of the compared samples (matplotlib keyword arguments).
_LINES: tuple[dict[str, Any], ...] = (
    {"color": "#e42536", "linestyle": "-"},
    {"color": "#5790fc", "linestyle": "--"},
    {"color": "#964a8b", "linestyle": ":"},
)
_STAT: dict[str, Any] = {"color": "0.85", "lw": 0}
_NAMES = {
    "jet": "jet", "electron": "electron", "muon": "muon", "photon": "photon", "met": "MET",
    "photon_from_electron": "photon (of an electron)",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The mplhep (ROOT-like, experiment-neutral) style, for drawing and saving figures."""
    with mpl.rc_context({**mplhep.style.ROOT, "figure.dpi": 100}):
        yield


def _with_ratio(title: str) -> tuple[Figure, mpl.axes.Axes, mpl.axes.Axes]:
    """A figure with a main panel and a comparison panel below it (shared x)."""
    fig = Figure(figsize=(7.0, 7.0), layout="constrained")
    ax, rax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    ax.set_title(title, loc="left", fontsize="small")
    return fig, ax, rax


def _legend_entries(ax, rax=None, *, first: str = "Reference") -> tuple[list, list[str]]:
    """Legend handles and labels of ``ax`` with the reference entries first, then the
    labelled artists of the comparison panel ``rax`` (bar lines, reference σ)."""
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: not labels[i].startswith(first))
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    if rax is not None:
        more, names = rax.get_legend_handles_labels()
        handles, labels = [*handles, *more], [*labels, *names]
    return handles, labels


def _legend(ax, rax=None, *, first: str = "Reference", **kwargs) -> None:
    """Legend of :func:`_legend_entries` in ``ax``, so the comparison panel itself stays free
    of legends."""
    handles, labels = _legend_entries(ax, rax, first=first)
    if len(labels) > 2 and max(map(len, labels)) <= 20:  # two short columns, else one
        kwargs.setdefault("ncols", 2)
    ax.legend(handles, labels, **kwargs)


def _bar_lines(
    rax, centre: float, half: float, label: str, points: np.ndarray, *, legend: bool = True
) -> None:
    """Reference line, the bar (dashed) and a y range that shows ``points`` in a comparison
    panel (:func:`_ratio_range`). The bar's label goes into the main panel's legend
    (:func:`_legend` collects the panel's labelled artists), so no legend covers the points;
    ``legend=False`` leaves it unlabelled."""
    rax.axhline(centre, color="k", lw=0.8)
    for sign in (-1, 1):
        rax.axhline(centre + sign * half, color="tab:green", lw=1.2, ls="--",
                    label=label if sign > 0 and legend else None)
    _ratio_range(rax, centre, half, points)


def _ratio_range(
    rax, centre: float, half: float, points: np.ndarray, *, floor: float | None = None
) -> None:
    """A symmetric y range around ``centre`` that shows every finite point (low-statistics
    bins included): at least three times the bar (or ``floor``), at most twenty times (a ratio
    of 0-2 for a 5 % bar); points beyond are marked by the caller."""
    finite = np.abs(np.asarray(points, dtype=np.float64) - centre)
    finite = finite[np.isfinite(finite)]
    least = 3 * half if floor is None else floor
    span = np.clip(1.15 * finite.max() if finite.size else 0.0, least, max(20 * half, least))
    rax.set_ylim(centre - span, centre + span)


def _log_x(ax, subs: tuple[float, ...] = (1.0, 2.0, 5.0)) -> None:
    """Log x axis with ticks at ``subs`` × 10ⁿ (shared with the lower panel): only at 10ⁿ
    when the axis spans more than two decades, every other decade beyond five, so that tick
    labels never overlap; plain numbers from 0.01, powers of ten below."""
    ax.set_xscale("log")
    low, high = ax.get_xlim()
    decades = np.log10(high / low) if low > 0 and high > low else 0.0
    if decades > 2.0:
        subs = (1.0,)
    locator = ticker.LogLocator(base=10.0, subs=subs, numticks=12)
    if decades > 5.0:
        locator = ticker.LogLocator(base=100.0, subs=(1.0,), numticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(_tick_label))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def _tick_label(value: float, _position: object = None) -> str:
    if value <= 0:
        return ""
    if value >= 0.01:
        return f"{value:g}"
    return rf"$10^{{{round(np.log10(value))}}}$"


def _centres(edges: np.ndarray, log: bool) -> np.ndarray:
    return np.sqrt(edges[:-1] * edges[1:]) if log else 0.5 * (edges[:-1] + edges[1:])


def _finish(
    ax, rax, xlabel: str, *, logx: bool, logy: bool, legend_loc: str = "upper right",
    headroom: float = 0.4,
    reference_label: str = "Reference",
) -> None:
    if logx:
        _log_x(ax)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("")
    rax.set_xlabel(xlabel)
    _headroom(ax, headroom)
    one_column = {"ncols": 1} if legend_loc.startswith("lower") else {}  # beside a rising curve
    _legend(ax, rax, first=reference_label, fontsize="x-small", loc=legend_loc, **one_column)


def _headroom(ax, fraction: float) -> None:
    """Raise the top of the y axis so that the legend sits above the curves."""
    bottom, top = ax.get_ylim()
    if ax.get_yscale() == "log":
        ax.set_ylim(bottom, top * (top / bottom) ** fraction)
    else:
        ax.set_ylim(bottom, bottom + (top - bottom) * (1 + fraction))


_MET_LABELS = {
    "pt": r"$E_{\mathrm{T}}^{\mathrm{miss}}$ [GeV]",
    "phi": r"$\phi(E_{\mathrm{T}}^{\mathrm{miss}})$ [rad]",
}


def _reco_label(kind: str, variable: str) -> str:
    if variable == "n_per_event":
        return f"reconstructed {_NAMES[kind]}s per event"
    if kind_spec(kind).per_event:
        return f"reco {_MET_LABELS[variable]}"
    return f"reco {_NAMES[kind]} {LABELS[variable]}"


def distribution(
    kind: str,
    name: str,
    reference: hist.Hist,
    others: Mapping[str, hist.Hist],
    title: str,
    *,
    logx: bool = False,
) -> Figure:
    """A reco distribution with a ratio panel (sample / reference, ±5 % band, reference σ)."""
    per_event = name == "n_per_event" or kind_spec(kind).per_event
    return ratio_figure(
        reference, others, title, xlabel=_reco_label(kind, name),
        ylabel="events / bin" if per_event else "objects / bin", logx=logx,
        logy=name in LOG_VARIABLES or name == "n_per_event",  # falling spectra, multiplicities
    )


def ratio_figure(
    reference: hist.Hist,
    others: Mapping[str, hist.Hist],
    title: str,
    *,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    reference_label: str = "Reference",
    band: float | None = 0.05,
) -> Figure:
    """Histograms against a reference with a ratio panel: the reference as black points with
    their statistical error bars (empty bins not drawn), each other histogram as a line with
    its statistical band; below, other / reference with the other's error bars, the
    reference's relative σ (grey) and, with ``band``, dashed lines at 1 ± band. The ratio
    range widens (up to 0-2) to show every bin; bins beyond it are marked by triangles at the
    edge. The one helper for "histograms + ratio panel" (validation report, closure, the
    coffea example)."""
    fig, ax, rax = _with_ratio(title)
    edges, ref = reference.axes[0].edges, reference.values()
    centres = _centres(edges, logx)
    filled = ref > 0
    ref_err = np.sqrt(_variances(reference))
    ax.errorbar(centres[filled], ref[filled], yerr=ref_err[filled], fmt="o", color="k", ms=4,
                label=reference_label)
    shown = []
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(filled, ref_err / ref, np.nan)
    rax.stairs(1 + rel, edges, baseline=1 - rel, fill=True, **_STAT, label="reference σ (ratio)")
    for (label, h), line in zip(others.items(), _LINES, strict=False):
        values, err = h.values(), np.sqrt(_variances(h))
        ax.stairs(values, edges, label=label, baseline=None, lw=1.5, **line)
        ax.stairs(values + err, edges, baseline=np.maximum(values - err, 0), fill=True,
                  color=line["color"], alpha=0.25, lw=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(filled, values / ref, np.nan)
            unc = np.where(filled, np.maximum(err, 1.0 * (values == 0)) / ref, np.nan)
        rax.stairs(r, edges, baseline=None, **line)
        rax.errorbar(centres, r, yerr=unc, fmt="none", ecolor=line["color"], lw=1)
        shown.append(r)
    if band is not None:
        _bar_lines(rax, 1.0, band, f"±{100 * band:g} % (ratio)", np.concatenate(shown))
    else:
        rax.axhline(1.0, color="k", lw=0.8)
        _ratio_range(rax, 1.0, 0.05, np.concatenate(shown), floor=0.2)
    _mark_outside(rax, centres, shown)
    rax.set_ylabel("ratio")
    ax.set_ylabel(ylabel)
    _finish(ax, rax, xlabel, logx=logx, logy=logy, reference_label=reference_label)
    return fig


def _variances(h: hist.Hist) -> np.ndarray:
    """Per-bin variances: the Weight storage's, else the counts (Poisson)."""
    variances = h.variances()
    return np.asarray(h.values() if variances is None else variances, dtype=np.float64)


def _mark_outside(rax, centres: np.ndarray, series: list[np.ndarray]) -> None:
    """Triangles at the edge of a comparison panel for points beyond its range."""
    low, high = rax.get_ylim()
    for r, line in zip(series, _LINES, strict=False):
        for edge, marker, beyond in ((high, "^", r > high), (low, "v", r < low)):
            if np.any(beyond):
                y = edge - 0.04 * (high - low) * (1 if marker == "^" else -1)
                rax.plot(centres[beyond], np.full(beyond.sum(), y), marker, ms=5,
                         color=line["color"], ls="none")


def efficiency(
    kind: str, variable: str, reference: Observables, others: Mapping[str, Observables], title: str
) -> Figure:
    """Efficiency vs a truth variable (Clopper–Pearson 68 % errors) and the difference panel."""
    fig, ax, rax = _with_ratio(title)
    total = reference.total[variable]
    edges, n = total.axes[0].edges, total.values()
    centres = _centres(edges, variable in LOG_VARIABLES)
    with np.errstate(divide="ignore", invalid="ignore"):
        k_ref = reference.passed[variable].values()
        eff = k_ref / n
        lo, hi = clopper_pearson_interval(k_ref, n)
    ax.errorbar(centres, eff, yerr=np.abs([eff - lo, hi - eff]), fmt="o", color="k", ms=4,
                label="Reference")
    shown = []
    for (label, obs), line in zip(others.items(), _LINES, strict=False):
        k = obs.passed[variable].values()
        with np.errstate(divide="ignore", invalid="ignore"):
            ax.stairs(k / n, edges, label=label, baseline=None, **line)
        d, u = efficiency_difference(k, k_ref, n)
        rax.errorbar(centres, d, yerr=u, fmt="none", ecolor=line["color"])
        rax.stairs(d, edges, baseline=None, **line)
        shown.append(d)
    _bar_lines(rax, 0.0, 0.01, "±0.01 (Δε panel)", np.concatenate(shown))
    rax.set_ylabel(r"$\Delta\varepsilon$")
    ax.set_ylim(0.0, 1.45)  # the legend above ε = 1, clear of the points
    ax.set_yticks(np.linspace(0.0, 1.0, 6))
    ax.set_ylabel(r"efficiency $\varepsilon$")
    _finish(ax, rax, _truth_label(kind, variable), logx=variable in LOG_VARIABLES, logy=False,
            legend_loc="upper center", headroom=0.0)
    return fig


def _truth_label(kind: str, variable: str) -> str:
    own = variable in kind_spec(kind).quantities
    return f"truth {_NAMES[kind]} {LABELS[variable]}" if own else f"truth {LABELS[variable]}"


def _width_label(kind: str) -> str:
    """Label of the resolution axis (the robust width of the response)."""
    if kind_spec(kind).per_event:
        return r"$\sigma$(reco $-$ truth $E_{\mathrm{T}}^{\mathrm{miss}}$) [GeV]"
    return r"$\sigma(p_{\mathrm{T}}^{\mathrm{reco}} / p_{\mathrm{T}}^{\mathrm{truth}})$"


Widths = tuple[np.ndarray, np.ndarray, np.ndarray]  # (widths, uncertainties, counts) per bin


def _width_grid(
    kind: str,
    variable: str,
    edges: np.ndarray,
    columns: Mapping[str, tuple[Widths, Mapping[str, Widths]]],
    title: str,
) -> Figure:
    """Resolution vs a truth variable, one column per region (title → reference widths and the
    other samples' widths), with ratio panels to the reference."""
    width = {1: 6.0, 2: 4.4}.get(len(columns), 3.6)
    fig = Figure(figsize=(width * len(columns) + 1.5, 6.5), layout="constrained")
    grid = fig.subplots(
        2, len(columns), sharex=True, sharey="row", height_ratios=(3, 1), squeeze=False
    )
    fig.suptitle(title, x=0.01, ha="left", fontsize="medium")
    centres = _centres(edges, log=True)
    shown, values = [np.zeros(0)], [np.zeros(0)]
    for c, (region, (reference, others)) in enumerate(columns.items()):
        ax, rax = grid[0, c], grid[1, c]
        w_ref, u_ref, _ = reference
        ax.errorbar(centres, w_ref, yerr=u_ref, fmt="o", color="k", ms=4, label="Reference")
        values.append(np.asarray(w_ref, dtype=np.float64))
        for (label, (w, u, _)), line in zip(others.items(), _LINES, strict=False):
            ax.stairs(w, edges, label=label, baseline=None, **line)
            values.append(np.asarray(w, dtype=np.float64))
            d, du = relative_difference(w, u, w_ref, u_ref)
            rax.errorbar(centres, 1 + d, yerr=du, fmt="o", color=line["color"], ms=3)
            shown.append(1 + d)
        if region:
            ax.set_title(region, fontsize="small")
        _log_x(ax, subs=(1.0, 3.0))
        rax.set_xlabel(_truth_label(kind, variable))
    for c in range(len(columns)):
        _bar_lines(grid[1, c], 1.0, 0.05, "±5 % (ratio)", np.concatenate(shown),
                   legend=c == 0)
    grid[0, 0].set_ylabel(_width_label(kind))
    # the widths set the range, not the error bars of a few low-statistics bins (they run off)
    finite = np.concatenate(values)
    finite = finite[np.isfinite(finite)]
    grid[0, 0].set_ylim(0.0, 1.5 * finite.max() if finite.size and finite.max() > 0 else None)
    grid[1, 0].set_ylabel("ratio")
    # one legend for the whole row, below the panels: nothing to overlap
    handles, labels = _legend_entries(grid[0, 0], grid[1, 0])
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize="x-small")
    return fig


def _slice(obs: Observables, s: int) -> Widths:
    return obs.widths[s], obs.width_uncs[s], obs.width_counts[s]


def resolution(
    kind: str, axes: Axes, reference: Observables, others: Mapping[str, Observables], title: str
) -> Figure:
    """Resolution vs truth pT (HT for MET), one column per |η| slice, with ratio panels."""
    per_event = kind_spec(kind).per_event
    columns = {}
    for s, (lo, hi) in enumerate(itertools.pairwise(axes.eta_slices)):
        region = "" if per_event else f"{lo:.1f} ≤ |η| < {hi:.1f}"
        columns[region] = (_slice(reference, s), {k: _slice(o, s) for k, o in others.items()})
    return _width_grid(kind, axes.resolution_variable, axes.resolution, columns, title)


def eta_test(
    kind: str, axes: Axes, reference: Observables, others: Mapping[str, Observables], title: str
) -> Figure:
    """The paper's test: pT resolution for |η| < 0.4 and for |η| > 0.8, side by side."""
    columns = {
        region: (reference.regions[region], {k: o.regions[region] for k, o in others.items()})
        for region in PAPER_REGIONS
    }
    return _width_grid(kind, "pt", axes.resolution, columns, f"{title} · paper's η test")


def correlations(kind: str, matrices: Mapping[str, np.ndarray], title: str) -> Figure:
    """Residual rank-correlation matrices side by side; the last panel is the first sample minus
    the reference (the first entry of ``matrices``)."""
    names = [f"Δ{LABELS[q].split(' [')[0]}" for q in kind_spec(kind).quantities]
    items = list(matrices.items())
    (ref_label, ref), (first_label, first) = items[0], items[1]
    panels = [*items, (f"{first_label} − {ref_label}", first - ref)]
    fig = Figure(figsize=(3.6 * len(panels) + 1.0, 3.8), layout="constrained")
    grid = fig.subplots(1, len(panels), squeeze=False)[0]
    fig.suptitle(title, x=0.01, ha="left", fontsize="medium")
    lower = np.tril(np.ones((len(names), len(names)), dtype=bool), k=-1)
    ticks = np.arange(len(names))
    for i, (ax, (label, m)) in enumerate(zip(grid, panels, strict=True)):
        is_diff = i == len(panels) - 1
        limit = 0.1 if is_diff else 1.0
        image = ax.imshow(np.where(lower, m, np.nan), cmap="RdBu_r", vmin=-limit, vmax=limit)
        for (r, c), value in np.ndenumerate(m):
            if lower[r, c]:
                ax.text(c, r, f"{value:+.3f}" if is_diff else f"{value:+.2f}", ha="center",
                        va="center", fontsize="xx-small" if is_diff else "x-small")
        ax.set_xticks(ticks[:-1], names[:-1])
        ax.set_yticks(ticks[1:], names[1:])
        ax.set_xlim(-0.5, len(names) - 1.5)
        ax.set_ylim(len(names) - 0.5, 0.5)
        ax.tick_params(which="both", top=False, right=False, length=0)
        ax.minorticks_off()
        ax.set_title(label, fontsize="small")
        if is_diff or i == len(panels) - 2:
            fig.colorbar(image, ax=ax, shrink=0.8, label="Δρ" if is_diff else "ρ (Spearman)")
    return fig


def met_tail(reference: np.ndarray, others: Mapping[str, np.ndarray], title: str) -> Figure:
    """Events with reco MET above a threshold vs the threshold, with the ratio to the reference;
    the 250 GeV cut of the generation-stage filter marked."""
    fig, ax, rax = _with_ratio(title)
    top = float(np.quantile(reference, 0.9999)) if reference.size else 1.0
    cuts = np.linspace(0.0, max(top, 1.5 * MET_TAIL_CUT), 200)

    def above(values: np.ndarray) -> np.ndarray:
        return values.size - np.searchsorted(np.sort(values), cuts, side="right")

    n_ref = above(reference)
    band = np.where(n_ref > 0, 1.0 / np.sqrt(np.maximum(n_ref, 1)), np.nan)
    ax.plot(cuts, n_ref, color="k", lw=2, label="Reference")
    rax.fill_between(cuts, 1 - band, 1 + band, **_STAT, label="reference σ (ratio)")
    shown = []
    for (label, values), line in zip(others.items(), _LINES, strict=False):
        n = above(values)
        ax.plot(cuts, n, label=label, **line)
        r, _ = ratio(n, n_ref)
        rax.plot(cuts, r, **line)
        shown.append(r)
    for a in (ax, rax):
        a.axvline(MET_TAIL_CUT, color="0.4", lw=1, linestyle="-.")
    _bar_lines(rax, 1.0, 0.05, "±5 % (ratio)", np.concatenate(shown))
    rax.set_ylabel("ratio")
    ax.set_ylabel(r"events with $E_{\mathrm{T}}^{\mathrm{miss}} > x$")
    ax.set_yscale("log")
    _legend(ax, rax, fontsize="x-small", loc="upper right")  # the falling curve is on the left
    rax.set_xlabel(r"threshold $x$ on reco $E_{\mathrm{T}}^{\mathrm{miss}}$ [GeV]")
    return fig


def kind_figures(
    kind: str, axes: Axes, reference: Observables, others: Mapping[str, Observables], title: str
) -> dict[str, Figure]:
    """Every figure of one kind, by file stem (``jet_dist_pt``, ``jet_eff_eta``, ...)."""
    figures = {
        f"{kind}_dist_{name}": distribution(
            kind, name, h, {k: o.distributions[name] for k, o in others.items()}, title,
            logx=name in axes.log_x,
        )
        for name, h in reference.distributions.items()
    }
    for variable in axes.efficiency:
        figures[f"{kind}_eff_{variable}"] = efficiency(kind, variable, reference, others, title)
    figures[f"{kind}_resolution"] = resolution(kind, axes, reference, others, title)
    if reference.regions:
        figures[f"{kind}_eta_test"] = eta_test(kind, axes, reference, others, title)
    matrices = {"Reference": reference.correlation}
    matrices.update({k: o.correlation for k, o in others.items()})
    figures[f"{kind}_correlations"] = correlations(kind, matrices, title)
    if kind_spec(kind).per_event:
        figures[f"{kind}_tail"] = met_tail(
            reference.met, {k: o.met for k, o in others.items()}, title
        )
    return figures
