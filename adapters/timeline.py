"""A cut to conform, from any timeline format: the picture events with frame-exact ranges.

``read(path)`` accepts CMX 3600 ``.edl`` (read by :mod:`.edl`, which names every bad
line), and through OpenTimelineIO ``.otio``, ``.otioz``, FCP 7 ``.xml`` and
``.fcpxml``. Every event becomes a :class:`CutEvent`: frames counted at the cut's
rate from 00:00:00:00, source timecode-absolute, plus what conform needs that
editors write in different ways: the speed (``M2``, freeze frame, OTIO time
warps) as source frames per record frame, and the transitions as a lead/tail of
extra sound around the event with the frames it fades over.

Coverage of an event, in record frames: it sounds over
``[record_in - lead, record_out + tail)``, fading in over the first ``fade_in``
frames and out over the last ``fade_out``. A CMX dissolve of d frames gives the
incoming event ``fade_in = d`` (its record in is where the dissolve starts) and
the outgoing one ``tail = fade_out = d``; an OTIO transition with in/out offsets
a, b gives the incoming ``lead = a`` and the outgoing ``tail = b``, both fading
over a + b.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote, urlparse

from syncfoley.adapters import edl
from syncfoley.core.errors import TimelineError, one_of
from syncfoley.core.fence import check_read

# A year at 60 fps: far beyond any cut, small enough that nothing overflows or allocates for it.
MAX_FRAMES = 60 * 3600 * 24 * 366

FORMATS = {".edl": "CMX 3600 EDL", ".otio": "OpenTimelineIO", ".otioz": "OpenTimelineIO zip",
           ".xml": "Final Cut Pro 7 XML", ".fcpxml": "FCPXML"}


@dataclass(frozen=True)
class Problem:
    """Something left out of a conform, and where: ``cut.edl:12`` or ``event 7``."""

    where: str
    message: str
    event: Optional[int] = None

    def __str__(self) -> str:
        return self.message if self.message.startswith(self.where) else f"{self.where}: {self.message}"


@dataclass(frozen=True)
class CutEvent:
    number: int
    where: str  # "cut.edl:12" or "V1 clip 3"
    reel: str
    source_in: int
    source_out: int
    record_in: int
    record_out: int
    clip_name: Optional[str] = None
    source_file: Optional[str] = None
    target_url: Optional[str] = None
    media_start: Optional[int] = None  # the reference's own start timecode (frames), when the timeline says it
    speed: float = 1.0  # source frames per record frame; 0 is a freeze frame, negative plays backwards
    lead: int = 0
    tail: int = 0
    fade_in: int = 0
    fade_out: int = 0
    transition: str = "C"

    @property
    def name(self) -> str:
        return self.clip_name or (Path(self.source_file).name if self.source_file else None) or self.reel

    @property
    def record_frames(self) -> int:
        return self.record_out - self.record_in

    @property
    def cover_in(self) -> int:
        return self.record_in - self.lead

    @property
    def cover_out(self) -> int:
        return self.record_out + self.tail

    def source_at(self, record_frame: float) -> float:
        """The source frame (timecode-absolute, fractional) on screen at a record frame."""
        if self.speed < 0:
            return self.source_out + (record_frame - self.record_in) * self.speed
        return self.source_in + (record_frame - self.record_in) * self.speed


@dataclass(frozen=True)
class Cut:
    path: str
    title: str
    kind: str  # "edl" or "otio"
    rate: Fraction
    drop_frame: bool
    rate_source: str
    events: tuple[CutEvent, ...]
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def fps(self) -> int:
        return round(self.rate)

    @property
    def record_start(self) -> int:
        return min(e.cover_in for e in self.events)

    @property
    def record_end(self) -> int:
        return max(e.cover_out for e in self.events)

    def tc(self, frames: int) -> str:
        return edl.frames_to_tc(frames, self.fps, self.drop_frame)


def read(path: str | Path, rate: Optional[str] = None, strict: bool = False) -> Cut:
    """Read a timeline for conform. Lines or clips that cannot be used are left out and
    listed in ``Cut.problems`` (``strict=True`` raises on the first instead)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.is_file():
        raise TimelineError(f"no such timeline: {p}")
    if rate is not None and rate not in edl.RATES:
        raise TimelineError(f"unknown frame rate {rate!r}; choose {one_of(list(edl.RATES))}")
    check_read(p, "timeline")
    if suffix not in FORMATS:
        if not _looks_like_cmx(p):
            raise TimelineError(f"cannot tell the timeline format of {p.name}; give {one_of(sorted(FORMATS))} "
                                "(a CMX 3600 list is read whatever its extension)")
        suffix = ".edl"  # a CDL-carrying list (.cdl), a .txt export ...
    if suffix == ".edl":
        return from_edl(edl.read(p, rate=rate, strict=strict))
    return _from_otio(p, rate)


