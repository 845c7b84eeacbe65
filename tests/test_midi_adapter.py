"""Onsets as MIDI: written with mido, read back by mido and by an independent reader."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from syncfoley.adapters import midi
from syncfoley.core.errors import FormatError
from syncfoley.engine.types import Onset, OnsetTrack

TICK = midi.TEMPO / 1_000_000 / midi.TICKS_PER_BEAT  # seconds per tick


def _track() -> OnsetTrack:
    times = [0.0, 0.0333, 0.5004, 1.23456, 2.999, 61.7]
    strengths = [1.0, 0.1, 0.5, 0.75, 0.0, 0.33]
    confidences = [0.9, 0.04, 0.5, 0.999, 0.125, 1.0]
    return OnsetTrack("clip.mp4", 62.0, 30.0, "motion",
                      tuple(Onset(t, s, c) for t, s, c in zip(times, strengths, confidences)))


def test_roundtrip_within_one_tick(tmp_path: Path) -> None:
    track = _track()
    path = midi.write(track, tmp_path / "o.mid", note=62)
    back = midi.read(path)
    assert len(back.onsets) == len(track.onsets)
    for a, b in zip(track.onsets, back.onsets):
        assert abs(a.time - b.time) <= TICK
        assert abs(a.strength - b.strength) <= 1 / 126 + 1e-9


def test_independent_reader_sees_the_same_notes_and_markers(tmp_path: Path) -> None:
    import symusic  # a C++ MIDI parser, independent of mido
    track = _track()
    path = midi.write(track, tmp_path / "o.mid", note=62)
    score = symusic.Score(str(path), ttype="second")
    notes = sorted((n for t in score.tracks for n in t.notes), key=lambda n: n.time)
    assert [n.pitch for n in notes] == [62] * len(track.onsets)
    for o, n in zip(track.onsets, notes):
        assert abs(n.time - o.time) <= TICK
        assert n.velocity == midi.velocity(o.strength)
        assert n.duration > 0
    markers = sorted(score.markers, key=lambda m: m.time)
    # Each marker names its onset and how sure the detector is, for pruning a sensitive run in the DAW.
    assert [m.text for m in markers] == ["onset 1 (conf 0.90)", "onset 2 (conf 0.04)", "onset 3 (conf 0.50)",
                                         "onset 4 (conf 1.00)", "onset 5 (conf 0.12)", "onset 6 (conf 1.00)"]
    for o, m in zip(track.onsets, markers):
        assert abs(m.time - o.time) <= TICK


def test_notes_never_overlap_even_when_onsets_are_close(tmp_path: Path) -> None:
    track = OnsetTrack("c", 1.0, 30.0, "motion", (Onset(0.10), Onset(0.12), Onset(0.5)))
    mid = mido.MidiFile(str(midi.write(track, tmp_path / "o.mid")))
    tick, on = 0, None
    for msg in mid.tracks[1]:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity:
            assert on is None, "a note started before the previous one ended"
            on = tick
        elif msg.type in ("note_off", "note_on"):
            on = None


def test_reads_a_daw_file_with_a_tempo_map(tmp_path: Path) -> None:
    """A DAW re-saves at its own tempo, with a change mid-way: times must still be right."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    tempo = mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90), time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(140), time=960),  # after 2 beats at 90 = 1.3333 s
    ])
    notes = mido.MidiTrack([
        mido.Message("note_on", note=60, velocity=100, time=480),   # 0.6667 s
        mido.Message("note_off", note=60, velocity=0, time=10),
        mido.Message("note_on", note=60, velocity=64, time=950),    # tick 1440: 1.3333 + 480/480*60/140
        mido.Message("note_off", note=60, velocity=0, time=10),
    ])
    mid.tracks += [tempo, notes]
    mid.save(str(tmp_path / "daw.mid"))
    back = midi.read(tmp_path / "daw.mid")
    assert [round(o.time, 4) for o in back.onsets] == [round(2 / 3, 4), round(4 / 3 + 60 / 140, 4)]


def test_markers_only_file(tmp_path: Path) -> None:
    mid = mido.MidiFile(type=0, ticks_per_beat=960)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("marker", text="hit", time=960)]))
    mid.save(str(tmp_path / "m.mid"))
    assert [o.time for o in midi.read(tmp_path / "m.mid").onsets] == [pytest.approx(0.5)]


