"""The shared "histograms + ratio panel" helper and the report's axis cosmetics."""

from __future__ import annotations

import hist
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from mlsmear.validation.plots import ratio_figure, style


def _hist(values, edges) -> hist.Hist:
    h = hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Weight())
    h.fill(np.asarray(values, dtype=np.float64))
    return h


def _figure(reference, other, edges, **kwargs):
    with style():
        fig = ratio_figure(_hist(reference, edges), {"mlsmear m": _hist(other, edges)}, "t",
                           xlabel="x", ylabel="events / bin", **kwargs)
        FigureCanvasAgg(fig).draw()
    return fig


def test_empty_reference_bins_are_not_drawn():
    """Only the filled reference bins get a point (no zero-height error bars)."""
    edges = np.arange(6.0)
    fig = _figure([0.5, 0.5, 2.5, 4.5, 4.5, 4.5], [0.5, 2.5, 2.5, 4.5], edges)
    ax = fig.axes[0]
    points = ax.containers[0].lines[0].get_xydata()
    np.testing.assert_allclose(points[:, 0], [0.5, 2.5, 4.5])
    np.testing.assert_allclose(points[:, 1], [2, 1, 3])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "Reference" and "mlsmear m" in labels and "reference σ (ratio)" in labels


def test_ratio_range_shows_low_statistics_bins():
    """Ratios of 0.4 and 1.5 (few entries) are inside the panel, not clipped at ±15 %."""
    edges = np.arange(4.0)
    fig = _figure([0.5] * 5 + [1.5] * 2 + [2.5] * 100, [0.5] * 2 + [1.5] * 3 + [2.5] * 100, edges)
    low, high = fig.axes[1].get_ylim()
    assert low < 0.4 and high > 1.5 and high <= 2.0 + 1e-9


def test_log_axis_over_many_decades_has_few_labels():
    """A jet-mass-like axis over six decades: at most one labelled tick per decade, and the
    labels' boxes do not overlap."""
    edges = np.geomspace(1e-4, 100.0, 40)
    values = np.geomspace(2e-4, 50.0, 500)
    fig = _figure(values, values, edges, logx=True, logy=True)
    rax = fig.axes[1]
    renderer = fig.canvas.get_renderer()
    lo, hi = rax.get_xlim()
    ticks = [t for t in rax.xaxis.get_major_ticks() if lo <= t.get_loc() <= hi and
             t.label1.get_text()]
    assert 2 <= len(ticks) <= 7
    boxes = sorted((t.label1.get_window_extent(renderer) for t in ticks), key=lambda b: b.x0)
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:], strict=False))
