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
    ('{"band": []}', "has no 'impacts' (valid: a list of objects such as {\"time\": 1.25}"),
    ('{"impacts": [0.5]}', "'impacts' holds 0.5 (valid: a list of objects"),
    ('{"impacts": [{"time": "0.5"}]}', "'impacts' holds {\"time\": \"0.5\"} (valid"),
    ('{"impacts": [{"time": -1}]}', "'impacts' holds {\"time\": -1} (valid"),
    ('{"impacts": [], "band": {"time": 1}}', "'band' is {\"time\": 1} (valid"),
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


def test_footage_annotated_by_its_times_alone_is_read_as_the_trainer_reads_it(tmp_path: Path) -> None:
    _truth(tmp_path, "gen_drop", family="drop", impacts=[{"time": 0.5, "speed": 1.0}])
    (tmp_path / "gen_drop.mp4").write_bytes(b"x")
    (tmp_path / "gen_drop.times.csv").write_text("0.5\n")
    takes = tmp_path / "takes" / "day1"
    takes.mkdir(parents=True)
    # Greatest Hits names: the video NAME_denoised.mp4 beside NAME.times.csv.
    (takes / "door_denoised.mp4").write_bytes(b"x")
    (takes / "door.times.csv").write_text("time\n1.25\n0.5\n")
    (takes / "door.ignore.csv").write_text("2.0\n")
    (takes / "cup.mov").write_bytes(b"x")
    (takes / "cup.times.csv").write_text("")
    # A generator's clip below the folder keeps what its truth file says.
    (tmp_path / "takes" / "gen_strike.mp4").write_bytes(b"x")
    (tmp_path / "takes" / "gen_strike.times.csv").write_text("1.0\n")
    _truth(tmp_path / "takes", "gen_strike", family="strike", impacts=[{"time": 1.0, "speed": 2.0}])

    assert [c.name for c in cc.corpus_clips(tmp_path)] == ["gen_drop"]  # as before, unless asked
    clips = {c.name: c for c in cc.corpus_clips(tmp_path, times_alone=True)}
    assert list(clips) == ["gen_drop", "takes/day1/cup", "takes/day1/door", "takes/gen_strike"]
    door = clips["takes/day1/door"]
    assert door.video == takes / "door_denoised.mp4" and door.family == cc.NO_FAMILY
    assert door.truth == {"impacts": [{"time": 0.5}, {"time": 1.25}], "band": [{"time": 2.0}]}
    assert clips["takes/day1/cup"].truth == {"impacts": [], "band": []}
    assert clips["takes/gen_strike"].family == "strike"
    assert clips["gen_drop"].truth["impacts"][0]["speed"] == 1.0


def test_a_times_file_the_trainer_refuses_is_refused_naming_it(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    import bench_detection

    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "a.times.csv").write_text("0.5\n1.0ms\n")
    with pytest.raises(cc.CorpusFolderError) as e:
        cc.corpus_clips(tmp_path, times_alone=True)
    assert f"{tmp_path / 'a.times.csv'}:2: '1.0ms' is not an onset time in seconds" in str(e.value)
    (tmp_path / "a.times.csv").write_text("0.5\n")
    (tmp_path / "b.times.csv").write_text("0.5\n")  # no video beside it
    assert bench_detection.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bench_detection: {tmp_path / 'b.times.csv'} has no video beside it") and "Traceback" not in err
    (tmp_path / "b.times.csv").unlink()
    (tmp_path / "a.times.csv").unlink()
    assert bench_detection.main([str(tmp_path)]) == 2  # a video alone is no clip
    assert "give annotated footage (NAME.times.csv" in capsys.readouterr().err


def test_the_speed_is_timed_on_a_strike_clip_where_the_folder_has_one() -> None:
    import bench_detection

    def clip(family: str, name: str) -> tuple[str, Path, dict]:
        return family, Path(name), {}

    assert bench_detection.speed_source([clip("drop", "a_drop.mp4"), clip("strike", "b_strike.mov"),
                                         clip("strike", "c_strike.mp4")]) == Path("c_strike.mp4")
    # The debugdraw kinds' names; and footage with no family at all.
    assert bench_detection.speed_source([clip("drops25", "d.mp4"), clip("strikes30", "s.mp4")]) == Path("s.mp4")
    assert bench_detection.speed_source([clip(cc.NO_FAMILY, "x.mov")]) == Path("x.mov")


def test_compare_scorers_refuses_a_truth_file_that_is_not_json_in_one_line(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    import compare_scorers

    from syncfoley.engine.detect.motion_scorer import BUNDLED

    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "a.times.csv").write_text("0.5\n")
    (tmp_path / "a.truth.json").write_text("{not json")
    assert compare_scorers.main([str(BUNDLED), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'a.truth.json'}: not readable as JSON") and "Traceback" not in err


def test_the_diagnosis_refuses_a_truth_written_by_hand_naming_what_it_lacks(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture) -> None:
    import diagnose_motion

    (tmp_path / "x.truth.json").write_text('{"impacts": [{"time": 0.5}], "band": []}')
    (tmp_path / "x.mp4").write_bytes(b"x")
    assert diagnose_motion.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"diagnose_motion: {tmp_path / 'x.truth.json'} lacks camera, impacts' x, impacts' y, "
                          "impacts' speed: this diagnosis needs a generator's truth") and "Traceback" not in err
