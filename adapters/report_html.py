"""The conform report: one self-contained HTML page (inline SVG, no scripts, no network).

Per event: record timecode, source, detector, onset count, engine, whether it was
computed or reused, a small picture of the onsets on the detector's curve over the
clip (the visible part shaded), and every warning. Problems (events left out, lines
that could not be read) are listed at the top.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from syncfoley.core.atomic import atomic_path


@dataclass(frozen=True)
class ReportRow:
    number: int
    record: str  # "01:00:00:00 - 01:00:02:12"
    source: str
    status: str  # "computed", "reused" or "skipped"
    detector: str = ""
    onsets: int = 0
    engine: str = ""
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    length: float = 0.0  # clip seconds
    visible: tuple[float, float] = (0.0, 0.0)  # clip seconds on picture
    onset_times: tuple[float, ...] = ()
    curve_times: tuple[float, ...] = ()
    curve_values: tuple[float, ...] = ()
    curve_label: str = ""
    threshold: Optional[float] = None


@dataclass(frozen=True)
class ReportSummary:
    title: str
    timeline: str
    rate: str
    events: int
    computed: int
    reused: int
    skipped: int
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    outputs: tuple[str, ...] = field(default=())


W, H = 360, 56


def sparkline(row: ReportRow) -> str:
    if row.length <= 0:
        return ""

    def x(t: float) -> float:
        return round(4 + (W - 8) * max(0.0, min(1.0, t / row.length)), 1)

    parts = [f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" '
             f'aria-label="onsets of event {row.number}">',
             f'<rect x="{x(row.visible[0])}" y="0" width="{max(0.0, x(row.visible[1]) - x(row.visible[0]))}" '
             f'height="{H}" fill="#eef3fb"/>']
    if row.curve_values:
        top = max(max(row.curve_values), row.threshold or 0.0) or 1.0

        def y(v: float) -> float:
            return round(H - 4 - (H - 10) * v / top, 1)

        pts = " ".join(f"{x(t)},{y(v)}" for t, v in zip(row.curve_times, row.curve_values))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#8a9bb0" stroke-width="1"/>')
        if row.threshold:
            parts.append(f'<line x1="4" x2="{W - 4}" y1="{y(row.threshold)}" y2="{y(row.threshold)}" '
                         'stroke="#c8a0a0" stroke-dasharray="3 3"/>')
    for t in row.onset_times:
        parts.append(f'<line x1="{x(t)}" x2="{x(t)}" y1="2" y2="{H - 2}" stroke="#d0342c" stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)


def render(summary: ReportSummary, rows: Sequence[ReportRow]) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>syncfoley conform: {e(summary.title)}</title><style>",
        "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}",
        "td,th{padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top;text-align:left}",
        ".skipped{background:#fff1f0}.reused{color:#555}.warn{color:#a55b00;font-size:12px}",
        ".problems li{color:#b00020}code{font-size:12px}</style></head><body>",
        f"<h1>Foley conform: {e(summary.title)}</h1>",
        f"<p><code>{e(summary.timeline)}</code> at {e(summary.rate)} fps, made {e(time.strftime('%Y-%m-%d %H:%M'))}</p>",
        f"<p><b>{summary.events}</b> picture events: <b>{summary.computed}</b> computed, "
        f"<b>{summary.reused}</b> reused from the cache, <b>{summary.skipped}</b> skipped.</p>",
    ]
    if summary.problems:
        out.append("<h2>Problems</h2><ul class='problems'>")
        out += [f"<li>{e(p)}</li>" for p in summary.problems]
        out.append("</ul>")
    if summary.notes:
        out.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in summary.notes) + "</ul>")
    out.append("<h2>Events</h2><table><tr><th>#</th><th>record</th><th>source</th><th>detector</th>"
               "<th>onsets</th><th>engine</th><th>status</th><th>onsets on the clip</th></tr>")
    for r in rows:
        warn = "".join(f"<div class='warn'>{e(w)}</div>" for w in r.warnings)
        took = f" ({r.seconds:.1f} s)" if r.status == "computed" and r.seconds else ""
        out.append(
            f"<tr class='{e(r.status)}'><td>{r.number}</td><td><code>{e(r.record)}</code></td><td>{e(r.source)}</td>"
            f"<td>{e(r.detector)}</td><td>{r.onsets}</td><td>{e(r.engine)}</td><td>{e(r.status)}{took}</td>"
            f"<td>{sparkline(r)}{warn}</td></tr>"
        )
    out.append("</table>")
    if summary.outputs:
        out.append("<h2>Files</h2><ul>" + "".join(f"<li><code>{e(o)}</code></li>" for o in summary.outputs) + "</ul>")
    out.append("</body></html>\n")
    return "\n".join(out)


def write(path: str | Path, summary: ReportSummary, rows: Sequence[ReportRow], overwrite: bool = False) -> Path:
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(render(summary, rows), encoding="utf-8")
    return Path(path)
