"""bench/scaled_copies.py: smaller copies of a corpus folder, truth files beside them."""

from __future__ import annotations

import json
import shutil
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import scaled_copies  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command line (.ci/run installs it)")


def _clip(folder: Path, name: str, ext: str = ".mp4") -> None:
    from syncfoley.engine.media.video import write_video

    frames = [np.full((54, 96, 3), 20 * k, np.uint8) for k in range(10)]
    write_video(folder / f"{name}{ext}", iter(frames), Fraction(25))
    (folder / f"{name}.truth.json").write_text(json.dumps({"name": name, "impacts": [], "band": []}))
    (folder / f"{name}.times.csv").write_text("0.2\n")


def test_copies_are_scaled_and_carry_their_truth(tmp_path: Path) -> None:
    from syncfoley.engine.media.video import probe

    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    _clip(src, "a")
    _clip(src, "b", ".mov")
    assert scaled_copies.main([str(src), str(dst), "--width", "48"]) == 0
    for name in ("a", "b"):
        info = probe(dst / f"{name}.mp4")
        assert (info.width, info.height) == (48, 28)  # 27 rounded to even, as ffmpeg's -2 does
        assert (dst / f"{name}.times.csv").read_text() == "0.2\n"
        assert json.loads((dst / f"{name}.truth.json").read_text())["name"] == name
    assert not list(dst.glob(".*partial*"))


def test_an_existing_copy_is_kept_unless_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    _clip(src, "a")
    dst.mkdir()
    (dst / "a.mp4").write_bytes(b"mine")
    assert scaled_copies.main([str(src), str(dst), "--width", "48"]) == 0
    assert (dst / "a.mp4").read_bytes() == b"mine" and "exists, kept" in capsys.readouterr().out
    assert scaled_copies.main([str(src), str(dst), "--width", "48", "--overwrite"]) == 0
    assert (dst / "a.mp4").read_bytes() != b"mine"


@pytest.mark.parametrize("args,says", [
    (["--width", "8"], "--width 8: give 32 or more"),
    (["--width", "48", "--jobs", "0"], "--jobs 0: give 1 or more"),
])
def test_bad_arguments_are_refused_by_name(tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str],
                                           says: str) -> None:
    with pytest.raises(SystemExit) as e:
        scaled_copies.main([str(tmp_path), str(tmp_path / "out"), *args])
    assert e.value.code == 2 and says in capsys.readouterr().err


def test_a_folder_without_clips_or_a_truth_without_video_is_refused(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    assert scaled_copies.main([str(tmp_path), str(tmp_path / "out"), "--width", "48"]) == 2
    assert "no clips under" in capsys.readouterr().err
    (tmp_path / "x.truth.json").write_text(json.dumps({"name": "x"}))
    assert scaled_copies.main([str(tmp_path), str(tmp_path / "out"), "--width", "48"]) == 2
    assert "has no video beside it" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert scaled_copies.main([str(tmp_path), str(tmp_path), "--width", "48"]) == 2
    assert "a folder of their own" in capsys.readouterr().err
