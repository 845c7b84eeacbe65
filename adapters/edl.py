"""CMX 3600 EDLs, read line by line so that every problem is named with its line.

OpenTimelineIO's CMX reader (otio-cmx3600-adapter) builds timelines, but it needs
the frame rate up front, ignores ``FCM:`` lines, drops ``LOC`` lines written with
``;`` timecode, mis-reads ``AUD 3 4`` and Premiere's ``NONE`` channel, and raises
without a line number when source and record durations disagree. This reader
handles those itself and produces :class:`Edit`: the events with their source and
record ranges in frames, reel, channels, transition, clip name / source file,
``M2`` speed and freeze frames, and the ``LOC`` markers.

The frame rate: given (``rate="29.97"``), else 29.97 drop-frame when the list says
``FCM: DROP FRAME`` or writes ``;`` timecode, else the lowest common rate the
timecodes' frame fields fit (24, 25 or 30), and the edit says which it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Optional

from syncfoley.core.errors import TimelineError, one_of

RATES: dict[str, Fraction] = {
    "23.976": Fraction(24000, 1001), "24": Fraction(24), "25": Fraction(25), "29.97": Fraction(30000, 1001),
    "30": Fraction(30), "48": Fraction(48), "50": Fraction(50), "59.94": Fraction(60000, 1001), "60": Fraction(60),
}


def rate_named(fps: float) -> Optional[str]:
    """The name in :data:`RATES` of a measured frame rate (a file's 23.976... or 29.97...), if any."""
    return next((k for k, v in RATES.items() if abs(float(v) - fps) < 2e-4 * fps), None)


_TC = r"\d{1,2}[:;.]\d{2}[:;.]\d{2}[:;.]\d{2}"
_EVENT = re.compile(
    r"^(?P<num>\d{1,6})\s+(?P<reel>\S+)\s+(?P<chan>\S+)\s+(?P<trans>C|D|W\d{3}|K[BO]?)\s+(?:(?P<dur>\d{1,4})\s+)?"
    rf"(?P<si>{_TC})\s+(?P<so>{_TC})\s+(?P<ri>{_TC})\s+(?P<ro>{_TC})\s*$"
)
_M2 = re.compile(rf"^M2\s+(?P<reel>\S+)\s+(?P<speed>-?\d+(?:\.\d+)?)\s+(?P<tc>{_TC})\s*$")
_LOC = re.compile(rf"^\*\s*LOC:\s*(?P<tc>{_TC})\s+(?P<colour>\S+)?\s*(?P<text>.*)$")
_CHANNELS = re.compile(r"^(V|A\d?|AA|AA/V|A/V|B|NONE|A\d/V|V/A\d?)$", re.IGNORECASE)


@dataclass(frozen=True)
class EdlEvent:
    """One event: frames are counted at the edit's rate from 00:00:00:00."""

    number: int
    line: int
    reel: str
    channels: str
    transition: str  # C, D (dissolve), Wnnn (wipe), K (key)
    transition_frames: int
    source_in: int
    source_out: int
    record_in: int
    record_out: int
    clip_name: Optional[str] = None
    source_file: Optional[str] = None
    speed: Optional[float] = None  # M2: frames per second the source plays at
    freeze: bool = False

    @property
    def record_frames(self) -> int:
        return self.record_out - self.record_in


@dataclass(frozen=True)
class EdlMarker:
    """A ``* LOC:`` comment: its timecode as written (most editors write the source time of
    the event it follows), colour and text, and that event's number."""

    line: int
    frame: int
    colour: str
    text: str
    event: Optional[int] = None


@dataclass(frozen=True)
class Edit:
    path: str
    title: str
    rate: Fraction
    drop_frame: bool
    rate_source: str  # "given", "FCM", "';' timecode" or "frame fields"
    events: tuple[EdlEvent, ...]
    markers: tuple[EdlMarker, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    # Lines left out when read with strict=False: (line number, "file:line: why: text").
    problems: tuple[tuple[int, str], ...] = field(default=())

    @property
    def fps(self) -> int:
        return round(self.rate)


def tc_to_frames(tc: str, fps: int, drop: bool) -> int:
    """SMPTE timecode to a frame count; drop-frame skips frames 0 and 1 of every minute but each tenth."""
    hh, mm, ss, ff = (int(x) for x in re.split(r"[:;.]", tc))
    if ff >= fps or ss >= 60 or mm >= 60:
        raise ValueError(f"timecode {tc} does not exist at {fps} fps")
    frames = ((hh * 60 + mm) * 60 + ss) * fps + ff
    if drop:
        dropped = 2 * round(fps / 30)
        minutes = hh * 60 + mm
        if ss == 0 and ff < dropped and mm % 10:
            raise ValueError(f"timecode {tc} is skipped in drop-frame")
        frames -= dropped * (minutes - minutes // 10)
    return frames


def frames_to_tc(frames: int, fps: int, drop: bool) -> str:
    if drop:
        dropped = 2 * round(fps / 30)
        per_10min = fps * 600 - dropped * 9
        per_min = fps * 60 - dropped
        tens, rest = divmod(frames, per_10min)
        extra = 0 if rest < dropped else dropped * ((rest - dropped) // per_min)
        frames += dropped * 9 * tens + extra
    ff = frames % fps
    s = frames // fps
    sep = ";" if drop else ":"
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{sep}{ff:02d}"


def _infer_rate(lines: list[str], drop_declared: Optional[bool]) -> tuple[Fraction, bool, str]:
    semicolon = any(_EVENT.match(ln.strip()) and ";" in ln for ln in lines)
    if drop_declared or semicolon:
        return RATES["29.97"], True, "FCM" if drop_declared else "';' timecode"
    top = 0
    for ln in lines:
        m = _EVENT.match(ln.strip())
        if m:
            top = max(top, *(int(re.split(r"[:;.]", m.group(k))[3]) for k in ("si", "so", "ri", "ro")))
    for fps in (24, 25, 30, 60):
        if top < fps:
            return Fraction(fps), False, "frame fields"
    return Fraction(60), False, "frame fields"


def read(path: str | Path, rate: Optional[str] = None, strict: bool = True) -> Edit:
    """Read an EDL; a line that cannot be read raises :class:`TimelineError` naming file and line.

    With ``strict=False`` (conform: one bad event must not cost the reel) a bad line
    is left out and listed in ``Edit.problems`` instead, with the lines that belong
    to it (its comments, M2, AUD); an event whose durations disagree is left out
    the same way. An unknown ``rate`` and a list with no event still raise.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise TimelineError(f"cannot read {p}: {exc.strerror}") from None
    lines = text.splitlines()
    where = p.name
    title = ""
    drop_declared: Optional[bool] = None
    for ln in lines:
        s = ln.strip()
        if s.upper().startswith("TITLE:"):
            title = s[6:].strip()
        elif s.upper().startswith("FCM:"):
            drop_declared = "NON" not in s.upper() and "DROP" in s.upper()
    if rate is not None:
        if rate not in RATES:
            raise TimelineError(f"unknown frame rate {rate!r}; choose {one_of(list(RATES))}")
        fr, drop, source = RATES[rate], bool(drop_declared) and rate in ("29.97", "59.94"), "given"
    else:
        fr, drop, source = _infer_rate(lines, drop_declared)
    fps = round(fr)
    events: list[EdlEvent] = []
    markers: list[EdlMarker] = []
    warnings: list[str] = []
    problems: list[tuple[int, str]] = []
    hints: dict[str, str] = {}  # reel -> clip or file name (Avid's >>> SOURCE lines)
    orphaned = False  # the lines after a left-out event belong to it, not to the event before
    for i, raw in enumerate(lines, start=1):
        s = raw.strip()
        if not s or s.upper().startswith(("TITLE:", "FCM:")):
            continue
        if orphaned and not s[0].isdigit():
            continue
        orphaned = False
        try:
            if s[0].isdigit():
                m = _EVENT.match(s)
                if m is None:
                    raise TimelineError("not an event line (NNN REEL CHANNELS C|D|Wnnn [DURATION] "
                                        "SRC-IN SRC-OUT REC-IN REC-OUT)")
                chan = m.group("chan")
                if not _CHANNELS.match(chan):
                    raise TimelineError(f"channels {chan!r} are not V, A, A2, AA, AA/V, B or NONE")
                si, so, ri, ro = (tc_to_frames(m.group(k), fps, drop) for k in ("si", "so", "ri", "ro"))
                if so < si or ro < ri:
                    raise TimelineError("an out point is before its in point")
                events.append(EdlEvent(int(m.group("num")), i, m.group("reel"), chan.upper(), m.group("trans"),
                                       int(m.group("dur") or 0), si, so, ri, ro))
            elif s.upper().startswith("M2"):
                m = _M2.match(s)
                if m is None:
                    raise TimelineError("not an M2 line (M2 REEL SPEED TIMECODE)")
                if not events:
                    raise TimelineError("M2 before any event")
                speed = float(m.group("speed"))
                events[-1] = _replace(events[-1], speed=speed, freeze=speed == 0.0)
            elif s.upper().startswith("AUD"):
                if not events:
                    raise TimelineError("AUD before any event")
                extra = "+".join("A" + c for c in s.split()[1:])
                events[-1] = _replace(events[-1], channels=f"{events[-1].channels}+{extra}")
            elif s.startswith("*") or s.upper().startswith(("FROM CLIP NAME:", "TO CLIP NAME:", "SOURCE FILE:",
                                                               "EFFECTS NAME IS")):
                body = s.lstrip("*").strip()
                up = body.upper()
                if up.startswith(("FROM CLIP NAME:", "TO CLIP NAME:")) and events:
                    name = body.split(":", 1)[1].strip()
                    # After a dissolve or wipe, FROM names the outgoing clip (the zero-length line
                    # before it, same number) and TO the incoming one (the D/W line itself).
                    at = len(events) - 1
                    if up.startswith("FROM") and events[-1].transition != "C" and len(events) > 1 \
                            and events[-2].number == events[-1].number:
                        at -= 1
                    events[at] = _replace(events[at], clip_name=name)
                elif up.startswith("SOURCE FILE:") and events:
                    events[-1] = _replace(events[-1], source_file=body.split(":", 1)[1].strip())
                elif up.startswith("FREEZE FRAME") or up.startswith("* FREEZE FRAME"):
                    if events:
                        events[-1] = _replace(events[-1], freeze=True)
                elif up.startswith("LOC:"):
                    m = _LOC.match(s)
                    if m is None:
                        raise TimelineError("not a LOC line (* LOC: TIMECODE COLOUR TEXT)")
                    markers.append(EdlMarker(i, tc_to_frames(m.group("tc"), fps, drop), m.group("colour") or "",
                                             m.group("text").strip(), events[-1].number if events else None))
            elif s.upper().startswith("REM"):
                continue  # a remark (licence headers, notes to the conform room): nothing to do
            elif s.startswith(">>>"):
                # Avid: ">>> SOURCE REEL NAME" names the clip or file behind a reel.
                words = s[3:].split(None, 2)
                if len(words) == 3 and words[0].upper() == "SOURCE":
                    hints[words[1]] = words[2].strip()
            elif s.upper().startswith(("SPLIT:", "SWITCHER")):
                warnings.append(f"{where}:{i}: {s.split()[0]} line ignored")
            else:
                raise TimelineError("not an EDL line")
        except (ValueError, TimelineError) as exc:
            hint = f" (rate {float(fr):g} from {source}; give --rate)" if isinstance(exc, ValueError) else ""
            message = f"{where}:{i}: {exc}{hint}: {s}"
            if strict:
                raise TimelineError(message) from None
            problems.append((i, message))
            orphaned = s[0].isdigit()
    kept = []
    for ev in events:
        named = hints.get(ev.reel)
        if named and ev.source_file is None and ev.clip_name is None:
            ev = _replace(ev, **({"source_file": named} if Path(named).suffix else {"clip_name": named}))
        src = ev.source_out - ev.source_in
        # Only picture is conformed: an audio event's odd durations are not this list's problem here.
        if src != ev.record_frames and not ev.freeze and ev.speed is None and ev.transition == "C" \
                and has_picture(ev.channels):
            message = (f"{where}:{ev.line}: event {ev.number}: source lasts {src} frames, record {ev.record_frames}, "
                       "with no M2 speed change or freeze frame to explain it")
            if strict:
                raise TimelineError(message)
            problems.append((ev.line, message))
            continue
        kept.append(ev)
    if not kept:
        extra = f"; {len(problems)} line(s) could not be read, the first: {problems[0][1]}" if problems else ""
        raise TimelineError(f"{where}: no events{extra}")
    return Edit(str(p), title, fr, drop, source, tuple(kept), tuple(markers), tuple(warnings),
                tuple(sorted(problems)))


def is_event_line(line: str) -> bool:
    return _EVENT.match(line.strip()) is not None


def has_picture(channels: str) -> bool:
    """Whether an event's channels carry picture (``V``, ``B`` = both, ``AA/V`` ...); ``NONE``
    (Adobe's generated items) and audio channels do not."""
    first = channels.split("+")[0].upper()
    return "V" in first or first == "B"


def _replace(ev: EdlEvent, **changes: object) -> EdlEvent:
    import dataclasses

    return dataclasses.replace(ev, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AudioEvent:
    """One event of an audio EDL, frames at the list's rate."""

    reel: str
    source_in: int
    source_out: int
    record_in: int
    record_out: int
    clip_name: str = ""
    channels: str = "A"
    # A dissolve from the event before it on its channel, starting at record_in: CMX writes the
    # outgoing clip as a zero-length "from" line at that frame, then this event with D and the length.
    dissolve: int = 0
    from_reel: str = ""
    from_source: int = 0
    from_clip_name: str = ""


def _reel(name: str) -> str:
    return re.sub(r"\s", "_", name)[:8] or "AX"


def audio_edl_text(events: list[AudioEvent], title: str, rate: Fraction, drop: bool) -> str:
    """A CMX 3600 audio EDL (the OTIO writer cannot write audio-only timelines)."""
    fps = round(rate)

    def tcs(*frames: int) -> str:
        return " ".join(frames_to_tc(f, fps, drop) for f in frames)

    lines = [f"TITLE: {title}", f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}", ""]
    for n, ev in enumerate(events, start=1):
        if not _CHANNELS.match(ev.channels) or ev.channels.upper().startswith("V"):
            raise ValueError(f"audio channels must be A, A2, AA ..., got {ev.channels!r}")
        if not 0 <= ev.dissolve <= 999:
            raise ValueError(f"a dissolve is 0..999 frames in CMX 3600, got {ev.dissolve}")
        body = tcs(ev.source_in, ev.source_out, ev.record_in, ev.record_out)
        if ev.dissolve:
            lines.append(f"{n:03d}  {_reel(ev.from_reel):<8} {ev.channels:<5} C        "
                         f"{tcs(ev.from_source, ev.from_source, ev.record_in, ev.record_in)}")
            lines.append(f"{n:03d}  {_reel(ev.reel):<8} {ev.channels:<5} D    {ev.dissolve:03d} {body}")
            if ev.from_clip_name:
                lines.append(f"* FROM CLIP NAME:  {ev.from_clip_name}")
            if ev.clip_name:
                lines.append(f"* TO CLIP NAME:  {ev.clip_name}")
            continue
        lines.append(f"{n:03d}  {_reel(ev.reel):<8} {ev.channels:<5} C        {body}")
        if ev.clip_name:
            lines.append(f"* FROM CLIP NAME:  {ev.clip_name}")
    return "\n".join(lines) + "\n"


def write_audio(path: str | Path, events: list[AudioEvent], title: str, rate: Fraction, drop: bool,
                overwrite: bool = False) -> Path:
    from syncfoley.core.atomic import atomic_path

    text = audio_edl_text(events, title, rate, drop)
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text, encoding="ascii", errors="replace")
    return Path(path)
