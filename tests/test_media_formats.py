"""Editorial media: every codec and frame rate, variable frame rate, a late start."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import f1_score

from syncfoley.bridge import api
from syncfoley.engine.demo.scenes import catalogue
from syncfoley.engine.media.video import CODECS, probe, write_video

CONTAINERS = {"h264": ".mp4", "hevc": ".mp4", "prores": ".mov", "dnxhd": ".mov", "vp9": ".webm", "mjpeg": ".avi"}
RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30), Fraction(50),
         Fraction(60000, 1001)]


def _counts(found: list[float], truth: list[float], tol: float) -> tuple[int, int, int]:
    f1, p, r = f1_score(found, truth, tol)
    hits = round(r * len(truth))
    return hits, len(found), len(truth)


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[float], float]]:
    """Each codec at 25 fps (a struck block, shake, flicker) and each rate in H.264 (ball + striker)."""
    out = tmp_path_factory.mktemp("formats")
    clips = {}
    struck = dataclasses.replace(catalogue()["struck"], fps=Fraction(25))
    frames = list(struck.frames())
    for codec, ext in CONTAINERS.items():
        path = out / f"{codec}{ext}"
        write_video(path, iter(frames), struck.fps, codec=codec)
        clips[codec] = (path, struck.impacts(), 25.0)
    for rate in RATES:
        scene = dataclasses.replace(catalogue()["mixed"], fps=rate, duration=4.0)
        path = out / f"rate_{float(rate):.3f}.mp4"
        write_video(path, scene.frames(), rate)
        clips[f"{float(rate):.3f} fps"] = (path, scene.impacts(), float(rate))
    return clips


@pytest.fixture(scope="module")
def results(suite) -> dict[str, tuple[list[float], list[float], float]]:
    return {name: (api.detect(path, detector="motion").times(), truth, fps) for name, (path, truth, fps) in suite.items()}


def test_every_codec_decodes_with_the_right_rate_and_length(suite) -> None:
    for codec in CODECS:
        info = probe(suite[codec][0])
        assert info.fps == pytest.approx(25.0), codec
        assert info.duration == pytest.approx(4.0, abs=0.05), codec


def test_detection_across_codecs_and_rates(results) -> None:
    within_tenth = np.zeros(3, dtype=int)
    within_frame = np.zeros(3, dtype=int)
    for name, (found, truth, fps) in results.items():
        a = _counts(found, truth, 0.1)
        b = _counts(found, truth, 1.0 / fps)
        within_tenth += a
        within_frame += b
        f1, _, _ = f1_score(found, truth, 0.1)
        assert f1 >= 0.8, f"{name}: F1 {f1:.2f} ({found} vs {truth})"

    def f1(c: np.ndarray) -> float:
        hits, found, truth = c
        p, r = hits / found, hits / truth
        return 2 * p * r / (p + r)

    assert f1(within_tenth) >= 0.9, within_tenth
    assert f1(within_frame) >= 0.8, within_frame


def test_variable_frame_rate_and_a_late_start(tmp_path: Path) -> None:
    scene = dataclasses.replace(catalogue()["mixed"], duration=4.0)
    rng = np.random.default_rng(0)
    times, t = [], 0.0
    while t < 4.0:
        times.append(t)
        t += float(rng.choice([1 / 30, 1 / 24, 1 / 20]))
    path = tmp_path / "vfr.mp4"
    write_video(path, scene.frames(times), Fraction(30), times=times, start=10.0)
    info = probe(path)
    assert info.start_time == pytest.approx(10.0)
    assert info.duration == pytest.approx(4.0, abs=0.06)
    track = api.detect(path, detector="motion")
    assert all(0 <= x < 4.0 for x in track.times()), "times count from the first frame, not from PTS 0"
    f1, _, _ = f1_score(track.times(), scene.impacts())
    assert f1 >= 0.85


def test_one_scaler_per_file_gives_the_pixels_of_a_scaler_per_frame(suite) -> None:
    """iter_frames keeps one scaler for the whole file (a new one per frame cost more than
    the scaling); the pictures must be those of each frame's own reformat, in every codec
    and pixel format (10-bit 4:2:2 ProRes, JPEG-range MJPEG), grey and colour."""
    import av

    from syncfoley.engine.media.video import TimeRange, analysis_size, iter_frames

    for codec in CODECS:
        path = suite[codec][0]
        for width, fmt in ((200, "gray"), (160, "rgb24")):
            ours = [img for _, img in iter_frames(path, TimeRange(0.0, 1.0), width, None, fmt)]
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                _, height = analysis_size(stream.width, stream.height, width)
                theirs = [f.reformat(width=width, height=height, format=fmt, interpolation="AREA").to_ndarray()
                          for f, _ in zip(container.decode(stream), ours)]
            assert len(ours) == len(theirs) > 20, codec
            assert ours[0].shape == theirs[0].shape, (codec, fmt, ours[0].shape, theirs[0].shape)
            assert all(np.array_equal(a, b) for a, b in zip(ours, theirs)), (codec, fmt)


def test_decoding_on_one_thread_gives_the_pixels_of_ffmpegs_own_choice(suite) -> None:
    """The physics detector decodes on every core but one (on two cores, one thread); the
    pictures must be those FFmpeg decodes with its own thread count, to the bit, in every
    codec."""
    from syncfoley.engine.media.video import TimeRange, decoder_threads, iter_frames

    assert decoder_threads() >= 1
    for codec in CODECS:
        path = suite[codec][0]
        one, own = ([img for _, img in iter_frames(path, TimeRange(0.0, 2.0), 200, None, "gray", None, threads)]
                    for threads in (1, 0))
        assert len(one) == len(own) > 40, codec
        assert all(np.array_equal(a, b) for a, b in zip(one, own)), codec


def test_a_picture_whose_rows_ffmpeg_pads_goes_through_every_picture_detector(tmp_path: Path) -> None:
    """Below the analysis width a picture is not scaled, and FFmpeg pads each row to its
    alignment: 330 pixels came as a strided view 336 bytes a row, which OpenCV's optical
    flow refused with a traceback (426x240, YouTube's smallest size, did the same)."""
    import cv2

    from syncfoley.engine.media.video import TimeRange, iter_frames

    scene = dataclasses.replace(catalogue()["bouncing"], duration=3.0)
    # At half size with ten more columns of the picture's own right edge: the same scene, 330 wide.
    half = [cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA) for f in scene.frames()]
    frames = [np.concatenate([f, np.repeat(f[:, -1:], 10, axis=1)], axis=1) for f in half]
    assert frames[0].shape[1] == 330
    path = tmp_path / "padded.mp4"
    write_video(path, iter(frames), scene.fps)
    for fmt in ("gray", "rgb24"):
        _, img = next(iter_frames(path, TimeRange(0.0, 1.0), 512, None, fmt))
        assert img.shape[:2] == (frames[0].shape[0], 330) and img.flags["C_CONTIGUOUS"], (fmt, img.strides)
    f1, _, _ = f1_score(api.detect(path, detector="motion").times(), scene.impacts())
    assert f1 >= 0.9
    track = api.detect(path, detector="physics")
    assert track.detector == "physics" and all(0 <= x < 3.0 for x in track.times())


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_phone_footage_is_analysed_upright(tmp_path: Path, rotation: int) -> None:
    """Phones store frames sideways and tag the stream: a ball that falls down the
    screen must still be a ball that falls, or its bounce reads as a sideways stop."""
    from syncfoley.engine.media.video import TimeRange, iter_frames

    scene = dataclasses.replace(catalogue()["bouncing"], duration=3.0)
    frames = list(scene.frames())
    path = tmp_path / f"rot{rotation}.mp4"
    write_video(path, iter(frames), scene.fps, rotation=rotation)
    info = probe(path)
    height, width = frames[0].shape[:2]
    assert (info.width, info.height, info.rotation) == (width, height, rotation)
    # The decoded picture is the upright one: compare with the frame that was drawn.
    t, shown = next(iter_frames(path, TimeRange(0.0, 1.0), width, height, "rgb24"))
    error = np.abs(shown.astype(float) - frames[0].astype(float)).mean()
    turned = np.abs(shown.astype(float) - np.rot90(frames[0], 2).astype(float)).mean()
    assert error < 8 and error < turned / 2, (error, turned)
    f1, _, _ = f1_score(api.detect(path, detector="motion").times(), scene.impacts())
    assert f1 >= 0.9


