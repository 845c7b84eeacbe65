"""The command line as a user meets it: outputs, errors, progress, start-up time."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import EXAMPLE, run_cli


@pytest.fixture(scope="module")
def run_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    # These tests follow the outputs through, so they name the detector that is exact on the example
    # clip: auto's physics detector doubles three of its fast stick strikes (test_physics_detector.py).
    proc = run_cli("run", str(EXAMPLE), "-o", str(out), "--preset", "metal", "--detector", "motion")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", "no progress bar may be drawn when stderr is not a terminal"
    return out


def test_run_writes_the_four_outputs(run_output: Path) -> None:
    names = sorted(p.name for p in run_output.iterdir())
    assert names == ["hits.foley.wav", "hits.onsets.json", "hits.onsets.mid", "hits.otio"]


def test_foley_wav_is_48k_24bit_and_as_long_as_the_video(run_output: Path) -> None:
    from syncfoley.engine.media.video import probe

    info = sf.info(str(run_output / "hits.foley.wav"))
    assert info.samplerate == 48000
    assert info.subtype == "PCM_24"
    assert info.frames == round(probe(EXAMPLE).duration * 48000)
    audio, _ = sf.read(str(run_output / "hits.foley.wav"))
    assert np.abs(audio).max() > 0.05, "the track must not be silent"


def test_onsets_json_schema(run_output: Path) -> None:
    data = json.loads((run_output / "hits.onsets.json").read_text())
    assert data["schema"] == "syncfoley.onsets/1"
    assert data["source"].endswith("hits.mp4")
    assert data["detector"] == "motion"
    assert data["fps"] == pytest.approx(30.0)
    assert data["duration"] == pytest.approx(6.0)
    times = [o["time"] for o in data["onsets"]]
    assert times == sorted(times) and len(times) >= 5
    for o in data["onsets"]:
        assert set(o) == {"time", "strength", "confidence", "x", "y"}  # picture onsets say where
        assert all(0 <= o[k] <= 1 for k in ("strength", "confidence", "x", "y"))


def test_generated_track_hits_its_onsets_under_the_protocol(run_output: Path) -> None:
    proc = run_cli("eval", str(run_output / "hits.foley.wav"), "--onsets", str(run_output / "hits.onsets.json"))
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    assert scores["onset_accuracy"] >= 0.95
    assert scores["onset_ap"] >= 0.9


def test_detect_and_generate_are_the_two_halves_of_run(tmp_path: Path, run_output: Path) -> None:
    proc = run_cli("detect", str(EXAMPLE), "-o", str(tmp_path / "x.json"), "-o", str(tmp_path / "x.mid"),
                   "-o", str(tmp_path / "x.csv"), "--detector", "motion")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "x.json").read_text())["onsets"] == json.loads(
        (run_output / "hits.onsets.json").read_text())["onsets"]
    for source in ("x.json", "x.mid", "x.csv"):
        wav = tmp_path / f"{source}.wav"
        proc = run_cli("generate", "--onsets", str(tmp_path / source), "--duration", "6", "-o", str(wav))
        assert proc.returncode == 0, proc.stderr
        assert sf.info(str(wav)).frames == 6 * 48000
        proc = run_cli("eval", str(wav), "--onsets", str(tmp_path / source))
        scores = json.loads(proc.stdout)
        assert scores["onset_accuracy"] >= 0.95 and scores["onset_ap"] >= 0.9, (source, scores)


def test_run_on_a_range(tmp_path: Path) -> None:
    proc = run_cli("run", str(EXAMPLE), "-o", str(tmp_path), "--start", "1.0", "--end", "3.5", "--detector", "motion")
    assert proc.returncode == 0, proc.stderr
    assert sf.info(str(tmp_path / "hits.foley.wav")).frames == round(2.5 * 48000)
    data = json.loads((tmp_path / "hits.onsets.json").read_text())
    assert data["range"] == {"start": 1.0, "end": 3.5}
    assert all(1.0 <= o["time"] < 3.5 for o in data["onsets"])
    scores = json.loads(run_cli("eval", str(tmp_path / "hits.foley.wav"), "--onsets",
                                str(tmp_path / "hits.onsets.json")).stdout)
    assert scores["onset_accuracy"] >= 0.95


def _error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.match(r"syncfoley: error \[[a-z_]+\]: \S", lines[0]), lines[0]
    return lines[0]


def test_missing_file(tmp_path: Path) -> None:
    line = _error(run_cli("run", str(tmp_path / "nope.mp4"), "-o", str(tmp_path)))
    assert "no such file" in line and "nope.mp4" in line
    assert not any(tmp_path.iterdir())


def test_not_a_video(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n")
    line = _error(run_cli("detect", str(fake), "-o", str(tmp_path / "o.json")))
    assert "notes.mp4" in line and "not a video" in line
    assert not (tmp_path / "o.json").exists()


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    wav = tmp_path / "sound.wav"
    sf.write(str(wav), np.zeros(4800), 48000)
    line = _error(run_cli("run", str(wav), "-o", str(tmp_path / "out")))
    assert "no video stream" in line and "audio" in line
    assert not (tmp_path / "out").exists()


def test_still_images_and_gifs_are_named_as_such(tmp_path: Path) -> None:
    import av
    import cv2

    still = tmp_path / "frame.png"
    cv2.imwrite(str(still), np.full((36, 64, 3), 90, np.uint8))
    line = _error(run_cli("detect", str(still), "-o", str(tmp_path / "o.json")))
    assert "frame.png is a still image (png); give a video file" in line
    # FFmpeg reads a GIF as a video stream, animated or not: the message names the format.
    gif = tmp_path / "loop.gif"
    with av.open(str(gif), "w", format="gif") as out:
        stream = out.add_stream("gif", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 36, "rgb8"
        for k in range(5):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((36, 64, 3), 40 * k, np.uint8), format="rgb24")))
        out.mux(stream.encode())
    line = _error(run_cli("run", str(gif), "-o", str(tmp_path / "out")))
    assert "loop.gif is a GIF, an image format (still or animated)" in line
    assert "ffmpeg -i loop.gif loop.mp4" in line
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "out").exists()


def test_range_outside_the_video(tmp_path: Path) -> None:
    line = _error(run_cli("run", str(EXAMPLE), "-o", str(tmp_path), "--start", "10"))
    assert "--start 10" in line and "6.000" in line
    line = _error(run_cli("run", str(EXAMPLE), "-o", str(tmp_path), "--start", "3", "--end", "2"))
    assert "--end 2" in line
    line = _error(run_cli("run", str(EXAMPLE), "-o", str(tmp_path), "--end", "60"))
    assert "--end 60" in line
    assert not any(tmp_path.iterdir())


def test_unknown_preset_lists_the_presets(tmp_path: Path) -> None:
    line = _error(run_cli("run", str(EXAMPLE), "-o", str(tmp_path), "--preset", "rubber-duck"))
    assert "'rubber-duck'" in line
    for name in ("wood", "metal", "glass", "plastic", "ceramic", "stone", "cloth", "paper", "gravel", "leaves"):
        assert name in line
    assert not any(tmp_path.iterdir())


def test_empty_samples_folder(tmp_path: Path) -> None:
    empty = tmp_path / "shots"
    empty.mkdir()
    (empty / "readme.txt").write_text("no audio here")
    line = _error(run_cli("run", str(EXAMPLE), "-o", str(tmp_path / "out"), "--samples", str(empty)))
    assert "no audio files" in line and "shots" in line


def test_bad_onsets_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    line = _error(run_cli("generate", "--onsets", str(bad), "--duration", "2", "-o", str(tmp_path / "y.wav")))
    assert "bad.json" in line and "not valid JSON" in line
    line = _error(run_cli("generate", "--onsets", str(tmp_path / "x.txt"), "--duration", "2", "-o", str(tmp_path / "y.wav")))
    assert ".json" in line and ".mid" in line
    assert not (tmp_path / "y.wav").exists()


def test_existing_outputs_are_kept_unless_overwrite(tmp_path: Path) -> None:
    wav = tmp_path / "hits.foley.wav"
    wav.write_bytes(b"precious")
    line = _error(run_cli("run", str(EXAMPLE), "-o", str(tmp_path)))
    assert "hits.foley.wav" in line and "--overwrite" in line
    assert wav.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hits.foley.wav"]
    proc = run_cli("run", str(EXAMPLE), "-o", str(tmp_path), "--overwrite", "--end", "1")
    assert proc.returncode == 0, proc.stderr
    assert sf.info(str(wav)).samplerate == 48000
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_help_is_instant_and_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from syncfoley.bridge import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'av', 'opentimelineio', 'scipy', 'librosa', 'mido', 'torch') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "usage: syncfoley" in proc.stdout
    assert "HEAVY []" in proc.stderr, proc.stderr


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """Under a pseudo-terminal the bar is drawn on stderr; piped, nothing is (see run_output)."""
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout/stderr are the terminal
        os.execv(sys.executable, [sys.executable, "-m", "syncfoley.bridge.cli", "run", str(EXAMPLE),
                                  "-o", str(tmp_path), "--end", "2"])
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "\r[" in text and "%" in text and "done" in text


def test_version_and_presets_listing() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("syncfoley ")
    proc = run_cli("presets")
    assert proc.returncode == 0
    assert len(proc.stdout.strip().splitlines()) >= 10


def test_damaged_video_detects_what_it_can_and_says_where_it_stopped(tmp_path: Path) -> None:
    data = bytearray(EXAMPLE.read_bytes())
    rng = np.random.default_rng(1)
    for i in range(200_000, 300_000, 97):
        data[i] = int(rng.integers(256))
    bad = tmp_path / "damaged.mp4"
    bad.write_bytes(bytes(data))
    proc = run_cli("detect", str(bad), "-o", str(tmp_path / "o.json"))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warning = [line for line in proc.stderr.splitlines() if line.startswith("syncfoley: warning:")]
    assert len(warning) == 1 and "damaged.mp4" in warning[0] and "decoded past" in warning[0]
    data = json.loads((tmp_path / "o.json").read_text())
    stopped = data["decode_stopped_at"]
    assert 0 < stopped < 6.0
    assert data["onsets"] and all(o["time"] <= stopped for o in data["onsets"])


def test_output_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("")
    line = _error(run_cli("run", str(EXAMPLE), "-o", str(tmp_path / "out")))
    assert "is a file" in line


def test_bad_fields_are_one_line_with_their_code_and_nothing_written(tmp_path: Path) -> None:
    for args, code, words in [
        (["--seed", str(2**70)], "bad_request", ("seed", "0..4294967295")),
        (["--channels", "6"], "bad_request", ("channels", "1 or 2")),
        (["--engine", "magic"], "bad_request", ("'magic'", "'diffusion'")),
        (["--steps", "0"], "bad_request", ("steps", "1..1000")),
        (["--detector", "ears"], "bad_request", ("'ears'", "'motion'")),
        (["--start", "inf"], "bad_request", ("start", "finite")),
        (["--preset", "rubber-duck"], "preset", ("'rubber-duck'",)),
    ]:
        line = _error(run_cli("run", str(EXAMPLE), "-o", str(tmp_path / "out"), *args))
        assert line.startswith(f"syncfoley: error [{code}]: "), (args, line)
        for w in words:
            assert w in line, (args, w, line)
    assert not any(tmp_path.iterdir())


def test_demo_writes_a_cut_that_conform_scores(tmp_path: Path) -> None:
    demo = tmp_path / "try"
    proc = run_cli("demo", str(demo), "--events", "4", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in demo.iterdir()) == ["cut.edl", "media", "truth.onsets.json"]
    assert "syncfoley conform" in proc.stderr
    edl_bytes = (demo / "cut.edl").read_bytes()
    # A second demo into the same folder replaces nothing without --overwrite, and says so.
    line = _error(run_cli("demo", str(demo), "--events", "4"))
    assert line.startswith("syncfoley: error [exists]: ") and "--overwrite" in line
    assert (demo / "cut.edl").read_bytes() == edl_bytes
    line = _error(run_cli("demo", str(tmp_path / "other"), "--rate", "26"))
    assert "'26'" in line and "'29.97'" in line and not (tmp_path / "other").exists()
    proc = run_cli("conform", str(demo / "cut.edl"), "--media-root", str(demo / "media"), "-o", str(demo / "foley"),
                   "--cache", str(tmp_path / "cache"), "-q")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("eval", str(demo / "foley" / "foley_stem.wav"), "--onsets", str(demo / "truth.onsets.json"),
                   "--offset", "0")
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    assert scores["requested"] >= 8 and scores["onset_accuracy"] >= 0.9, scores


def test_train_motion_help_states_the_defaults_the_training_uses() -> None:
    """The help is written out (``--help`` imports nothing heavy); the defaults live in
    MotionTrainConfig. The help said 32 hidden units for a release after they became 64."""
    import re

    from syncfoley.bridge.api import MotionTrainConfig

    text = " ".join(run_cli("train-motion", "--help").stdout.split())
    defaults = MotionTrainConfig()
    for option, name in (("--epochs", "epochs"), ("--hidden", "hidden"), ("--members", "members")):
        said = re.search(re.escape(option) + r" \w+ [^(]*\(default (\d+)\)", text)
        assert said, f"{option} states no default"
        assert int(said.group(1)) == getattr(defaults, name), f"{option}: help says {said.group(1)}"
