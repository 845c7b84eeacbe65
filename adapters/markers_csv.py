"""Onsets as a CSV of markers: ``time,strength,confidence`` with a header, seconds."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from syncfoley.core.atomic import atomic_path
from syncfoley.core.errors import FormatError
from syncfoley.engine.types import Onset, OnsetTrack

HEADER = ("time", "strength", "confidence")


def write(track: OnsetTrack, path: str | Path, overwrite: bool = False) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    for o in track.onsets:
        w.writerow([f"{o.time:.6f}", f"{o.strength:.4f}", f"{o.confidence:.4f}"])
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return Path(path)


def read(path: str | Path) -> OnsetTrack:
    """Read a marker CSV: a ``time`` column (seconds), optional ``strength``/``confidence``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FormatError(f"no such markers file: {p}") from None
    except UnicodeDecodeError:
        raise FormatError(f"{p} is not a text CSV file") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].startswith("#")]
    if not rows:
        raise FormatError(f"{p} holds no markers")
    header = [c.strip().lower() for c in rows[0]]
    if "time" in header:
        cols = {name: header.index(name) for name in HEADER if name in header}
        rows = rows[1:]
    else:
        cols = {name: i for i, name in enumerate(HEADER[: len(rows[0])])}
    onsets = []
    for n, row in enumerate(rows, start=2 if "time" in header else 1):
        try:
            values = {k: float(row[i]) for k, i in cols.items() if i < len(row) and row[i].strip()}
            onsets.append(Onset(values["time"], values.get("strength", 1.0), values.get("confidence", 1.0)))
        except (ValueError, KeyError):
            # The line itself is not quoted: the message may reach a daemon's client.
            raise FormatError(f"{p}, line {n}: expected seconds in the time column (and numbers in "
                              f"{', '.join(k for k in cols if k != 'time') or 'no other column'})") from None
        except FormatError as exc:
            raise FormatError(f"{p}, line {n}: {exc}") from None
    return OnsetTrack(
        source=str(p),
        duration=max(o.time for o in onsets) if onsets else 0.0,
        fps=0.0,
        detector="markers",
        onsets=tuple(onsets),
    )
