"""The validation report: one self-contained HTML page (PNGs embedded) and a text table.

For each kind a table lists every metric of the learnt model with its statistical uncertainty,
the bin it comes from, the noise floor (the model against itself with another seed: what the
figure reads when the two samples agree perfectly), the paper's baseline when given, the bar and
PASS/FAIL; then the figures.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .summary import BARS, DECISIVE, SELECTION, Bar

__all__ = ["Row", "ROWS", "write_html", "text_table"]


@dataclass(frozen=True)
class Row:
    """One line of a metrics table.

    Arguments:
        key: the metric's key in a kind's entry.
        label: what the line shows, in words.
        percent: show the value in per cent.
        sub: for a dict-valued metric (``w1``), the entry shown.
    """

    key: str
    label: str
    percent: bool = False
    sub: str | None = None

    def value(self, metrics: Mapping[str, Any] | None) -> Any:
        """The row's value in ``metrics`` (None when absent)."""
        value = (metrics or {}).get(self.key)
        return value.get(self.sub) if isinstance(value, Mapping) else value

    def format(self, value: Any, unc: Any = None) -> str:
        """``value ± unc`` as text ("–" when missing)."""
        if value is None:
            return "–"
        scale, unit, digits = (100.0, " %", 2) if self.percent else (1.0, "", 4)
        text = f"{value * scale:.{digits}f}"
        if unc is not None:
            text += f" ± {unc * scale:.{digits}f}"
        return text + unit


#: The table rows, in order (W1 rows are added per quantity).
ROWS = (
    Row("auc", "two-sample AUC (0.5 = indistinguishable)"),
    Row("worst_bin_dev", "worst |ratio − 1| over bins with σ < 2 %", percent=True),
    Row("paper_bin_dev", "… over bins with σ < 10 % (the paper's test: it reached 15 %)",
        percent=True),
    Row("max_eff_diff", "max |Δ efficiency| (bins with σ < 0.004)"),
    Row("max_res_rel_diff", "max |σ/σ_ref − 1| of the pT resolution (σ < 2 %)", percent=True),
    Row("eta_test_rel_diff", "… in the paper's |η| < 0.4 and > 0.8 regions", percent=True),
    Row("max_corr_diff", "max |Δρ| of residual rank correlations"),
    Row("pt_corr_diff", "|Δρ| of pT–m and pT–η residuals"),
    Row("tail250_ratio", "MET > 250 GeV yield ratio"),
)
_UNITS = {"pt": "GeV", "mass": "GeV", "phi": "rad", "eta": ""}


def _bar(kind: str, key: str) -> Bar | None:
    return next((b for b in BARS if b.key == key and kind in b.kinds), None)


def _rows(metrics: Mapping[str, Any]) -> list[Row]:
    """The rows of the metrics present in ``metrics`` (W1: one per quantity)."""
    rows = [row for row in ROWS if row.key in metrics]
    for q in metrics.get("w1", {}):
        unit = f" [{_UNITS[q]}]" if _UNITS.get(q) else ""
        rows.append(Row("w1", f"Wasserstein-1 of reco {q}{unit}", sub=q))
    return rows


