"""Onsets as a Standard MIDI File, and edited MIDI read back as onsets.

Written as format 1: track 0 holds the tempo (120 BPM, 960 ticks per beat, so a
tick is 1/1920 s) and one marker meta event per onset; track 1 holds one note per
onset, velocity from strength, one note a semitone above per continuous-contact
region lasting as long as it does, and the intensity envelope as CC 11
(Expression). A DAW imports it as a MIDI item, markers, or both. Read back, notes
of 0.2 s or more are regions, shorter ones hits.
Reading honours every tempo change, so a file re-saved from a DAW with its own
tempo map still gives the right times.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

from syncfoley.core.atomic import atomic_path
from syncfoley.core.errors import FormatError, RequestError
from syncfoley.engine.types import Onset, OnsetTrack, Region

TICKS_PER_BEAT = 960
TEMPO = 500_000  # microseconds per beat: 120 BPM
NOTE_LENGTH = 0.05  # seconds; onsets are instants, this keeps notes visible and editable
# Notes at least this long read back as continuous-contact regions (scrape, rub), not hits.
REGION_MIN = 0.2
INTENSITY_CC = 11  # Expression: the intensity envelope
CC_RATE = 30.0  # envelope points per second at most


def seconds_to_ticks(t: float) -> int:
    return int(round(t * 1_000_000 / TEMPO * TICKS_PER_BEAT))


def velocity(strength: float) -> int:
    return max(1, min(127, int(round(1 + strength * 126))))


def smpte_offset(rate: Fraction, drop: bool, timecode: str) -> Optional[tuple[float, int, int, int, int]]:
    """A timecode at ``rate`` as a MIDI SMPTE offset, or None where MIDI has no code for it.

    MIDI codes 24, 25, 29.97 drop frame and 30 only: not 23.976, nor 29.97 non-drop (labelling
    it 30 would put the file 3.6 s an hour away in a DAW that takes the code at its word).
    Hours above 23 do not fit either."""
    codes = {Fraction(24): 24.0, Fraction(25): 25.0, Fraction(30): 30.0}
    code = 29.97 if drop and rate == Fraction(30000, 1001) else None if drop else codes.get(rate)
    try:
        hh, mm, ss, ff = (int(x) for x in timecode.replace(";", ":").split(":"))
    except ValueError:
        return None
    if code is None or hh > 23:
        return None
    return code, hh, mm, ss, ff


def check_note(note: int) -> int:
    """A MIDI note number, 0..127; anything else is refused by name before any work."""
    if isinstance(note, bool) or not isinstance(note, int) or not 0 <= note <= 127:
        raise RequestError(f"MIDI note {note!r} is not a note number (valid: 0 to 127; 60 is middle C)")
    return note


def write(
    track: OnsetTrack,
    path: str | Path,
    note: int = 60,
    overwrite: bool = False,
    smpte: Optional[tuple[float, int, int, int, int]] = None,
) -> Path:
    """``smpte``: (frame rate 24, 25, 29.97 or 30, hh, mm, ss, ff) of the file's time 0, written
    as an SMPTE offset so that a DAW that honours it spots the file at that timecode."""
    import mido

    check_note(note)
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name="syncfoley markers", time=0))
    if smpte is not None:
        rate, hh, mm, ss, ff = smpte
        conductor.append(mido.MetaMessage("smpte_offset", frame_rate=rate, hours=hh, minutes=mm, seconds=ss,
                                          frames=ff, sub_frames=0, time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=TEMPO, time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    events: list[tuple[int, int, Any]] = []
    for i, o in enumerate(track.onsets, start=1):
        events.append((seconds_to_ticks(o.time), 0, mido.MetaMessage("marker", text=o.label(i))))
    _append_absolute(conductor, events)
    mid.tracks.append(conductor)

    notes = mido.MidiTrack()
    notes.append(mido.MetaMessage("track_name", name="syncfoley onsets", time=0))
    events = []
    times = [o.time for o in track.onsets]
    for i, o in enumerate(track.onsets):
        on = seconds_to_ticks(o.time)
        # A note ends before the next one starts, so repeated notes never overlap.
        nxt = times[i + 1] if i + 1 < len(times) else o.time + NOTE_LENGTH
        off = max(on + 1, min(seconds_to_ticks(o.time + NOTE_LENGTH), seconds_to_ticks(nxt) - 1))
        events.append((on, 1, mido.Message("note_on", note=note, velocity=velocity(o.strength), time=0)))
        events.append((off, 0, mido.Message("note_off", note=note, velocity=0, time=0)))
    # Regions sit one note above the hits, as long as they last.
    for r in track.regions:
        on, off = seconds_to_ticks(r.start), seconds_to_ticks(r.end)
        if off > on:
            events.append((on, 1, mido.Message("note_on", note=min(127, note + 1), velocity=velocity(r.strength), time=0)))
            events.append((off, 0, mido.Message("note_off", note=min(127, note + 1), velocity=0, time=0)))
    if track.envelope is not None:
        last = -1
        env = track.envelope
        step = max(1, int(round(env.rate / CC_RATE)))
        for i in range(0, len(env.values), step):
            value = int(round(env.values[i] * 127))
            if value != last:
                tick = seconds_to_ticks(env.start + i / env.rate)
                events.append((tick, -1, mido.Message("control_change", control=INTENSITY_CC, value=value, time=0)))
                last = value
    _append_absolute(notes, events)
    mid.tracks.append(notes)
    with atomic_path(path, overwrite) as tmp:
        mid.save(str(tmp))
    return Path(path)


def _append_absolute(track: Any, events: list[tuple[int, int, Any]]) -> None:
    """Append (absolute tick, order, message) as delta times: no rounding accumulates."""
    import mido

    last = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))


def read(path: str | Path) -> OnsetTrack:
    """Read onsets from a MIDI file: every note-on (velocity -> strength), else every marker."""
    import mido

    p = Path(path)
    try:
        mid = mido.MidiFile(str(p))
    except FileNotFoundError:
        raise FormatError(f"no such MIDI file: {p}") from None
    except (OSError, EOFError, ValueError, KeyError) as exc:
        raise FormatError(f"{p} is not a Standard MIDI File ({exc})") from None
    if mid.type == 2:
        raise FormatError(f"{p} is a format 2 MIDI file (independent sequences); save it as format 0 or 1")
    tempo_map = _tempo_map(mid)

    def secs(tick: int) -> float:
        return _tick_to_seconds(tick, tempo_map, mid.ticks_per_beat)

    notes: list[Onset] = []
    regions: list[Region] = []
    markers: list[Onset] = []
    for track in mid.tracks:
        tick = 0
        sounding: dict[tuple[int, int], tuple[int, int]] = {}
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                sounding[(msg.channel, msg.note)] = (tick, msg.velocity)
            elif msg.type in ("note_off", "note_on"):
                start = sounding.pop((msg.channel, msg.note), None)
                if start is not None:
                    _add_note(notes, regions, secs(start[0]), secs(tick), start[1])
            elif msg.type in ("marker", "cue_marker"):
                markers.append(Onset(secs(tick), 1.0, 1.0))
        for (_, _), (on, vel) in sounding.items():  # never released: a hit
            _add_note(notes, regions, secs(on), secs(on), vel)
    onsets = notes or ([] if regions else markers)
    if not onsets and not regions:
        raise FormatError(f"{p} has no notes and no markers to read as onsets")
    onsets.sort(key=lambda o: o.time)
    regions.sort(key=lambda r: r.start)
    end = max([o.time for o in onsets] + [r.end for r in regions])
    return OnsetTrack(
        source=str(p),
        duration=end,
        fps=0.0,
        detector="midi",
        onsets=tuple(onsets),
        regions=tuple(regions),
    )


def _add_note(notes: list[Onset], regions: list[Region], start: float, end: float, vel: int) -> None:
    strength = (vel - 1) / 126
    if end - start >= REGION_MIN:
        regions.append(Region(start, end, strength))
    else:
        notes.append(Onset(start, strength, 1.0))


def _tempo_map(mid: Any) -> list[tuple[int, int]]:
    changes: list[tuple[int, int]] = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                changes.append((tick, msg.tempo))
    changes.sort()
    if not changes or changes[0][0] > 0:
        changes.insert(0, (0, TEMPO))
    return changes


def _tick_to_seconds(tick: int, tempo_map: list[tuple[int, int]], tpb: int) -> float:
    seconds = 0.0
    for i, (start, tempo) in enumerate(tempo_map):
        end = tempo_map[i + 1][0] if i + 1 < len(tempo_map) else None
        if end is not None and tick > end:
            seconds += (end - start) * tempo / 1_000_000 / tpb
            continue
        seconds += (tick - start) * tempo / 1_000_000 / tpb
        break
    return seconds
