"""Input that once ended in a traceback, a MemoryError or silence: each is now one clear
line and a non-zero exit (or, for a truncated file, a warning and ``decode_stopped_at``)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from conftest import run_cli

from syncfoley.adapters import edl
from syncfoley.engine.media.video import write_video

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange


def one_line_error(res: subprocess.CompletedProcess[str], code: str) -> str:
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and "MemoryError" not in res.stderr, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("syncfoley: error")]
    assert len(lines) == 1 and f"[{code}]" in lines[0], res.stderr
    return lines[0]


def capped(*args: str, gib: float = 1.0) -> subprocess.CompletedProcess[str]:
    """The CLI under an address-space cap: a command that tried to allocate for the input's
    claims would die of MemoryError here instead of answering."""

    def cap() -> None:
        limit = int(gib * 2**30) + 2**31  # plus what the interpreter, NumPy and torch map at start
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([sys.executable, "-m", "syncfoley.bridge.cli", *args], capture_output=True, text=True,
                          timeout=300, preexec_fn=cap)


def test_six_hours_of_generate_is_refused_naming_the_limit(tmp_path: Path) -> None:
    res = run_cli("demo", str(tmp_path / "demo"), "--events", "1")
    assert res.returncode == 0, res.stderr
    onsets = tmp_path / "demo" / "truth.onsets.json"
    res = capped("generate", "--onsets", str(onsets), "--duration", "21600", "-o", str(tmp_path / "six.wav"))
    line = one_line_error(res, "request")
    assert "21600" in line and "3600 s" in line
    assert not (tmp_path / "six.wav").exists()


def _edl(path: Path, events: list[str]) -> Path:
    path.write_text("TITLE: big\nFCM: NON-DROP FRAME\n\n" + "\n".join(events) + "\n")
    return path


def test_an_edl_of_a_hundred_thousand_lines_is_refused(tmp_path: Path) -> None:
    lines = []
    for k in range(20001):
        rec = 90000 + k * 5
        lines.append(f"{k % 1000:03d}  SHOT     V     C        00:00:01:00 00:00:01:05 "
                     f"{edl.frames_to_tc(rec, 25, False)} {edl.frames_to_tc(rec + 5, 25, False)}")
        lines += ["* FROM CLIP NAME: shot.mov", "", "", ""]
    cut = _edl(tmp_path / "big.edl", lines)
    assert len(cut.read_text().splitlines()) > 100_000
    res = capped("conform", str(cut), "--media-root", str(tmp_path), "-o", str(tmp_path / "out"))
    assert "at most 10000" in one_line_error(res, "timeline")
    assert not (tmp_path / "out").exists()




def test_a_ten_hour_freeze_frame_is_refused(tmp_path: Path) -> None:
    cut = _edl(tmp_path / "freeze.edl", [
        f"001  SHOT     V     C        00:00:01:00 00:00:01:01 01:00:00:00 {edl.frames_to_tc(90000 + 10 * 3600 * 25, 25, False)}",
        "M2   SHOT     000.0                00:00:01:00",
    ])
    res = capped("conform", str(cut), "--media-root", str(tmp_path), "-o", str(tmp_path / "out"))
    assert "renders at most 3600 s" in one_line_error(res, "timeline")


def _otio(path: Path, clips: list[otio.schema.Clip], nested: int = 0, deep: bool = False) -> Path:
    """A cut of ``clips``, then ``nested`` sequences: side by side, or each inside the last (``deep``)."""
    tl = otio.schema.Timeline(name="t", global_start_time=RT(90000, 25))
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for c in clips:
        track.append(c)
    parent = track
    for _ in range(nested):
        stack = otio.schema.Stack(name="nest")
        inner = otio.schema.Track(kind=otio.schema.TrackKind.Video)
        stack.append(inner)
        parent.append(stack)
        if deep:
            parent = inner
    tl.tracks.append(track)
    # Compact, as an attacker would send it: OTIO's indented form of deep nesting is quadratic.
    path.write_text(otio.adapters.write_to_string(tl, "otio_json", indent=-1))
    return path


def _clip(duration: float, media: Path) -> otio.schema.Clip:
    return otio.schema.Clip(name="shot", source_range=TR(RT(0, 25), RT(duration, 25)),
                            media_reference=otio.schema.ExternalReference(target_url=str(media)))


@pytest.fixture
def shot(tmp_path: Path) -> Path:
    import stand_ins

    path = tmp_path / "media" / "shot.mov"
    path.parent.mkdir()
    write_video(path, stand_ins.frames(50, 25), 25, codec="mjpeg")
    return path


@pytest.mark.parametrize("duration", [float("nan"), float("inf"), 1e12])
def test_an_otio_clip_of_impossible_duration(tmp_path: Path, shot: Path, duration: float) -> None:
    cut = _otio(tmp_path / "cut.otio", [_clip(25, shot), _clip(duration, shot)])
    res = capped("conform", str(cut), "--media-root", str(shot.parent), "-o", str(tmp_path / "out"))
    assert "Traceback" not in res.stderr and "MemoryError" not in res.stderr, res.stderr
    # The bad clip is left out, named (exit 1: a partial conform), or the whole cut refused (2).
    assert res.returncode in (1, 2), res.stdout + res.stderr
    assert "V1 item 2: a time of" in res.stderr and "is not a usable time" in res.stderr or \
        "renders at most 3600 s" in res.stderr, res.stderr


def test_an_otio_clip_of_negative_duration_is_left_out_by_name(tmp_path: Path, shot: Path) -> None:
    """OTIO stores a negative duration as given; the conform's stem was then an array of
    negative length (NumPy's ValueError)."""
    cut = _otio(tmp_path / "cut.otio", [_clip(25, shot), _clip(-10, shot)])
    res = capped("conform", str(cut), "--media-root", str(shot.parent), "-o", str(tmp_path / "out"))
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 1 and "V1 item 2: clip 'shot' lasts -10 frames" in res.stderr, res.stdout + res.stderr
    assert (tmp_path / "out" / "foley_stem.wav").is_file()


def _warped(speed: float, media: Path) -> otio.schema.Clip:
    clip = _clip(25, media)
    clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=speed))
    return clip


