"""Onsets as a Standard MIDI File, and edited MIDI read back as onsets.

Written as format 1: track 0 holds the tempo (120 BPM, 960 ticks per beat, so a
tick is 1/1920 s) and one marker meta event per onset; track 1 holds one note per
onset, velocity from strength. A DAW imports it as a MIDI item, markers, or both.
Reading honours every tempo change, so a file re-saved from a DAW with its own
tempo map still gives the right times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syncfoley.engine.errors import FormatError
from syncfoley.engine.types import Onset, OnsetTrack

from .atomic import atomic_path

TICKS_PER_BEAT = 960
TEMPO = 500_000  # microseconds per beat: 120 BPM
NOTE_LENGTH = 0.05  # seconds; onsets are instants, this keeps notes visible and editable


def seconds_to_ticks(t: float) -> int:
    return int(round(t * 1_000_000 / TEMPO * TICKS_PER_BEAT))


def velocity(strength: float) -> int:
    return max(1, min(127, int(round(1 + strength * 126))))


def write(
    track: OnsetTrack,
    path: str | Path,
    note: int = 60,
    overwrite: bool = False,
) -> Path:
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name="syncfoley markers", time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=TEMPO, time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    events: list[tuple[int, int, Any]] = []
    for i, o in enumerate(track.onsets, start=1):
        events.append((seconds_to_ticks(o.time), 0, mido.MetaMessage("marker", text=f"onset {i}")))
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
    notes: list[Onset] = []
    markers: list[Onset] = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                notes.append(Onset(_tick_to_seconds(tick, tempo_map, mid.ticks_per_beat), (msg.velocity - 1) / 126, 1.0))
            elif msg.type in ("marker", "cue_marker"):
                markers.append(Onset(_tick_to_seconds(tick, tempo_map, mid.ticks_per_beat), 1.0, 1.0))
    onsets = notes or markers
    if not onsets:
        raise FormatError(f"{p} has no notes and no markers to read as onsets")
    onsets.sort(key=lambda o: o.time)
    return OnsetTrack(
        source=str(p),
        duration=onsets[-1].time,
        fps=0.0,
        detector="midi",
        onsets=tuple(onsets),
    )


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