def _looks_like_cmx(p: Path) -> bool:
    """Whether a file of another extension holds a CMX 3600 list: a TITLE or FCM line, or an
    event line, among its first lines."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(16384).decode("utf-8", "replace")
    except OSError:
        return False
    for line in head.splitlines()[:50]:
        s = line.strip()
        if s.upper().startswith(("TITLE:", "FCM:")) or edl.is_event_line(s):
            return True
    return False


def from_edl(e: edl.Edit) -> Cut:
    name = Path(e.path).name
    problems = [Problem(f"{name}:{line}", msg) for line, msg in e.problems]
    notes = list(e.warnings)
    events: list[CutEvent] = []
    no_picture: dict[str, int] = {}
    generated: dict[str, int] = {}
    for ev in e.events:
        if ev.record_frames == 0:
            continue  # the outgoing side of a transition, written as a zero-length event
        if not edl.has_picture(ev.channels):
            kind = "NONE" if ev.channels.upper().startswith("NONE") else "audio"
            no_picture[kind] = no_picture.get(kind, 0) + 1
            continue
        if _generated(ev):
            generated[ev.reel.upper()] = generated.get(ev.reel.upper(), 0) + 1
            continue
        if ev.freeze:
            speed = 0.0
        elif ev.speed is not None:
            speed = ev.speed / e.fps
            speed = 1.0 if abs(speed - 1.0) < 0.002 else speed
        else:
            speed = 1.0
        events.append(CutEvent(
            number=ev.number, where=f"{name}:{ev.line}", reel=ev.reel, source_in=ev.source_in,
            source_out=ev.source_out, record_in=ev.record_in, record_out=ev.record_out, clip_name=ev.clip_name,
            source_file=ev.source_file, speed=speed, transition=ev.transition,
            # A dissolve (or wipe) of d frames: the incoming event fades in over its first d frames...
            fade_in=min(ev.transition_frames, ev.record_frames) if ev.transition != "C" else 0,
        ))
    # ...while the outgoing one plays on d frames past its record out, fading out.
    for i, cut_ev in enumerate(events):
        d = cut_ev.fade_in
        if d <= 0:
            continue
        for j in range(i - 1, -1, -1):
            if events[j].record_out == cut_ev.record_in:
                events[j] = replace(events[j], tail=d, fade_out=d)
                break
    # One note per kind, not one per event (Adobe's lists carry hundreds of each).
    if no_picture:
        kinds = " and ".join(f"{n} {'audio-only' if k == 'audio' else 'NONE-channel'}" for k, n in
                             sorted(no_picture.items()))
        notes.append(f"{name}: {kinds} event(s) carry no picture; left out")
    if generated:
        what = ", ".join(f"{n} {reel}" for reel, n in sorted(generated.items()))
        notes.append(f"{name}: generated sources ({what}: black, bars or an auxiliary source with no file) "
                     "make no Foley; left out")
    notes += _overlaps(name, events)
    if not events:
        if no_picture and not generated:
            n = sum(no_picture.values())
            raise TimelineError(f"{name}: an audio-only list ({n} event{'s' if n != 1 else ''}, none on a "
                                "picture channel); conform follows picture: give the picture cut's EDL")
        why = notes[-1] if notes else (str(problems[0]) if problems else "no events")
        raise TimelineError(f"{name}: no picture events to conform ({why})")
    return Cut(e.path, e.title, "edl", e.rate, e.drop_frame, e.rate_source, tuple(events), tuple(problems),
               tuple(notes))


# Reels that name no recording: black, colour bars; "AX" (an auxiliary source) only when
# no clip or file name says what it is (then it is a title or a generator).
GENERATED_REELS = ("BL", "BLK", "BLACK", "BARS")


def _generated(ev: edl.EdlEvent) -> bool:
    reel = ev.reel.upper()
    return reel in GENERATED_REELS or reel == "AX" and not ev.clip_name and not ev.source_file


def _overlaps(name: str, events: list[CutEvent]) -> list[str]:
    """A note for each pair of picture events on the same record time (beyond a dissolve's
    overlap): both are conformed, the later on a second Foley track."""
    out = []
    ordered = sorted(events, key=lambda ev: (ev.record_in, ev.number))
    for a, b in zip(ordered, ordered[1:]):
        if b.record_in < a.record_out and b.fade_in == 0:
            out.append(f"{name}: events {a.number} and {b.number} overlap on the record side ({b.record_in}-"
                       f"{min(a.record_out, b.record_out)} in frames); both are conformed, event {b.number} "
                       "on a second Foley track")
    return out


def read_otio(path: str | Path) -> Any:
    """The timeline of a file OpenTimelineIO reads (the first, for a collection of them)."""
    import opentimelineio as otio

    p = Path(path)
    try:
        tl = otio.adapters.read_from_file(str(p))
    except Exception as exc:  # OTIO's adapters raise many kinds; all mean "cannot read this file"
        raise TimelineError(f"{p.name}: OpenTimelineIO cannot read it ({type(exc).__name__}: {exc})") from None
    if isinstance(tl, otio.schema.SerializableCollection):
        timelines = list(tl.find_children(descended_from_type=otio.schema.Timeline)) or list(tl)
        if not timelines:
            raise TimelineError(f"{p.name}: holds no timeline")
        tl = timelines[0]
    if not isinstance(tl, otio.schema.Timeline):
        raise TimelineError(f"{p.name}: holds a {type(tl).__name__}, not a timeline")
    _check_size(tl, p.name)
    return tl


# Sequences inside sequences: editors nest a few levels; thousands only make every writer
# (ours, OTIO's indenting JSON) produce files quadratic in the depth.
MAX_NESTING = 32
MAX_ITEMS = 100_000


def _check_size(tl: Any, name: str) -> None:
    """Refuse a timeline nested too deeply or holding too many items, walking it without recursion."""
    import opentimelineio as otio

    todo: list[tuple[Any, int]] = [(tl.tracks, 0)]
    items = 0
    while todo:
        comp, depth = todo.pop()
        if depth > MAX_NESTING:
            raise TimelineError(f"{name}: sequences nested more than {MAX_NESTING} deep; flatten the nesting "
                                "in the editor and export again")
        for child in comp:
            items += 1
            if items > MAX_ITEMS:
                raise TimelineError(f"{name}: more than {MAX_ITEMS} items; conform it reel by reel")
            if isinstance(child, otio.core.Composition):
                todo.append((child, depth + 1))


def _from_otio(p: Path, rate: Optional[str]) -> Cut:
    import opentimelineio as otio

    tl = read_otio(p)
    fr = edl.RATES[rate] if rate is not None else _otio_rate(tl)
    if fr is None:
        raise TimelineError(f"{p.name}: cannot tell the timeline's frame rate; give --rate, "
                            f"one of {one_of(list(edl.RATES))}")
    drop = fr in (edl.RATES["29.97"], edl.RATES["59.94"])
    start = tl.global_start_time

    def frames(t: Any) -> int:
        value = t.rescaled_to(float(fr)).value
        if not math.isfinite(value) or abs(value) > MAX_FRAMES:
            raise TimelineError(f"a time of {value} frames is not a usable time (NaN, infinite or beyond "
                                f"{MAX_FRAMES} frames)")
        return int(round(value))

    try:
        origin = frames(start) if start is not None else 0
    except TimelineError as exc:
        raise TimelineError(f"{p.name}: global start time: {exc}") from None
    events: list[CutEvent] = []
    problems: list[Problem] = []
    notes: list[str] = []
    number = 0
    nested = 0
    for ti, track in enumerate(tl.video_tracks(), start=1):
        try:
            offset = -frames(track.source_range.start_time) if track.source_range is not None else 0
        except TimelineError as exc:
            raise TimelineError(f"{p.name}: V{ti}: {exc}") from None
        items = list(track)
        for ci, item in enumerate(items, start=1):
            where = f"V{ti} item {ci}"
            if isinstance(item, otio.schema.Stack):
                nested += 1
                if nested <= 3:  # a few named; thousands are counted, not listed
                    notes.append(f"{p.name}: {where}: a nested sequence; flatten it to conform its clips")
                continue
            if not isinstance(item, otio.schema.Clip):
                continue
            number += 1
            try:
                event = _otio_event(item, items, ci - 1, number, f"{p.name}: {where}", frames, origin + offset)
                if event is not None:
                    events.append(event)
            except TimelineError as exc:
                problems.append(Problem(f"{p.name}: {where}", str(exc), number))
    if nested > 3:
        notes.append(f"{p.name}: {nested - 3} more nested sequences left out")
    if not events:
        why = str(problems[0]) if problems else "no clips on a video track"
        raise TimelineError(f"{p.name}: no picture events to conform ({why})")
    return Cut(str(p), tl.name or p.stem, "otio", fr, drop, "given" if rate else "timeline", tuple(events),
               tuple(problems), tuple(notes))


def _otio_rate(tl: Any) -> Optional[Fraction]:
    rates = [tl.global_start_time.rate] if tl.global_start_time is not None else []
    rates += [c.source_range.duration.rate for c in tl.find_clips() if c.source_range is not None]
    for r in rates:
        name = edl.rate_named(r)
        if name is not None:
            return edl.RATES[name]
    return None


def _otio_event(clip: Any, items: list[Any], index: int, number: int, where: str, frames: Any,
                record_origin: int) -> Optional[CutEvent]:
    """The clip as an event; None for a clip of no length (nothing plays, as an EDL's
    zero-length events)."""
    import opentimelineio as otio

    try:
        src = clip.trimmed_range()
    except Exception as exc:
        raise TimelineError(f"clip {clip.name!r} has no source range ({exc})") from None
    rip = clip.range_in_parent()
    record_in = record_origin + frames(rip.start_time)
    record_out = record_in + frames(rip.duration)
    if record_out < record_in:
        # OTIO stores what it is given: a negative duration would be a stem of negative length.
        raise TimelineError(f"clip {clip.name!r} lasts {record_out - record_in} frames; a clip lasts 0 frames or more")
    if record_out == record_in:
        return None
    speed = 1.0
    for fx in clip.effects:
        if isinstance(fx, otio.schema.FreezeFrame):
            speed = 0.0
        elif isinstance(fx, otio.schema.LinearTimeWarp):
            speed *= float(fx.time_scalar)
    if not math.isfinite(speed):
        raise TimelineError(f"clip {clip.name!r} plays at a speed of {speed:g}; a time warp is a finite number "
                            "(1 plays at normal speed, 0 freezes, below 0 plays backwards)")
    # As OTIO's CMX reader writes it, a time-warped clip's source range lasts as long as it
    # plays in the track; the media it uses lasts that times the speed.
    source_in = frames(src.start_time)
    used = max(1, int(round(frames(src.duration) * abs(speed))))
    source_out = source_in + used
    if speed < 0:
        source_in, source_out = source_in - used, source_in
    ref = clip.media_reference
    url = getattr(ref, "target_url", None)
    media_start = None
    if ref is not None and getattr(ref, "available_range", None) is not None:
        media_start = frames(ref.available_range.start_time)
    reel = str(((clip.metadata.get("cmx_3600") or {}).get("reel")) or clip.name or f"clip{number}")
    lead = tail = fade_in = fade_out = 0
    before = items[index - 1] if index > 0 else None
    after = items[index + 1] if index + 1 < len(items) else None
    offsets = {}  # (in, out) in frames of the transition before and after the clip, where there is one
    for side, item in (("before", before), ("after", after)):
        if isinstance(item, otio.schema.Transition):
            offsets[side] = frames(item.in_offset), frames(item.out_offset)
            if min(offsets[side]) < 0:
                raise TimelineError(f"a transition beside clip {clip.name!r} has offsets of {offsets[side][0]} and "
                                    f"{offsets[side][1]} frames; a transition's offsets are 0 frames or more")
    if "before" in offsets:
        lead, fade_in = offsets["before"][0], sum(offsets["before"])
    if "after" in offsets:
        tail, fade_out = offsets["after"][1], sum(offsets["after"])
    if record_in - lead < record_origin:
        # The incoming clip would start before the timeline does: Foley at a negative time.
        raise TimelineError(f"the transition before clip {clip.name!r} reaches {lead} frames back from its cut at "
                            f"frame {record_in - record_origin}, before the timeline starts")
    return CutEvent(
        number=number, where=where, reel=reel, source_in=source_in, source_out=source_out, record_in=record_in,
        record_out=record_out, clip_name=clip.name or None, target_url=url, media_start=media_start, speed=speed,
        lead=lead, tail=tail, fade_in=fade_in, fade_out=fade_out,
        transition="D" if fade_in else "C",
    )


def url_to_path(url: str) -> Optional[Path]:
    """A local path from a ``file://`` URL or a plain path; None for other schemes."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:  # "C:/..." parses with scheme "c"
        text = unquote(parsed.path) if parsed.scheme == "file" else url
        if parsed.scheme == "file" and parsed.netloc and parsed.netloc != "localhost":
            text = f"//{parsed.netloc}{text}"
        return Path(text)
    return None