def _status(key: str, metrics: Mapping[str, Any]) -> tuple[str, str]:
    """(text, css class) of a metric's bar check; empty when it has no bar."""
    passed = metrics.get("pass", {}).get(key, "no bar")
    if passed == "no bar":
        return "", ""
    if passed is None:
        return "n/a", "na"
    return ("PASS", "pass") if passed else ("FAIL", "fail")


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1500px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
th { background: #f0f0f0; }
td.pass { background: #d9f2d9; font-weight: bold; } td.fail { background: #f7d4d4;
font-weight: bold; } td.na { background: #eee; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.3em; }
.figs { display: flex; flex-wrap: wrap; align-items: flex-start; }
.figs img { max-width: 48%; } .figs img.wide { max-width: 98%; }
.warn { color: #a00; font-weight: bold; }
"""


def _kind_table(kind: str, metrics: Mapping[str, Any]) -> str:
    noise, base = metrics.get("noise_floor"), metrics.get("baseline")
    head = ["metric", "mlsmear", "where (worst bin)", "noise floor"]
    head += ["paper baseline"] if base else []
    head += ["bar", "status"]
    lines = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for row in _rows(metrics):
        bar = _bar(kind, row.key)
        text, css = _status(row.key, metrics)
        cells = [
            row.label, row.format(row.value(metrics), metrics.get(f"{row.key}_unc")),
            metrics.get(f"{row.key}_where") or "", row.format(row.value(noise)),
        ]
        if base:
            b_text, _ = _status(row.key, base)
            cells.append(row.format(row.value(base)) + (f" ({b_text})" if b_text else ""))
        cells.append(bar.text if bar else "")
        lines.append(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
            + f'<td class="{css}">{text}</td></tr>'
        )
    return "\n".join(lines) + "</table>"


def _closure_rows(closure: Mapping[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(selection, description, teacher, learnt, ratio ± paired σ, status) per selection."""
    rows = []
    for name, s in closure["selections"].items():
        ratio = "–" if s["ratio"] is None else f"{s['ratio']:.3f} ± {s['sigma']:.3f}"
        status = {True: "PASS", False: "FAIL", None: "n/a"}[s["pass"]]
        rows.append((name, s["description"], str(s["teacher"]), str(s["learnt"]), ratio, status))
    return rows


def _closure_html(closure: Mapping[str, Any]) -> str:
    head = ["selection", "definition", "teacher events", "learnt events",
            "learnt / teacher (paired σ)", "within 5 % (≥ 300 teacher events)"]
    lines = [
        "<p>The same hold-out events through the teacher (its matched reco plus the reco "
        "objects without a truth partner) and through the learnt detector (a MET model with "
        "object context follows the sampled objects); the same cuts on both. Jets pT &gt; 30 GeV, "
        "|η| &lt; 2.5; leptons and photons pT &gt; 25 GeV, |η| &lt; 2.5.</p>",
        "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>",
    ]
    css = {"PASS": "pass", "FAIL": "fail", "n/a": "na"}
    for row in _closure_rows(closure):
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in row[:-1])
        lines.append(f'<tr>{cells}<td class="{css[row[-1]]}">{row[-1]}</td></tr>')
    lines.append("</table><p>Teacher reco objects without a truth partner, above the cuts: ")
    lines.append(", ".join(
        f"{kind} {f['reco_only']} of {f['reco_objects']}"
        + (f" ({100 * f['fraction']:.2f} %)" if f["fraction"] is not None else "")
        for kind, f in closure.get("reco_only_fraction", {}).items()
    ) + " (not modelled).</p>")
    lines += _object_checks_html(closure.get("objects", {}))
    return "\n".join(lines)


def _object_checks_html(checks: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Tables of the per-object checks (b-tag per flavour, close-by jets, leptons)."""
    if not checks:
        return []
    lines = ["<table><tr><th>check</th><th>truth bin</th><th>objects</th><th>teacher</th>"
             "<th>learnt</th><th>learnt − teacher</th><th>status</th></tr>"]
    css = {True: ("PASS", "pass"), False: ("FAIL", "fail"), None: ("n/a", "na")}
    for name, rows in checks.items():
        for label, r in rows.items():
            values = [f"{r[k]:.4f}" if r[k] is not None else "–" for k in ("teacher", "learnt")]
            diff = "–" if r["diff"] is None else f"{r['diff']:+.4f} ± {r['sigma']:.4f}"
            text, cls = css[r["pass"]]
            cells = [name, label, str(r["objects"]), *values, diff]
            lines.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                         + f'<td class="{cls}">{text}</td></tr>')
    lines.append("</table>")
    return lines


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    wide = ' class="wide"' if path.stem.endswith(("_resolution", "_correlations")) else ""
    return f'<img{wide} alt="{path.stem}" title="{path.name}" src="data:image/png;base64,{data}">'


def _provenance_html(provenance: Mapping[str, Any], info: Mapping[str, Any]) -> str:
    items = [f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in info.items()]
    for h in provenance.get("holdout", []):
        items.append(f"<li><b>hold-out</b>: {html.escape(str(h))}</li>")
    for kind, sources in provenance.get("training", {}).items():
        text = "; ".join(
            f"{s.get('process')} seed {s.get('seed')} ({s.get('source')})" for s in sources
        ) or "not recorded in the model card"
        items.append(f"<li><b>{kind} training data</b>: {html.escape(text)}</li>")
    if provenance.get("seed_overlap"):
        items.append(
            f'<li class="warn">hold-out seed also used in training: {provenance["seed_overlap"]}'
            "</li>"
        )
    new = provenance.get("new_process")
    verdict = {True: "yes (process-independence test)", False: "no", None: "unknown"}[new]
    items.append(f"<li><b>hold-out process outside the training mix</b>: {verdict}</li>")
    return "<ul>" + "\n".join(items) + "</ul>"


def write_html(
    path: str | Path,
    metrics: Mapping[str, Mapping[str, Any]],
    figures: Mapping[str, Sequence[Path]],
    provenance: Mapping[str, Any],
    info: Mapping[str, Any],
) -> Path:
    """Write the report page (figures embedded as base64 PNG) and return its path."""
    kinds = {k: m for k, m in metrics.items() if k != "closure"}
    checks = [v for m in kinds.values() for v in m.get("pass", {}).values()]
    checks += [s["pass"] for s in metrics.get("closure", {}).get("selections", {}).values()]
    n_pass, n_fail = checks.count(True), checks.count(False)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>mlsmear validation</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>mlsmear validation: {html.escape(str(info.get('model', '')))}</h1>",
        f"<p><b>{n_pass} passed, {n_fail} failed, {checks.count(None)} not decisive</b>. Bins "
        "enter a figure when their statistical uncertainty is below "
        f"{html.escape(str(SELECTION))}; a figure decides its bar only when its own uncertainty "
        f"is below {DECISIVE:g} × the bar (n/a otherwise). Noise floor: "
        "the model against itself with another seed (what each figure reads for a perfect "
        "model at these statistics).</p>",
        _provenance_html(provenance, info),
    ]
    for kind, kind_metrics in kinds.items():
        parts += [f"<h2>{kind}</h2>", _kind_table(kind, kind_metrics), "<div class='figs'>"]
        parts += [_image(p) for p in figures.get(kind, ())]
        parts.append("</div>")
    if metrics.get("closure", {}).get("selections"):
        parts += ["<h2>analysis closure: the same events, the same selections</h2>",
                  _closure_html(metrics["closure"]), "<div class='figs'>"]
        parts += [_image(p) for p in figures.get("closure", ())]
        parts.append("</div>")
    elif "closure" in metrics:  # leptons alone (guns): their per-object checks
        parts += ["<h2>lepton efficiency, teacher vs learnt on the same truth objects</h2>",
                  *_object_checks_html(metrics["closure"].get("objects", {}))]
    parts.append("</body></html>")
    path = Path(path)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def text_table(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """A short plain-text table of the figures that have a bar (for the terminal)."""
    lines = [f"{'kind':9} {'metric':18} {'mlsmear':>22} {'baseline':>12}  bar"]
    for kind, m in metrics.items():
        if kind == "closure":
            for name, _, teacher, _, ratio, status in _closure_rows(m):
                lines.append(f"{'closure':9} {name:18} {ratio:>22} {teacher:>6} teacher  {status}")
            continue
        for row in _rows(m):
            bar = _bar(kind, row.key)
            if bar is None and row.key != "auc":
                continue
            value = row.format(row.value(m), m.get(f"{row.key}_unc"))
            base = row.format(row.value(m.get("baseline"))) if m.get("baseline") else ""
            text = f"{kind:9} {row.key:18} {value:>22} {base:>12}  {bar.text if bar else ''} "
            lines.append((text + _status(row.key, m)[0]).rstrip())
    return "\n".join(lines)
