"""CMX 3600 EDLs: the adapter's own sample lists (tests/data/edl, Apache-2.0, LICENSE beside them)
read one by one, timecode arithmetic, and the readers' known traps."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from syncfoley.adapters import edl
from syncfoley.core.errors import TimelineError

DATA = Path(__file__).resolve().parent / "data" / "edl"

# name: (events, fps, LOC markers) for lists that read; (None, line) for lists that must fail at a line.
EXPECTED: dict[str, tuple] = {
    "25fps.edl": (4, 25, 0),
    "avid_example.edl": (2, 24, 0),
    "cdl.edl": (2, 24, 0),
    "dissolve_test.edl": (4, 24, 0),
    "dissolve_test_2.edl": (4, 24, 0),
    "dissolve_test_3.edl": (4, 24, 0),
    "dissolve_test_4.edl": (8, 24, 0),
    "dissolve_test_fail.edl": (4, 24, 0),
    "gap_test.edl": (3, 24, 0),
    "multi_audio.edl": (1, 24, 0),
    "no_spaces_test.edl": (9, 24, 3),
    "nucoda_example.edl": (2, 24, 0),
    "premiere_example.edl": (2, 24, 0),
    "screening_example.edl": (9, 24, 3),
    "speed_effects.edl": (548, 24, 0),
    "speed_effects_small.edl": (5, 24, 0),
    "timecode_mismatch.edl": (None, 13),  # event 4: 49 source frames against 47 record frames
    "transition_duration.edl": (5, 24, 0),
    "wipe_test.edl": (4, 24, 0),
}


def test_every_sample_is_accounted_for() -> None:
    assert sorted(p.name for p in DATA.glob("*.edl")) == sorted(EXPECTED)
    assert (DATA / "LICENSE").is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_reads_or_fails_naming_the_line(name: str) -> None:
    want = EXPECTED[name]
    if want[0] is None:
        with pytest.raises(TimelineError) as err:
            edl.read(DATA / name)
        assert f"{name}:{want[1]}:" in str(err.value)
        return
    e = edl.read(DATA / name)
    assert (len(e.events), e.fps, len(e.markers)) == want
    for ev in e.events:
        assert ev.source_out >= ev.source_in and ev.record_out >= ev.record_in


def test_speed_changes_and_freeze_frames() -> None:
    e = edl.read(DATA / "speed_effects_small.edl")
    frozen = [ev for ev in e.events if ev.freeze]
    assert [ev.number for ev in frozen] == [2, 3] and all(ev.speed == 0.0 for ev in frozen)
    fast = next(ev for ev in e.events if ev.number == 5)
    assert fast.speed == pytest.approx(47.6) and fast.clip_name == "Z686_5A (LAY2) (47.56 FPS)"


def test_aud_and_premiere_none_channels(tmp_path: Path) -> None:
    e = edl.read(DATA / "multi_audio.edl")
    assert e.events[0].channels == "AA+A3"
    p = tmp_path / "none.edl"
    p.write_text("TITLE: x\n001  AX NONE  C        01:00:00:00 01:00:01:00 00:00:00:00 00:00:01:00\n")
    assert edl.read(p).events[0].channels == "NONE"


def test_drop_frame_from_fcm_and_semicolons(tmp_path: Path) -> None:
    body = "001  A001 V     C        00:59:59;28 01:00:01;00 01:00:00;00 01:00:01;02\n"
    p = tmp_path / "df.edl"
    p.write_text("TITLE: df\nFCM: DROP FRAME\n" + body + "* LOC: 01:00:00;10 RED hit\n")
    e = edl.read(p)
    assert e.rate == Fraction(30000, 1001) and e.drop_frame and e.rate_source == "FCM"
    ev = e.events[0]
    assert ev.source_out - ev.source_in == 32 and ev.record_frames == 32  # 00:59:59;28 .. 01:00:01;00
    assert e.markers[0].text == "hit" and e.markers[0].event == 1  # a LOC with ';' is kept
    q = tmp_path / "semi.edl"
    q.write_text("TITLE: semi\n" + body)
    assert edl.read(q).drop_frame and edl.read(q).rate_source == "';' timecode"
    nd = tmp_path / "nd.edl"
    nd.write_text("TITLE: nd\nFCM: NON-DROP FRAME\n001  A V C 01:00:00:00 01:00:01:00 01:00:00:00 01:00:01:00\n")
    assert edl.read(nd, rate="29.97").drop_frame is False and edl.read(nd, rate="29.97").rate == Fraction(30000, 1001)


@pytest.mark.parametrize("fps,drop", [(24, False), (25, False), (30, False), (30, True), (60, True)])
def test_timecode_round_trips(fps: int, drop: bool) -> None:
    for frames in list(range(0, 40000, 7)) + [107892, 107891, 17982, 1798, 1799, 1800]:
        f = frames * (2 if fps == 60 else 1)
        tc = edl.frames_to_tc(f, fps, drop)
        assert edl.tc_to_frames(tc, fps, drop) == f, tc


def test_drop_frame_skips_the_right_labels() -> None:
    assert edl.tc_to_frames("00:01:00;02", 30, True) == 1800
    assert edl.tc_to_frames("00:10:00;00", 30, True) == 17982
    assert edl.tc_to_frames("01:00:00;00", 30, True) == 107892
    with pytest.raises(ValueError, match="skipped"):
        edl.tc_to_frames("00:01:00;00", 30, True)
    assert edl.frames_to_tc(1800, 30, True) == "00:01:00;02"


def test_bad_lists_name_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.edl"
    p.write_text("TITLE: bad\n001  A V C 01:00:00:00 01:00:01:00 00:00:00:00 00:00:01:00\n"
                 "002  A V C 01:00:00:00 01:00:99:00\n")
    with pytest.raises(TimelineError, match=r"bad.edl:3: not an event line"):
        edl.read(p)
    p.write_text("TITLE: bad\n001  A V C 01:00:00:00 01:00:01:30 00:00:00:00 00:00:02:00\n")
    with pytest.raises(TimelineError, match=r"bad.edl:2: .*does not exist at 25 fps"):
        edl.read(p, rate="25")
    with pytest.raises(TimelineError, match=r"unknown frame rate '31'.*'29.97'"):
        edl.read(DATA / "cdl.edl", rate="31")
    with pytest.raises(TimelineError, match="cannot read"):
        edl.read(tmp_path / "missing.edl")


def test_a_dissolve_names_its_outgoing_and_incoming_clips() -> None:
    # "* FROM CLIP NAME" after a D line names the outgoing clip (the zero-length line before it),
    # "* TO CLIP NAME" the incoming one: conform looks the incoming clip's media up by that name.
    ev = edl.read(DATA / "dissolve_test.edl").events
    assert [(e.number, e.transition, e.clip_name) for e in ev] == \
        [(1, "C", "clip_A"), (2, "C", "clip_A"), (2, "D", "clip_B"), (3, "C", "clip_B")]
