"""bench/corpus_clips.py: the one reading of a corpus folder the benches share."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import corpus_clips as cc  # noqa: E402


def _truth(folder: Path, clip: str, **fields: object) -> None:
    (folder / f"{clip}.truth.json").write_text(json.dumps({"impacts": [], "band": [], **fields}))


def test_each_truth_file_is_a_clip_named_as_the_trainer_names_it(tmp_path: Path) -> None:
    _truth(tmp_path, "b_strike", family="strike")
    (tmp_path / "b_strike.mov").write_bytes(b"x")
    # The name inside the file does not rename the clip: train-motion pairs by file name.
    _truth(tmp_path, "a_drop", family="drop", name="something_else")
    (tmp_path / "a_drop.mp4").write_bytes(b"x")
    (tmp_path / "a_drop.mov").write_bytes(b"x")
    (tmp_path / "a_drop.times.csv").write_text("0.5\n")
    _truth(tmp_path, "c_hand")
    (tmp_path / "c_hand.mkv").write_bytes(b"x")
    (tmp_path / "ignored.mp4").write_bytes(b"x")  # no truth: not a clip
    clips = cc.corpus_clips(tmp_path)
    assert [(c.name, c.family, c.video.name) for c in clips] == [
        ("a_drop", "drop", "a_drop.mp4"),  # .mp4 taken before .mov
        ("b_strike", "strike", "b_strike.mov"),
        ("c_hand", cc.NO_FAMILY, "c_hand.mkv"),
    ]
    assert clips[0].truth["name"] == "something_else"
    assert cc.corpus_clips(tmp_path / "b_strike.mov") == []  # a file holds no clips


@pytest.mark.parametrize(("content", "says"), [
    (None, "has no video beside it (x with a suffix of '.mp4', '.mov', '.m4v', '.mkv', '.avi', '.webm', "
           "'.mxf' or '.mts')"),
    ("{not json", "not readable as JSON"),
    ("[1, 2]", "holds a list, not a JSON object"),
])
def test_a_folder_that_cannot_be_read_is_refused_naming_the_file(tmp_path: Path, content: str | None,
                                                                  says: str) -> None:
    if content is None:
        _truth(tmp_path, "x", family="drop")
    else:
        (tmp_path / "x.truth.json").write_text(content)
        (tmp_path / "x.mp4").write_bytes(b"x")
    with pytest.raises(cc.CorpusFolderError) as e:
        cc.corpus_clips(tmp_path)
    assert str(tmp_path / "x.truth.json") in str(e.value) and says in str(e.value)


def test_the_benches_refuse_such_a_folder_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import bench_detection
    import diagnose_motion

    _truth(tmp_path, "x", family="drop")
    for module in (bench_detection, diagnose_motion):
        assert module.main([str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert f"{module.__name__}: {tmp_path / 'x.truth.json'} has no video beside it" in err
        assert "Traceback" not in err