def _dissolve(in_offset: int, out_offset: int) -> otio.schema.Transition:
    return otio.schema.Transition(in_offset=RT(in_offset, 25), out_offset=RT(out_offset, 25))


@pytest.mark.parametrize("items, message", [
    # A NaN or infinite time warp was a frame count no integer holds (ValueError, OverflowError).
    (lambda m: [_clip(25, m), _warped(float("nan"), m)], "V1 item 2: clip 'shot' plays at a speed of nan"),
    (lambda m: [_clip(25, m), _warped(float("inf"), m)], "V1 item 2: clip 'shot' plays at a speed of inf"),
    (lambda m: [_clip(25, m), _dissolve(-5, -5), _clip(25, m), _clip(25, m)],
     "a transition's offsets are 0 frames or more"),
    # A dissolve reaching back past the timeline's start put Foley at a negative time (the
    # Broadcast WAV writer's ValueError).
    (lambda m: [_clip(25, m), _dissolve(100, 5), _clip(25, m)], "reaches 100 frames back from its cut at frame 25"),
])
def test_an_otio_clip_that_cannot_play_is_left_out_by_name(tmp_path: Path, shot: Path, items, message: str) -> None:
    cut = _otio(tmp_path / "cut.otio", items(shot))
    res = capped("conform", str(cut), "--media-root", str(shot.parent), "-o", str(tmp_path / "out"))
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 1 and message in res.stderr, res.stdout + res.stderr
    assert (tmp_path / "out" / "foley_stem.wav").is_file()


def test_an_otio_clip_of_no_length_plays_nothing(tmp_path: Path, shot: Path) -> None:
    """As an EDL's zero-length events: skipped, not an AAF writer's ZeroDivisionError."""
    cut = _otio(tmp_path / "cut.otio", [_clip(0, shot), _clip(25, shot)])
    res = capped("conform", str(cut), "--media-root", str(shot.parent), "-o", str(tmp_path / "out"))
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "1 events" in res.stdout, res.stdout