def test_prefetch_passes_items_errors_and_early_stops() -> None:
    from syncfoley.engine.media.video import prefetch

    assert list(prefetch(iter(range(50)), depth=4)) == list(range(50))

    def broken():  # type: ignore[no-untyped-def]
        yield 1
        raise ValueError("disk gone")

    got = []
    with pytest.raises(ValueError, match="disk gone"):
        for x in prefetch(broken()):
            got.append(x)
    assert got == [1]

    closed = []

    def endless():  # type: ignore[no-untyped-def]
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)

    for x in prefetch(endless(), depth=2):
        if x == 5:
            break
    assert closed == [True], "stopping early closes the producer (and the file it reads)"


def test_the_analysis_beside_the_decoder_uses_one_blas_thread() -> None:
    # Two cores: one decodes, the analysis has the other. OpenBLAS's own threads would
    # spin against the decoder (the physics detector lost a fifth of its time to them).
    import numpy as np
    from threadpoolctl import threadpool_info

    from syncfoley.engine.media.video import prefetch

    np.ones((64, 64)) @ np.ones((64, 64))  # numpy's BLAS is loaded

    def blas_threads() -> list[int]:
        return [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    assert before
    frames = prefetch(iter(range(3)))
    seen = []
    for _ in frames:
        seen.append(blas_threads())
    assert all(threads == [1] * len(before) for threads in seen)
    assert blas_threads() == before
