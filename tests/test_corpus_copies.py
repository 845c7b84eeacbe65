"""bench/corpus_copies.py: copies of a corpus folder (scaled, compressed harder, interlaced, ProRes
proxies), truth files beside them."""

from __future__ import annotations

import json
import shutil
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import corpus_copies  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command line (.ci/run installs it)")


def _clip(folder: Path, name: str, ext: str = ".mp4", fps: int = 25) -> None:
    from syncfoley.engine.media.video import write_video

    frames = [np.full((54, 96, 3), 20 * k, np.uint8) for k in range(10)]
    write_video(folder / f"{name}{ext}", iter(frames), Fraction(fps))
    (folder / f"{name}.truth.json").write_text(json.dumps({"name": name, "impacts": [], "band": []}))
    (folder / f"{name}.times.csv").write_text("0.2\n")


def test_copies_are_scaled_and_carry_their_truth(tmp_path: Path) -> None:
    from syncfoley.engine.media.video import probe

    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    _clip(src, "a")
    _clip(src, "b", ".mov")
    assert corpus_copies.main([str(src), str(dst), "--width", "48"]) == 0
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
    assert corpus_copies.main([str(src), str(dst), "--width", "48"]) == 0
    assert (dst / "a.mp4").read_bytes() == b"mine" and "exists, kept" in capsys.readouterr().out
    assert corpus_copies.main([str(src), str(dst), "--width", "48", "--overwrite"]) == 0
    assert (dst / "a.mp4").read_bytes() != b"mine"


@pytest.mark.parametrize("args,says", [
    (["--width", "8"], "--width 8: give 32 or more"),
    (["--width", "48", "--jobs", "0"], "--jobs 0: give 1 or more"),
    (["--crf", "52"], "--crf 52: give 0 to 51"),
    (["--interlace", "--codec", "prores-proxy"], "--interlace makes interlaced H.264"),
    (["--codec", "dnxhd"], "invalid choice: 'dnxhd'"),
    (["--preset", "quick"], "invalid choice: 'quick'"),
])
def test_bad_arguments_are_refused_by_name(tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str],
                                           says: str) -> None:
    with pytest.raises(SystemExit) as e:
        corpus_copies.main([str(tmp_path), str(tmp_path / "out"), *args])
    assert e.value.code == 2 and says in capsys.readouterr().err


def test_a_folder_without_clips_or_a_truth_without_video_is_refused(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    assert corpus_copies.main([str(tmp_path), str(tmp_path / "out"), "--width", "48"]) == 2
    assert "no clips under" in capsys.readouterr().err
    (tmp_path / "x.truth.json").write_text(json.dumps({"name": "x"}))
    assert corpus_copies.main([str(tmp_path), str(tmp_path / "out"), "--width", "48"]) == 2
    assert "has no video beside it" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert corpus_copies.main([str(tmp_path), str(tmp_path), "--width", "48"]) == 2
    assert "a folder of their own" in capsys.readouterr().err


def _stream(path: Path) -> dict[str, str]:
    """The video stream as ffprobe, another reader than the one that wrote it, sees it."""
    import subprocess

    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                          "stream=codec_name,profile,field_order,avg_frame_rate,width,height,nb_read_frames",
                          "-of", "default=noprint_wrappers=1", str(path)], check=True, capture_output=True, text=True)
    return dict(line.split("=", 1) for line in out.stdout.split())


def test_interlaced_copies_pair_frames_into_fields_and_skip_slow_clips(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    _clip(src, "fast", fps=50)
    _clip(src, "slow", fps=25)
    assert corpus_copies.main([str(src), str(dst), "--width", "64", "--interlace"]) == 0
    info = _stream(dst / "fast.mp4")
    # Ten frames at 50p are five interlaced frames at 25i, top field first.
    assert (info["field_order"], info["avg_frame_rate"], info["nb_read_frames"]) == ("tt", "25/1", "5")
    assert (info["width"], info["height"]) == ("64", "36")
    assert (dst / "fast.times.csv").read_text() == "0.2\n"
    assert not (dst / "slow.mp4").exists() and not (dst / "slow.truth.json").exists()
    assert "slow.mp4: skipped, 25.000 fps (interlacing takes 48 fps or more)" in capsys.readouterr().out


def test_harder_compression_and_prores_proxies(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _clip(src, "a")
    assert corpus_copies.main([str(src), str(tmp_path / "q10"), "--crf", "10"]) == 0
    assert corpus_copies.main([str(src), str(tmp_path / "q40"), "--crf", "40"]) == 0
    assert (tmp_path / "q40" / "a.mp4").stat().st_size < (tmp_path / "q10" / "a.mp4").stat().st_size
    assert _stream(tmp_path / "q40" / "a.mp4")["field_order"] == "progressive"
    assert corpus_copies.main([str(src), str(tmp_path / "fast"), "--crf", "10", "--preset", "ultrafast"]) == 0
    assert (tmp_path / "fast" / "a.mp4").read_bytes() != (tmp_path / "q10" / "a.mp4").read_bytes()
    assert corpus_copies.main([str(src), str(tmp_path / "proxy"), "--width", "48", "--codec", "prores-proxy"]) == 0
    info = _stream(tmp_path / "proxy" / "a.mov")
    assert (info["codec_name"], info["profile"], info["width"], info["height"]) == ("prores", "Proxy", "48", "28")
    assert json.loads((tmp_path / "proxy" / "a.truth.json").read_text())["name"] == "a"