def test_thousands_of_nested_stacks_stay_small(tmp_path: Path, shot: Path) -> None:
    cut = _otio(tmp_path / "nest.otio", [_clip(25, shot)], nested=5000)
    res = capped("conform", str(cut), "--media-root", str(shot.parent), "-o", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    written = (tmp_path / "out" / "foley.otio").stat().st_size
    assert written < 20 * cut.stat().st_size, f"a {cut.stat().st_size}-byte cut became a {written}-byte foley.otio"
    assert "4997 more nested sequences left out" in (tmp_path / "out" / "report.html").read_text()


def test_five_thousand_sequences_each_inside_the_last_are_refused(tmp_path: Path, shot: Path) -> None:
    cut = _otio(tmp_path / "deep.otio", [_clip(25, shot)], nested=5000, deep=True)
    assert cut.stat().st_size < 2_000_000  # small on the wire
    res = capped("conform", str(cut), "--media-root", str(shot.parent), "-o", str(tmp_path / "out"))
    assert "nested more than 32 deep" in one_line_error(res, "timeline")
    assert not (tmp_path / "out").exists()


def _encode(path: Path, frames: list[np.ndarray], codec: str, pix_fmt: str, **container: str) -> Path:
    """A video written with PyAV directly (codecs and muxer flags the product never writes)."""
    import av

    with av.open(str(path), "w", options=container) as out:
        vs = out.add_stream(codec, rate=25)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        for img in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path


def test_a_one_pixel_video_is_named(tmp_path: Path) -> None:
    tiny = _encode(tmp_path / "tiny.mov", [np.full((1, 1, 3), k * 10, np.uint8) for k in range(25)], "png", "rgb24")
    for cmd in (("detect", str(tiny), "-o", str(tmp_path / "t.json")), ("run", str(tiny), "-o", str(tmp_path / "r"))):
        line = one_line_error(run_cli(*cmd), "media")
        assert "tiny.mov is 1x1 pixels" in line and "at least 32x32" in line


def test_a_very_wide_picture_is_analysed_not_crashed_on(tmp_path: Path) -> None:
    # 600x32 scaled to 512 across is 28 rows, and OpenCV's DIS flow killed the process there
    # (SIGSEGV, no message). Analysis now keeps 32 rows; each detector runs in its own process,
    # so a crash fails this test instead of the test run.
    from syncfoley.engine.media.video import analysis_size

    assert analysis_size(600, 32, 512) == (600, 32) and analysis_size(1920, 1080, 512) == (512, 288)
    assert analysis_size(600, 32, 512, 480) == (600, 32) and analysis_size(320, 180, 512, 480) == (512, 288)
    assert analysis_size(32, 32, 512, 480) == (512, 512) and analysis_size(320, 180, 512) == (320, 180)
    assert analysis_size(480, 270, 512, 480) == (480, 270) and analysis_size(240, 600, 512, 480) == (240, 600)
    rng = np.random.default_rng(1)
    frames = []
    for k in range(30):
        img = np.full((32, 600, 3), 90, np.uint8)
        img[8:24, 20 + 15 * k: 36 + 15 * k] = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
        frames.append(img)
    wide = _encode(tmp_path / "wide.mp4", frames, "libx264", "yuv420p")
    for detector in ("physics", "motion"):
        res = run_cli("detect", str(wide), "--detector", detector, "-o", str(tmp_path / f"{detector}.json"))
        assert res.returncode == 0, (detector, res.returncode, res.stderr)
        assert json.loads((tmp_path / f"{detector}.json").read_text())["detector"] == detector


def test_a_truncated_fast_start_mp4_is_reported(tmp_path: Path) -> None:
    # Fast start: the index (moov) first, promising 180 frames; half the file holds far fewer.
    # Noisy frames, so that the pictures and not the index fill the file.
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(180)]
    whole = _encode(tmp_path / "whole.mp4", frames, "libx264", "yuv420p", movflags="+faststart")
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    res = run_cli("detect", str(cut), "-o", str(tmp_path / "cut.onsets.json"))
    assert res.returncode == 0, res.stderr
    assert "warning" in res.stderr and "the file ends early" in res.stderr
    stopped = json.loads((tmp_path / "cut.onsets.json").read_text())["decode_stopped_at"]
    assert 0.5 < stopped < 6.5
    res = run_cli("detect", str(whole), "-o", str(tmp_path / "whole.onsets.json"))
    assert res.returncode == 0 and "warning" not in res.stderr
