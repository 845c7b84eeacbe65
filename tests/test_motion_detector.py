"""The weightless motion detector (``--detector motion``; ``auto``'s on pictures too small for the
physics detector) on the project's own clips with known impact times."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import EXAMPLE, EXAMPLE_TRUTH, f1_score

from syncfoley.bridge import api


@pytest.mark.parametrize("name", ["struck", "bouncing", "mixed", "bouncing_60", "bouncing_24"])
def test_finds_impacts_within_a_tenth_of_a_second(detected, name):
    track, scene = detected(name)
    f1, precision, recall = f1_score(track.times(), scene.impacts())
    assert f1 >= 0.9, f"{name}: F1 {f1:.2f} (P {precision:.2f}, R {recall:.2f}) found {track.times()} truth {scene.impacts()}"


@pytest.mark.parametrize("name", ["struck", "bouncing", "bouncing_60"])
def test_timing_is_within_two_frames(detected, name):
    track, scene = detected(name)
    errors = [min(abs(d - t) for d in track.times()) for t in scene.impacts()]
    assert np.median(errors) <= 1.0 / float(scene.fps)
    assert max(errors) <= 2.0 / float(scene.fps)


def test_no_onsets_on_smooth_motion(detected):
    track, _ = detected("smooth")
    assert track.onsets == ()


def test_example_clip_matches_its_truth():
    truth = [o["time"] for o in json.loads(EXAMPLE_TRUTH.read_text())["onsets"]]
    track = api.detect(EXAMPLE, detector="motion")
    f1, _, _ = f1_score(track.times(), truth)
    assert f1 >= 0.9, (track.times(), truth)


def test_range_keeps_times_absolute(scene_clip):
    path, scene = scene_clip("struck")
    track = api.detect(path, detector="motion", start=1.0, end=3.0)
    inside = [t for t in scene.impacts() if 1.0 <= t < 3.0]
    assert track.range is not None and (track.range.start, track.range.end) == (1.0, 3.0)
    assert all(1.0 <= t < 3.0 for t in track.times())
    f1, _, _ = f1_score(track.times(), inside)
    assert f1 >= 0.9


def test_onsets_are_sorted_and_bounded(detected):
    track, _ = detected("mixed")
    times = track.times()
    assert times == sorted(times)
    for o in track.onsets:
        assert 0.0 <= o.strength <= 1.0 and 0.0 <= o.confidence <= 1.0


def test_intensity_envelope_follows_the_motion(detected):
    track, scene = detected("bouncing_60")  # only the ball moves (the pan is the camera's)
    env = track.envelope
    assert env is not None and env.rate == pytest.approx(float(scene.fps))
    values = np.asarray(env.values)
    assert len(values) == scene.frame_count()
    assert values.min() >= 0 and values.max() <= 1
    # the ball falls between 0.3 s and its first impact, and lies still at the end
    falling = env.at(scene.impacts()[0] - 0.1)
    at_rest = np.mean(values[-10:])
    assert falling > at_rest + 0.3


def test_sensitivity_scales_the_threshold_and_onsets_say_where(scene_clip):
    path, scene = scene_clip("mixed")
    tracks = {s: api.detect(path, detector="motion", sensitivity=s) for s in (0.0, 0.5, 1.0)}
    assert tracks[0.5].extra["threshold"] == pytest.approx(2 * tracks[1.0].extra["threshold"])
    assert tracks[0.0].extra["threshold"] == pytest.approx(2 * tracks[0.5].extra["threshold"])
    counts = [len(tracks[s].onsets) for s in (0.0, 0.5, 1.0)]
    assert counts == sorted(counts) and counts[0] < counts[2], counts
    for o in tracks[0.5].onsets:
        assert o.x is not None and o.y is not None and 0 <= o.x <= 1 and 0 <= o.y <= 1


@pytest.mark.parametrize("detector", ["motion", "physics"])
def test_a_range_between_two_frames_finds_nothing_and_says_so_plainly(detector: str) -> None:
    """1.020-1.030 s holds no frame at 30 fps (1.000 and 1.033 lie more than half a frame
    outside it): the motion detector's running median padded an empty curve (NumPy's
    ValueError), so `run --start 1.02 --end 1.03` ended in a traceback."""
    track = api.detect(EXAMPLE, detector=detector, start=1.02, end=1.03)
    assert track.onsets == () and track.range is not None and track.range.start == 1.02


@pytest.mark.parametrize("below,detector", [(2, "motion"), (0, "physics")])
def test_auto_leaves_the_smallest_pictures_to_the_motion_detector(tmp_path, below, detector):
    # The physics detector was measured against the motion detector down to PHYSICS_MIN_WIDTH
    # (README, "Small pictures"); narrower pictures, never measured, stay with the motion detector.
    import dataclasses

    from syncfoley.engine.demo.scenes import reel_scene
    from syncfoley.engine.detect.onsets import PHYSICS_MIN_WIDTH
    from syncfoley.engine.media.video import write_video

    width = PHYSICS_MIN_WIDTH - below
    scene = dataclasses.replace(reel_scene(width, width * 9 // 16), duration=2.0)
    path = tmp_path / f"reel{width}.mp4"
    write_video(path, scene.frames(), scene.fps)
    track = api.detect(path)
    assert (track.detector, track.extra["detector_requested"]) == (detector, "auto")
    # Weights the run will use are checked before any decoding; weights it will not use are not read.
    bad = tmp_path / "bad.npz"
    bad.write_text("not an npz")
    if detector == "physics":
        from syncfoley.core.errors import FormatError

        with pytest.raises(FormatError, match="not a motion-scorer weights file"):
            api.detect(path, motion_weights=str(bad))
    else:
        assert api.detect(path, motion_weights=str(bad)).times() == track.times()
