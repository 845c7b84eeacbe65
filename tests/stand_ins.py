"""Stand-in media for real EDLs: one small clip per source the list names, with the right name,
embedded start timecode and length, and a flash every half second so there is action to find."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from syncfoley.adapters import edl
from syncfoley.adapters.timeline import Cut

SIZE = (48, 32)  # width, height: tiny, the detector only needs something to see


def media_name(ev: object) -> str:
    """The file name the media lookup finds first for an event: SOURCE FILE, else clip name, else reel."""
    name = getattr(ev, "source_file", None) or getattr(ev, "clip_name", None) or ev.reel
    base = Path(name.replace("\\", "/")).name
    return Path(base).stem if Path(base).suffix else base


def frames(count: int, fps: float) -> Iterator[np.ndarray]:
    h, w = SIZE[1], SIZE[0]
    period = max(2, int(round(fps / 2)))
    for i in range(count):
        img = np.full((h, w, 3), 40, np.uint8)
        phase = i % period
        # A block that falls for a few frames and stops dead: an impact every half second.
        y = min(h - 10, 2 + phase * 6)
        img[y:y + 8, w // 2 - 4:w // 2 + 4] = 220
        yield img


def make(cut: Cut, folder: Path, margin: float = 1.0) -> dict[str, Path]:
    """Write one MOV per source of ``cut`` into ``folder``: start timecode ``margin`` s before the
    first frame any event uses, long enough for the last one plus ``margin``."""
    from syncfoley.engine.media.video import write_video

    spans: dict[str, list[int]] = {}
    for ev in cut.events:
        lo = int(min(ev.source_at(ev.cover_in), ev.source_at(ev.cover_out)))
        hi = int(max(ev.source_at(ev.cover_in), ev.source_at(ev.cover_out))) + 1
        span = spans.setdefault(media_name(ev), [lo, hi])
        span[0], span[1] = min(span[0], lo), max(span[1], hi)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    pad = int(round(margin * float(cut.rate)))
    for name, (lo, hi) in spans.items():
        start = max(0, lo - pad)
        path = folder / f"{name}.mov"
        write_video(path, frames(hi + pad - start, float(cut.rate)), cut.rate, codec="mjpeg",
                    timecode=edl.frames_to_tc(start, cut.fps, cut.drop_frame))
        out[name] = path
    return out
