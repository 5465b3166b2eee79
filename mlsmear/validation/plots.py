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

_LINES = (
    {"color": "#e42536", "linestyle": "-"},
    {"color": "#5790fc", "linestyle": "--"},
    {"color": "#964a8b", "linestyle": ":"},
)
_STAT = {"color": "0.85", "lw": 0}
_NAMES = {"jet": "jet", "electron": "electron", "muon": "muon", "photon": "photon", "met": "MET"}


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


def _legend(ax, **kwargs) -> None:
    """Legend with the reference entries first."""
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: not labels[i].startswith("Reference"))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], **kwargs)


def _bar_lines(
    rax, centre: float, half: float, label: str, points: np.ndarray, *, legend: bool = True
) -> None:
    """Reference line, the bar (dashed) and a y range that shows ``points`` (± three to ten
    times the bar) in a comparison panel."""
    rax.axhline(centre, color="k", lw=0.8)
    for sign in (-1, 1):
        rax.axhline(centre + sign * half, color="tab:green", lw=1.2, ls="--",
                    label=label if sign > 0 else None)
    finite = np.abs(np.asarray(points, dtype=np.float64) - centre)
    finite = finite[np.isfinite(finite)]
    span = np.clip(1.15 * finite.max() if finite.size else 0.0, 3 * half, 10 * half)
    rax.set_ylim(centre - span, centre + span)
    if legend:
        rax.legend(fontsize="x-small", ncols=2, loc="upper right")


def _log_x(ax, subs: tuple[float, ...] = (1.0, 2.0, 5.0)) -> None:
    """Log x axis with plain-number ticks at ``subs`` × 10ⁿ (shared with the lower panel)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10.0, subs=subs))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def _centres(edges: np.ndarray, log: bool) -> np.ndarray:
    return np.sqrt(edges[:-1] * edges[1:]) if log else 0.5 * (edges[:-1] + edges[1:])


def _finish(
    ax, rax, xlabel: str, *, logx: bool, logy: bool, legend_loc: str = "upper right",
    headroom: float = 0.4,
) -> None:
    if logx:
        _log_x(ax)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("")
    rax.set_xlabel(xlabel)
    _headroom(ax, headroom)
    _legend(ax, fontsize="small", loc=legend_loc)


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
    fig, ax, rax = _with_ratio(title)
    edges, ref = reference.axes[0].edges, reference.values()
    mplhep.histplot(reference, ax=ax, histtype="errorbar", color="k", label="Reference",
                    yerr=True, flow="none")
    shown = []
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(ref > 0, 1.0 / np.sqrt(ref), np.nan)
    rax.stairs(1 + rel, edges, baseline=1 - rel, fill=True, **_STAT, label="reference σ")
    for (label, h), line in zip(others.items(), _LINES, strict=False):
        mplhep.histplot(h, ax=ax, histtype="step", label=label, flow="none", yerr=False, **line)
        r, unc = ratio(h.values(), ref)
        mplhep.histplot(r, bins=edges, ax=rax, histtype="step", yerr=False, **line)
        shown.append(r[unc < 0.05])
    _bar_lines(rax, 1.0, 0.05, "±5 %", np.concatenate(shown))
    rax.set_ylabel("ratio")
    per_event = name == "n_per_event" or kind_spec(kind).per_event
    ax.set_ylabel("events / bin" if per_event else "objects / bin")
    logy = name in LOG_VARIABLES or name == "n_per_event"  # falling spectra and multiplicities
    _finish(ax, rax, _reco_label(kind, name), logx=logx, logy=logy)
    return fig


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
        shown.append(d[u < 0.02])
    _bar_lines(rax, 0.0, 0.01, "±0.01", np.concatenate(shown))
    rax.set_ylabel(r"$\Delta\varepsilon$")
    ax.set_ylim(0.0, 1.1)
    ax.set_ylabel(r"efficiency $\varepsilon$")
    _finish(ax, rax, _truth_label(kind, variable), logx=variable in LOG_VARIABLES, logy=False,
            legend_loc="lower right", headroom=0.0)
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
    shown = [np.zeros(0)]
    for c, (region, (reference, others)) in enumerate(columns.items()):
        ax, rax = grid[0, c], grid[1, c]
        w_ref, u_ref, _ = reference
        ax.errorbar(centres, w_ref, yerr=u_ref, fmt="o", color="k", ms=4, label="Reference")
        for (label, (w, u, _)), line in zip(others.items(), _LINES, strict=False):
            ax.stairs(w, edges, label=label, baseline=None, **line)
            d, du = relative_difference(w, u, w_ref, u_ref)
            rax.errorbar(centres, 1 + d, yerr=du, fmt="o", color=line["color"], ms=3)
            shown.append(1 + d[du < 0.05])
        if region:
            ax.set_title(region, fontsize="small")
        _log_x(ax, subs=(1.0, 3.0))
        rax.set_xlabel(_truth_label(kind, variable))
    for c in range(len(columns)):
        _bar_lines(grid[1, c], 1.0, 0.05, "±5 %", np.concatenate(shown), legend=c == 0)
    grid[0, 0].set_ylabel(_width_label(kind))
    grid[0, 0].set_ylim(bottom=0)
    _headroom(grid[0, 0], 0.25)
    grid[1, 0].set_ylabel("ratio")
    _legend(grid[0, 0], fontsize="x-small")
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
    rax.fill_between(cuts, 1 - band, 1 + band, **_STAT, label="reference σ")
    shown = []
    for (label, values), line in zip(others.items(), _LINES, strict=False):
        n = above(values)
        ax.plot(cuts, n, label=label, **line)
        r, unc = ratio(n, n_ref)
        rax.plot(cuts, r, **line)
        shown.append(r[unc < 0.1])
    for a in (ax, rax):
        a.axvline(MET_TAIL_CUT, color="0.4", lw=1, linestyle="-.")
    _bar_lines(rax, 1.0, 0.05, "±5 %", np.concatenate(shown))
    rax.set_ylabel("ratio")
    ax.set_ylabel(r"events with $E_{\mathrm{T}}^{\mathrm{miss}} > x$")
    ax.set_yscale("log")
    _legend(ax, fontsize="small")
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
