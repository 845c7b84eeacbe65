"""Finding each event's source media under the media roots, timecode-aware.

An event names its media in up to four ways, tried in this order: the timeline's
``target_url`` (OTIO), the EDL's ``SOURCE FILE``, its ``FROM CLIP NAME``, its reel.
A name matches a file under a root by file name, else by name without extension
(clip names often carry the camera's extension, ``A001C003.R3D``, while the media
at hand is a proxy, ``A001C003.mov``). When several files match, the first whose
timecode span holds the event's source range wins, so two takes with the same
reel name but different start timecodes resolve correctly.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from syncfoley.adapters import edl
from syncfoley.adapters.timeline import Cut, CutEvent, url_to_path
from syncfoley.core.errors import MediaError, RequestError
from syncfoley.engine.media import video as media

VIDEO_EXTENSIONS = {".mov", ".mp4", ".m4v", ".mxf", ".avi", ".mkv", ".mts", ".m2ts", ".webm", ".mpg", ".mpeg",
                    ".ts", ".dv"}


@dataclass(frozen=True)
class MediaMatch:
    path: Path
    how: str  # "target_url", "source file", "clip name" or "reel"
    info: media.VideoInfo
    start: int  # the media's first frame as a frame count at the cut's rate (its start timecode)
    start_from: str  # "embedded timecode", "timeline" or "none (00:00:00:00)"

    def seconds(self, source_frame: float, rate: float) -> float:
        """Seconds from the media's first frame of a timecode-absolute source frame."""
        return (source_frame - self.start) / rate


class MediaIndex:
    """The video files under the media roots, by lower-case name and stem; probes are cached."""

    def __init__(self, roots: Sequence[str | Path], allowed: Optional[Sequence[str | Path]] = None) -> None:
        """``allowed``: when given, only media under these folders may be used, whatever the
        timeline names (the daemon's ``--media-root``)."""
        self.roots = [Path(r) for r in roots]
        self.allowed = [Path(a).resolve() for a in allowed] if allowed else None
        for r in self.roots:
            if not r.is_dir():
                raise RequestError(f"media root {r} is not a folder; give --media-root DIR for each folder "
                                   "that holds the source media")
        self.by_name: dict[str, list[Path]] = {}
        self.by_stem: dict[str, list[Path]] = {}
        for root in self.roots:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for f in sorted(filenames):
                    p = Path(dirpath) / f
                    if p.suffix.lower() in VIDEO_EXTENSIONS and not f.startswith("."):
                        self.by_name.setdefault(f.lower(), []).append(p)
                        self.by_stem.setdefault(p.stem.lower(), []).append(p)
        self._probes: dict[Path, media.VideoInfo | MediaError] = {}

    def inside(self, path: Path) -> bool:
        """Whether this conform may read ``path`` (as it resolves now)."""
        return self.allowed is None or any(path.resolve().is_relative_to(a) for a in self.allowed)

    def probe(self, path: Path) -> media.VideoInfo:
        if not self.inside(path):  # not even opened: a probe decodes, and that is a read
            raise MediaError(f"{path} is outside the media roots this conform may read "
                             f"({', '.join(str(a) for a in self.allowed or ())})")
        if path not in self._probes:
            try:
                self._probes[path] = media.probe(path)
            except MediaError as exc:
                self._probes[path] = exc
        got = self._probes[path]
        if isinstance(got, MediaError):
            raise got
        return got

    def _named(self, name: str) -> list[Path]:
        base = re.split(r"[\\/]", name.strip())[-1]
        if not base:
            return []
        hits = list(self.by_name.get(base.lower(), []))
        stem = Path(base).stem.lower()
        for key in dict.fromkeys((base.lower(), stem)):
            hits += [p for p in self.by_stem.get(key, []) if p not in hits]
        return hits

    def candidates(self, ev: CutEvent) -> list[tuple[Path, str]]:
        out: list[tuple[Path, str]] = []

        def add(paths: list[Path], how: str) -> None:
            out.extend((p, how) for p in paths if all(p != q for q, _ in out))

        if ev.target_url:
            local = url_to_path(ev.target_url)
            if local is not None and local.is_file():
                add([local], "target_url")
            elif local is not None:
                add(self._named(local.name), "target_url")
        if ev.source_file:
            sf = Path(ev.source_file)
            add([sf] if sf.is_absolute() and sf.is_file() else self._named(ev.source_file), "source file")
        if ev.clip_name:
            add(self._named(ev.clip_name), "clip name")
        add(self._named(ev.reel), "reel")
        return out

    def resolve(self, ev: CutEvent, cut: Cut) -> MediaMatch:
        """The media for an event, whose timecode span holds the event's source range."""
        found = self.candidates(ev)
        fenced = ""
        if self.allowed is not None:
            outside = [p for p, _ in found if not self.inside(p)]
            found = [(p, how) for p, how in found if p not in outside]
            if outside:
                fenced = (f"{outside[0]} is outside the media roots this conform may read "
                          f"({', '.join(str(a) for a in self.allowed)})")
                if not found:
                    raise MediaError(fenced)
                fenced = f"; {fenced}"
        if not found:
            names = [f"{k} {v!r}" for k, v in (("target_url", ev.target_url), ("source file", ev.source_file),
                                                  ("clip name", ev.clip_name), ("reel", ev.reel)) if v]
            roots = ", ".join(str(r) for r in self.roots) or "(no --media-root given)"
            raise MediaError(f"no media found for {', '.join(names)} under {roots}")
        lo, hi = sorted((ev.source_at(ev.record_in), ev.source_at(ev.record_out)))
        rate = float(cut.rate)
        tried = []
        last_error: Optional[MediaError] = None
        for path, how in found:
            try:
                info = self.probe(path)
            except MediaError as exc:
                last_error = exc
                continue
            start, start_from = media_start(info, ev, cut)
            end = start + info.duration * rate
            # One frame of slack: a file's last frame often ends a rounding short of the list's out point.
            if start - 1 <= lo and hi <= end + 1:
                return MediaMatch(path, how, info, start, start_from)
            tried.append(f"{path.name} (TC {cut.tc(start)}-{cut.tc(int(round(end)))}, {start_from})")
        if not tried and last_error is not None:
            raise last_error
        raise MediaError(f"the event's source TC {cut.tc(int(lo))}-{cut.tc(int(round(hi)))} is longer than or "
                         f"outside its media: {'; '.join(tried)}{fenced}")


def media_start(info: media.VideoInfo, ev: CutEvent, cut: Cut) -> tuple[int, str]:
    """The media's start timecode as frames at the cut's rate: embedded, else the timeline's, else zero."""
    if info.timecode:
        try:
            return edl.tc_to_frames(info.timecode, cut.fps, ";" in info.timecode), "embedded timecode"
        except ValueError:
            pass
    if ev.media_start is not None:
        return ev.media_start, "timeline"
    return 0, "none (00:00:00:00)"
