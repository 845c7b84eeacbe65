"""EDL dialects as other tools write them: remarks, Avid's source lines, generated sources,
NONE channels, audio-only lists, a list under another extension, overlapping events. Each
line kind is in one list; it conforms with exit 0 when nothing real is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import stand_ins
from conftest import run_cli

from syncfoley.adapters import edl, timeline
from syncfoley.core.errors import TimelineError

LICENCE = "\n".join(f"REM Licensed under the Apache License, Version 2.0, line {k}" for k in range(22))

DIALECTS = f"""{LICENCE}
TITLE: DIALECTS
FCM: NON-DROP FRAME
* COMMENT: SCENE 12, PICTURE LOCK V3
>>> SOURCE A001 A001C003_200101.mov

001  BL       V     C        00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00
002  A001     V     C        00:10:00:00 00:10:02:00 01:00:01:00 01:00:03:00
REM this shot was re-timed in the online
003  BARS     V     C        00:00:00:00 00:00:00:12 01:00:03:00 01:00:03:12
004  B002     V     C        00:20:00:12 00:20:02:00 01:00:03:12 01:00:05:00
* FROM CLIP NAME: B002_shot.mov
005  AX       V     C        00:00:00:00 00:00:01:00 01:00:05:00 01:00:06:00
006  BLACK    V     C        00:00:00:00 00:00:00:10 01:00:06:00 01:00:06:10
007  AX       NONE  C        00:00:00:00 00:00:02:00 01:00:06:10 01:00:08:10
008  C003     A     C        00:30:00:00 00:30:00:00 01:00:06:10 01:00:09:10
009  C003     V     C        00:30:00:00 00:30:01:00 01:00:06:10 01:00:07:10
010  D004     V     C        00:40:00:00 00:40:01:00 01:00:06:20 01:00:07:20
"""


@pytest.fixture
def dialects(tmp_path: Path) -> Path:
    path = tmp_path / "dialects.edl"
    path.write_text(DIALECTS)
    return path


def test_every_line_kind_is_read_without_a_problem(dialects: Path) -> None:
    cut = timeline.read(dialects)
    assert cut.problems == ()
    # 002 (named by >>> SOURCE), 004, 009, 010: the picture that was shot.
    assert [ev.number for ev in cut.events] == [2, 4, 9, 10]
    assert cut.events[0].source_file == "A001C003_200101.mov"
    notes = "\n".join(cut.notes)
    assert "1 NONE-channel and 1 audio-only event(s) carry no picture; left out" in notes
    assert "generated sources (1 AX, 1 BARS, 1 BL, 1 BLACK" in notes
    assert "events 9 and 10 overlap on the record side" in notes
    assert "REM" not in notes and ">>>" not in notes and "COMMENT" not in notes
    assert len(cut.notes) == 3


def test_the_list_conforms_with_exit_0(dialects: Path, tmp_path: Path) -> None:
    cut = timeline.read(dialects)
    stand_ins.make(cut, tmp_path / "media")
    assert (tmp_path / "media" / "A001C003_200101.mov").is_file()
    res = run_cli("conform", str(dialects), "--media-root", str(tmp_path / "media"), "-o", str(tmp_path / "out"),
                  "-q")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "4 events: 4 computed, 0 reused, 0 skipped" in res.stdout, res.stdout
    assert "skipped:" not in res.stderr


def test_a_list_under_another_extension_is_read_by_content(dialects: Path, tmp_path: Path) -> None:
    for name in ("dialects.cdl", "dialects.txt"):
        other = tmp_path / name
        other.write_text(dialects.read_text())
        assert [ev.number for ev in timeline.read(other).events] == [2, 4, 9, 10]
    junk = tmp_path / "notes.txt"
    junk.write_text("shopping list\neggs\n")
    with pytest.raises(TimelineError, match="cannot tell the timeline format of notes.txt"):
        timeline.read(junk)


def test_an_audio_only_list_says_so_once(tmp_path: Path) -> None:
    lines = ["TITLE: SOUND", "FCM: NON-DROP FRAME", ""]
    for k in range(1, 688):  # as Adobe writes a sound list: hundreds of A and NONE events
        rec = 90000 + k * 25
        chan = "A" if k % 2 else "NONE"
        lines.append(f"{k:03d}  AX       {chan:<5} C        00:00:00:00 00:00:01:00 "
                     f"{edl.frames_to_tc(rec, 25, False)} {edl.frames_to_tc(rec + 25, 25, False)}")
    path = tmp_path / "sound.edl"
    path.write_text("\n".join(lines) + "\n")
    res = run_cli("conform", str(path), "--media-root", str(tmp_path), "-o", str(tmp_path / "out"))
    assert res.returncode == 2
    errors = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and "an audio-only list (687 events, none on a picture channel)" in errors[0], errors


