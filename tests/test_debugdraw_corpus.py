"""bench/debugdraw_corpus.py: clips drawn by pymunk's own debug drawing, with truth read from the
engine's contacts."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

pytest.importorskip("pygame", reason="bench/debugdraw_corpus.py draws with pygame (the test extra installs it)")
import debugdraw_corpus as dd  # noqa: E402

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command line")


@pytest.mark.parametrize("height", [0.3, 1.2])
def test_a_dropped_ball_arrives_at_free_fall_speed_and_time(height: float) -> None:
    world = dd.World(np.random.default_rng(0))
    world.ball((0.0, height + 0.1), 0.1, 0.5)
    dt = 1.0 / 600
    while not world.contacts and world.t < 2.0:
        world.step(dt)
    first = world.contacts[0]
    # Measured before the contact's impulse: the whole approach speed, not what is left of it.
    assert first.speed == pytest.approx(math.sqrt(2 * 9.81 * height), rel=0.02)
    assert first.time == pytest.approx(math.sqrt(2 * height / 9.81), abs=2 * dt)
    assert first.point[1] == pytest.approx(0.0, abs=0.01)


def test_the_camera_projects_its_own_centre_to_the_middle_and_its_width_across() -> None:
    kind = dd.KINDS["strikes30"]
    cam = dd.Camera(np.random.default_rng(1), kind, 4.0, (1.0, 0.5))
    assert cam.project(0.0, (1.0, 0.5)) == pytest.approx((0.5, 0.5))
    assert cam.project(0.0, (3.0, 0.5))[0] == pytest.approx(1.0)
    # y up in the world is up in the picture; the transform pymunk draws with agrees
    x, y = cam.project(0.0, (1.0, 1.0))
    tr = cam.transform(0.0)
    px = (tr.a * 1.0 + tr.c * 1.0 + tr.tx, tr.b * 1.0 + tr.d * 1.0 + tr.ty)
    assert px == pytest.approx((x * kind.size[0], y * kind.size[1]))
    assert y < 0.5
    # With a handheld camera's roll too: the truth's places are where the drawing puts them.
    shaky = dd.Camera(np.random.default_rng(2), dd.KINDS["shakedrops"], 4.0, (1.0, 0.5))
    assert shaky.at(0.37)[3] != 0.0
    for p in ((1.3, 0.2), (-0.4, 1.1)):
        x, y = shaky.project(0.37, p)
        tr = shaky.transform(0.37)
        w, h = dd.KINDS["shakedrops"].size
        assert (tr.a * p[0] + tr.c * p[1] + tr.tx, tr.b * p[0] + tr.d * p[1] + tr.ty) == pytest.approx((x * w, y * h))


@needs_ffmpeg
def test_a_rendered_clip_shows_the_object_where_and_when_its_truth_says(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    small = dataclasses.replace(dd.KINDS["drops25"], size=(320, 180), seconds=3.0, codec="h264", shutter=(0, 0))
    monkeypatch.setitem(dd.KINDS, "drops25", small)
    assert dd.main([str(tmp_path), "--kind", "drops25", "--count", "1", "--first", "2"]) == 0
    name = f"drops25_{dd.FIRST_SEED + 2}"
    truth = json.loads((tmp_path / f"{name}.truth.json").read_text())
    assert truth["impacts"] and (truth["family"], truth["group"]) == ("drops25", "drop")
    assert (tmp_path / f"{name}.times.csv").read_text().split() == [f"{i['time']:.5f}" for i in truth["impacts"]]
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-count_frames", "-show_entries",
                            "stream=codec_name,width,height,r_frame_rate,nb_read_frames", "-of", "json",
                            str(tmp_path / f"{name}.mp4")], capture_output=True, text=True, check=True)
    stream = json.loads(probe.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 320, 180)
    assert (stream["r_frame_rate"], int(stream["nb_read_frames"])) == ("25/1", 75)
    from syncfoley.engine.media.video import iter_frames
    from syncfoley.engine.types import TimeRange

    frames = [img for _, img in iter_frames(tmp_path / f"{name}.mp4", TimeRange(0, 3.0), 320, None, "rgb24")]
    hit = truth["impacts"][0]
    k = int(math.ceil(hit["time"] * 25))
    x, y = int(hit["x"] * 320), int(hit["y"] * 180) - 4  # just above the contact: the object
    before = frames[0][y - 3:y + 1, x - 2:x + 3].astype(float)
    at = frames[k][y - 3:y + 1, x - 2:x + 3].astype(float)
    assert np.abs(at - before).mean() > 15  # the object is there at the impact, not at the start


@needs_ffmpeg
def test_a_clip_already_there_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture) -> None:
    small = dataclasses.replace(dd.KINDS["smooth"], size=(160, 90), seconds=1.0)
    monkeypatch.setitem(dd.KINDS, "smooth", small)
    name = f"smooth_{dd.FIRST_SEED}"
    (tmp_path / f"{name}.mp4").write_bytes(b"mine")
    assert dd.main([str(tmp_path), "--kind", "smooth", "--count", "1"]) == 0
    assert (tmp_path / f"{name}.mp4").read_bytes() == b"mine" and "exists, kept" in capsys.readouterr().out
    assert dd.main([str(tmp_path), "--kind", "smooth", "--count", "1", "--overwrite"]) == 0
    assert (tmp_path / f"{name}.mp4").read_bytes() != b"mine"
    assert json.loads((tmp_path / f"{name}.truth.json").read_text())["impacts"] == []
    assert not list(tmp_path.glob("*partial*"))


@pytest.mark.parametrize("args,says", [(["--count", "0"], "--count must be 1 or more"),
                                       (["--jobs", "0"], "--jobs 1..64 (got 8, 0 and 0)")])
def test_bad_counts_are_refused_by_name(capsys: pytest.CaptureFixture, tmp_path: Path, args: list[str],
                                        says: str) -> None:
    assert dd.main([str(tmp_path / "clips"), *args]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "clips").exists()


def test_a_file_where_the_folder_should_be_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "clips").write_text("not a folder")
    assert dd.main([str(tmp_path / "clips" / "dd"), "--count", "1"]) == 2
    assert "cannot make the folder for the clips" in capsys.readouterr().err


def test_the_named_set_renders_these_clips(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import corpus_sets as cs

    run = cs.SETS["debugdraw"].runs[0]
    assert cs.SETS["debugdraw"].role == "test" and run.seeds()[0] == dd.FIRST_SEED
    assert cs.main([str(tmp_path), "debugdraw", "--print"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"debugdraw_corpus.py {tmp_path / 'debugdraw'} --first 0 "
                                                    "--count 48 --jobs 2")


def test_another_frame_rate_films_the_same_world() -> None:
    # Balls: a box's corner contacts after its first depend on the step (a slap 3 ms after
    # landing at 600 steps a second, 12 ms at 250), a ball's landing does not.
    kind = dataclasses.replace(dd.KINDS["pairs"], fps=Fraction(25), seconds=4.0)
    at25 = dd.simulate("a", kind, dd.FIRST_SEED + 5, None)
    at60 = dd.simulate("b", dataclasses.replace(kind, fps=Fraction(60)), dd.FIRST_SEED + 5, None)
    assert len(at25["impacts"]) == len(at60["impacts"]) >= 4
    first25, first60 = at25["impacts"][0], at60["impacts"][0]
    # The world's draws do not depend on the rate; its steps do, so only to a step or two.
    assert first60["time"] == pytest.approx(first25["time"], abs=0.005)
    assert first60["speed"] == pytest.approx(first25["speed"], rel=0.03)
    assert (first60["x"], first60["y"]) == pytest.approx((first25["x"], first25["y"]), abs=0.01)


def test_a_bad_frame_rate_is_refused_by_name(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for bad in ("0", "fast", "1/0", "500"):
        assert dd.main([str(tmp_path / "clips"), "--fps", bad]) == 2
        assert f"--fps {bad}: give a frame rate from 1 to 240" in capsys.readouterr().err
    assert not (tmp_path / "clips").exists()


def test_an_encoder_that_stops_leaves_nothing_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setitem(dd.KINDS, "smooth", dataclasses.replace(dd.KINDS["smooth"], size=(160, 90), seconds=1.0))
    assert dd.main([str(tmp_path / "clips"), "--kind", "smooth", "--count", "1"]) == 1
    assert "ffmpeg stopped while encoding smooth_50000.mp4 (exit 3)" in capsys.readouterr().err
    assert list((tmp_path / "clips").iterdir()) == []