def test_not_midi(tmp_path: Path) -> None:
    (tmp_path / "x.mid").write_bytes(b"RIFF....WAVEfmt ")
    with pytest.raises(FormatError, match="not a Standard MIDI File"):
        midi.read(tmp_path / "x.mid")
    mid = mido.MidiFile(type=1)
    mid.tracks.append(mido.MidiTrack())
    mid.save(str(tmp_path / "empty.mid"))
    with pytest.raises(FormatError, match="no notes and no markers"):
        midi.read(tmp_path / "empty.mid")


def test_regions_and_envelope_roundtrip(tmp_path: Path) -> None:
    from syncfoley.engine.types import Envelope, Region

    track = OnsetTrack(
        "c", 4.0, 30.0, "motion", (Onset(0.5, 0.8), Onset(2.0, 0.4)),
        regions=(Region(1.0, 1.75, 0.6), Region(2.5, 3.5, 1.0)),
        envelope=Envelope(30.0, tuple(float(i % 30) / 29 for i in range(120)), 0.0),
    )
    path = midi.write(track, tmp_path / "r.mid", note=60)
    back = midi.read(path)
    assert [round(o.time, 3) for o in back.onsets] == [0.5, 2.0]
    assert [(round(r.start, 3), round(r.end, 3)) for r in back.regions] == [(1.0, 1.75), (2.5, 3.5)]
    mid = mido.MidiFile(str(path))
    ccs = [m for m in mid.tracks[1] if m.type == "control_change"]
    assert ccs and all(m.control == midi.INTENSITY_CC for m in ccs)
    assert {m.value for m in ccs} >= {0, 127}
    import symusic

    score = symusic.Score(str(path), ttype="second")
    lengths = sorted(round(n.duration, 3) for t in score.tracks for n in t.notes if n.pitch == 61)
    assert lengths == [0.75, 1.0]


def test_one_rule_for_the_smpte_offset_of_run_and_conform() -> None:
    """MIDI codes 24, 25, 29.97 drop frame and 30; a rate it has no code for gets no offset,
    never a wrong one (29.97 non-drop labelled 30 would sit 3.6 s an hour off)."""
    from fractions import Fraction

    from syncfoley.adapters.midi import smpte_offset

    assert smpte_offset(Fraction(25), False, "01:00:00:00") == (25.0, 1, 0, 0, 0)
    assert smpte_offset(Fraction(24), False, "10:00:00:12") == (24.0, 10, 0, 0, 12)
    assert smpte_offset(Fraction(30), False, "00:59:59:29") == (30.0, 0, 59, 59, 29)
    assert smpte_offset(Fraction(30000, 1001), True, "01:00:00;02") == (29.97, 1, 0, 0, 2)
    for rate, drop in ((Fraction(30000, 1001), False), (Fraction(24000, 1001), False), (Fraction(50), False),
                       (Fraction(30), True)):
        assert smpte_offset(rate, drop, "01:00:00:00") is None, (rate, drop)
    assert smpte_offset(Fraction(25), False, "24:00:00:00") is None  # past MIDI's 23 hours
    assert smpte_offset(Fraction(25), False, "garbled") is None


@pytest.mark.parametrize("note", [-1, 128, 200])
def test_a_note_number_outside_midi_is_refused_before_any_work(tmp_path: Path, note: int) -> None:
    """mido raised its own ValueError ("data byte must be in range 0..127") after the whole
    detection had run."""
    from conftest import EXAMPLE, run_cli

    from syncfoley.core.errors import RequestError

    with pytest.raises(RequestError, match=rf"MIDI note {note} is not a note number \(valid: 0 to 127"):
        midi.write(OnsetTrack("v.mp4", 2.0, 25.0, "motion", (Onset(1.0, 1.0, 1.0),)), tmp_path / "a.mid", note=note)
    done = run_cli("detect", str(EXAMPLE), "-o", str(tmp_path / "b.json"), "-o", str(tmp_path / "b.mid"),
                   "--note", str(note), "-q")
    assert done.returncode == 2 and f"MIDI note {note} is not a note number" in done.stderr, done.stderr
    assert not list(tmp_path.glob("b.*"))
