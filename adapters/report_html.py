"""The conform report: one HTML page an editor works from (inline SVG and CSS, no scripts,
no network; its players and links point at the files beside it).

At the top: the problems (events left out, lines that could not be read), the notes,
the stem (start timecode, length, sample rate) and the files. Per event: record
timecode, source, detector, onset count, engine, whether it was computed or reused,
the onsets on the detector's curve over the clip with a time axis (the part on
picture shaded; a wider view on click), the hits with their record timecodes, a player
for the event's clip and links to its WAV, JSON and MIDI, and every warning.
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
    hits: tuple[tuple[str, float], ...] = ()  # (record timecode, strength) of each hit on picture
    files: tuple[tuple[str, str], ...] = ()  # (kind, path relative to the report): wav, json, mid


@dataclass(frozen=True)
class StemSummary:
    start: str  # record timecode of its first sample
    seconds: float
    sample_rate: int
    channels: int
    path: str  # relative to the report


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
    stem: Optional[StemSummary] = None


W, H = 360, 56
AXIS = 14  # pixels under the curve for the time axis


def _step(length: float, width: int) -> float:
    """Seconds between axis ticks: a round number giving ticks at least 50 pixels apart."""
    for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if s * (width - 8) / max(length, 1e-9) >= 50:
            return s
    return 600.0


def sparkline(row: ReportRow, width: int = W) -> str:
    """The onsets on the detector's curve over the clip, with a time axis in seconds from the
    clip's first sample (its record timecode is in the row)."""
    if row.length <= 0:
        return ""
    total = H + AXIS

    def x(t: float) -> float:
        return round(4 + (width - 8) * max(0.0, min(1.0, t / row.length)), 1)

    parts = [f'<svg width="{width}" height="{total}" viewBox="0 0 {width} {total}" role="img" '
             f'aria-label="onsets of event {row.number}">',
             f'<rect x="{x(row.visible[0])}" y="0" width="{max(0.0, x(row.visible[1]) - x(row.visible[0]))}" '
             f'height="{H}" fill="#eef3fb"/>',
             f'<line x1="4" x2="{width - 4}" y1="{H}" y2="{H}" stroke="#999"/>']
    step = _step(row.length, width)
    k = 0
    while k * step <= row.length + 1e-9:
        t = k * step
        label = f"{t:g}s" if step < 1 else f"{int(round(t))}s"
        parts.append(f'<line x1="{x(t)}" x2="{x(t)}" y1="{H}" y2="{H + 3}" stroke="#999"/>'
                     f'<text x="{x(t)}" y="{total - 1}" font-size="9" text-anchor="middle" fill="#666">{label}</text>')
        k += 1
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


def _event_cell(r: ReportRow) -> str:
    """The picture (a wider one on click), the hits, a player and the event's files."""
    e = html.escape
    out = []
    if r.length > 0:
        wide = max(W, min(1400, int(r.length * 120)))  # long events get room instead of a barcode
        out.append(f"<details class='pic'><summary>{sparkline(r)}</summary>{sparkline(r, wide)}</details>")
    if r.hits:
        items = "".join(f"<li><code>{e(tc)}</code> {s:.2f}</li>" for tc, s in r.hits)
        out.append(f"<details class='hits'><summary>{len(r.hits)} hits (record timecode, strength)</summary>"
                   f"<ol>{items}</ol></details>")
    wav = next((p for kind, p in r.files if kind == "wav"), None)
    if wav:
        out.append(f"<audio controls preload='none' src='{e(wav, quote=True)}'></audio>")
    if r.files:
        out.append("<div class='files'>" + " ".join(f"<a href='{e(p, quote=True)}'>{e(kind)}</a>"
                                                     for kind, p in r.files) + "</div>")
    return "".join(out)


def render(summary: ReportSummary, rows: Sequence[ReportRow]) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>syncfoley conform: {e(summary.title)}</title><style>",
        "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}",
        "td,th{padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top;text-align:left}",
        ".skipped{background:#fff1f0}.reused{color:#555}.warn{color:#a55b00;font-size:12px}",
        ".problems li{color:#b00020}code{font-size:12px}details.pic summary{list-style:none;cursor:zoom-in}",
        "details.pic[open] summary{display:none}details.hits ol{margin:2px 0;padding-left:2em;columns:3}",
        "audio{height:28px;width:280px;display:block;margin-top:4px}.files a{margin-right:8px;font-size:12px}",
        ".pic svg{display:block}</style></head><body>",
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
    if summary.stem is not None:
        st = summary.stem
        out.append(f"<h2>Stem</h2><p><a href='{e(st.path, quote=True)}'><code>{e(st.path)}</code></a>: starts at "
                   f"<code>{e(st.start)}</code>, {st.seconds:.2f} s ({_clock(st.seconds)}), {st.sample_rate} Hz, "
                   f"{'mono' if st.channels == 1 else 'stereo'}, 24-bit Broadcast WAV</p>"
                   f"<audio controls preload='none' src='{e(st.path, quote=True)}'></audio>")
    if summary.outputs:
        out.append("<h2>Files</h2><ul>" + "".join(f"<li><a href='{e(o, quote=True)}'><code>{e(o)}</code></a></li>"
                                                  for o in summary.outputs) + "</ul>")
    out.append("<h2>Events</h2><table><tr><th>#</th><th>record</th><th>source</th><th>detector</th>"
               "<th>onsets</th><th>engine</th><th>status</th><th>onsets on the clip</th></tr>")
    for r in rows:
        warn = "".join(f"<div class='warn'>{e(w)}</div>" for w in r.warnings)
        took = f" ({r.seconds:.1f} s)" if r.status == "computed" and r.seconds else ""
        out.append(
            f"<tr class='{e(r.status)}'><td>{r.number}</td><td><code>{e(r.record)}</code></td><td>{e(r.source)}</td>"
            f"<td>{e(r.detector)}</td><td>{r.onsets}</td><td>{e(r.engine)}</td><td>{e(r.status)}{took}</td>"
            f"<td>{_event_cell(r)}{warn}</td></tr>"
        )
    out.append("</table>")
    out.append("</body></html>\n")
    return "\n".join(out)


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}"


def write(path: str | Path, summary: ReportSummary, rows: Sequence[ReportRow], overwrite: bool = False) -> Path:
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(render(summary, rows), encoding="utf-8")
    return Path(path)
