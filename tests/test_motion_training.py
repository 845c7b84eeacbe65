"""How train-motion labels blocks: with places from a truth file, an impact's bag is the
blocks near where it happened and the rest of the picture stays quiet; without, the
whole frame is the bag. Bad truth files are refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from syncfoley.core.errors import FormatError, RequestError
from syncfoley.engine.detect import motion_training as mt
from syncfoley.engine.detect.onset_training import Example


def grid(rows: int = 9, cols: int = 16) -> np.ndarray:
    """Block centres (x, y across the picture) of a rows x cols picture, per frame."""
    gy, gx = np.meshgrid((np.arange(rows) + 0.5) / rows, (np.arange(cols) + 0.5) / cols, indexing="ij")
    return np.stack([gx.reshape(-1), gy.reshape(-1)], axis=1)


def test_an_impact_bag_is_the_blocks_near_it_and_the_rest_stays_quiet() -> None:
    times = np.arange(10) / 25.0
    index = np.arange(1, 8)
    where = np.repeat(grid()[None], len(index), axis=0)
    impact, quiet = mt.place_bags(times, index, where, [(4.5 / 25, 0.25, 0.5)], [], 9 / 16)
    row = {int(k): i for i, k in enumerate(index)}
    hit = row[4]
    d = np.hypot(where[hit, :, 0] - 0.25, (where[hit, :, 1] - 0.5) * 9 / 16)
    assert impact[hit].sum() == (d < mt.NEAR).sum() > 0
    assert impact.sum() == impact[hit].sum()  # only the impact's own frame
    # Around it (frames 3..5), blocks near are in no bag; far ones are quiet.
    for k in (3, 4, 5):
        assert not quiet[row[k]][d < mt.AROUND].any() and quiet[row[k]][d >= mt.AROUND].all()
    assert quiet[row[1]].all() and quiet[row[7]].all()


def test_an_ignored_contact_keeps_its_neighbourhood_out_of_the_quiet_bag() -> None:
    times = np.arange(12) / 30.0
    index = np.arange(12)
    where = np.repeat(grid()[None], len(index), axis=0)
    _, quiet = mt.place_bags(times, index, where, [], [(6 / 30 + 0.001, 0.8, 0.2)], 9 / 16)
    d = np.hypot(where[0, :, 0] - 0.8, (where[0, :, 1] - 0.2) * 9 / 16)
    for k in range(4, 9):
        assert not quiet[k][d < mt.AROUND].any()
    assert quiet[3].all() and quiet[9].all()


def test_without_places_the_frame_is_the_bag() -> None:
    label = np.array([0, -1, 1, -1, 0], np.int8)
    impact, quiet = mt.frame_bags(label, 4)
    assert impact[2].all() and impact.sum() == 4
    assert quiet[0].all() and quiet[4].all() and quiet.sum() == 8


def _example(tmp_path: Path, truth: object, times: tuple[float, ...] = (1.0,)) -> Example:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    (tmp_path / "clip.truth.json").write_text(json.dumps(truth))
    return Example(video=video, onsets=times)


def test_places_are_read_from_the_truth_file(tmp_path: Path) -> None:
    ex = _example(tmp_path, {"impacts": [{"time": 1.0, "x": 0.2, "y": 0.7}],
                             "band": [{"time": 2.0, "x": 1.3, "y": 0.5}]})
    assert mt.impact_places(ex) == ([(1.0, 0.2, 0.7)], [(2.0, 1.3, 0.5)])
    assert mt.impact_places(Example(video=tmp_path / "other.mp4", onsets=(1.0,))) is None


@pytest.mark.parametrize("truth, times, message", [
    ({"impacts": [{"time": 1.0, "x": 0.2}]}, (1.0,), "not a truth file"),
    ([1, 2], (1.0,), "not a truth file"),
    ({"impacts": [{"time": 1.0, "x": 0.2, "y": 0.7}]}, (1.0, 2.0), "not the 2 times of clip.times.csv"),
    ({"impacts": [{"time": 1.0, "x": 1.5, "y": 0.7}]}, (1.0,), "0..1 across the picture; got x=1.5"),
])
def test_a_truth_file_that_does_not_fit_is_refused_by_name(tmp_path: Path, truth, times, message: str) -> None:
    with pytest.raises(RequestError, match=message):
        mt.impact_places(_example(tmp_path, truth, times))


def test_bags_are_cut_to_the_blocks_that_moved_and_padded_to_one_size() -> None:
    from syncfoley.engine.detect.motion_features import FEATURES

    rng = np.random.default_rng(0)

    def clip(blocks: int) -> mt.ClipFeatures:
        n = 6
        values = rng.random((n, blocks, FEATURES)).astype(np.float32)
        label = np.array([0, 0, 1, 0, 0, 0], np.int8)
        impact, quiet = mt.frame_bags(label, blocks)
        return mt.ClipFeatures("c", np.arange(n) / 25, np.arange(n), values, np.zeros((n, blocks, 2)),
                               np.zeros((n, blocks)), label, (0.09,), 25.0, 512, impact, quiet)

    a, b = clip(40), clip(24)
    (pv, pm), (qv, qm) = mt.bag_arrays([a, b], keep=32)
    assert pv.shape == (2, 32, FEATURES) and qv.shape == (10, 32, FEATURES)
    assert qm[:5].all() and qm[5:, :24].all() and not qm[5:, 24:].any()
    # The kept blocks of the first clip include the 24 that moved most.
    from syncfoley.engine.detect.motion_features import MOTION

    key = a.values[0][:, :MOTION].sum(axis=1)
    best = a.values[0][np.argsort(-key)[:24]]
    kept = {tuple(r) for r in qv[0]}
    assert all(tuple(r) in kept for r in best)


def test_feature_moments_over_kept_blocks_match_a_flat_copy_of_them() -> None:
    from syncfoley.engine.detect.motion_features import FEATURES

    rng = np.random.default_rng(1)
    bags = []
    for rows in (5, 9):
        values = (rng.normal(size=(rows, 7, FEATURES)) * 3 + 2).astype(np.float32)
        mask = rng.random((rows, 7)) < 0.6
        values[~mask] = 1e6  # padding must not count
        bags.append((values, mask))
    mean, std = mt.masked_moments(bags, chunk=3)
    flat = np.concatenate([v[m] for v, m in bags]).astype(np.float64)
    assert np.allclose(mean, flat.mean(axis=0)) and np.allclose(std, flat.std(axis=0))


def test_a_damaged_feature_cache_entry_is_computed_again(tmp_path: Path) -> None:
    """The cache of `train-motion --cache` is data on disk: an entry cut short (a full disk,
    a half-copied folder) must be measured again, not end the training in a traceback."""
    video, impacts = _bouncing(tmp_path)
    example, cache = Example(video=video, onsets=impacts), tmp_path / "cache"
    first = mt.clip_features(example, cache)
    [entry] = list(cache.glob("*.npz"))
    whole = entry.read_bytes()
    entry.write_bytes(whole[: len(whole) // 2])
    again = mt.clip_features(example, cache)
    assert np.array_equal(again.values, first.values) and np.array_equal(again.times, first.times)
    assert entry.read_bytes() == whole  # written anew


def _bouncing(folder: Path) -> tuple[Path, tuple[float, ...]]:
    """One second of the demo's bouncing ball as ``clip.mp4`` and its impact times."""
    import dataclasses

    from syncfoley.engine.demo.scenes import catalogue
    from syncfoley.engine.media.video import write_video

    scene = dataclasses.replace(catalogue()["bouncing"], duration=1.0)
    video = folder / "clip.mp4"
    write_video(video, scene.frames(), scene.fps)
    return video, tuple(scene.impacts())


@pytest.mark.parametrize("suffix", [".times.csv", ".ignore.csv"])
def test_times_past_the_end_of_their_video_are_refused_by_name(tmp_path: Path, suffix: str) -> None:
    """Times written in milliseconds (or frames) all fall past the end: training on them
    would teach the networks that nothing in the clip is an impact."""
    video, impacts = _bouncing(tmp_path)
    (tmp_path / f"clip{suffix}").write_text("500\n")
    onsets = (500.0,) if suffix == ".times.csv" else impacts
    with pytest.raises(FormatError, match=rf"clip{suffix}: time 500 is past the end of clip.mp4 \(1.000 s\); "
                                          r"times are seconds"):
        mt.clip_features(Example(video=video, onsets=onsets))


def _negative_log_likelihood(ab: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    z = ab[0] * x + ab[1]
    return float((np.logaddexp(0.0, z) - y * z).sum())


@pytest.mark.parametrize("seed", range(3))
def test_calibration_converges_on_logits_spread_far_from_its_start(seed: int) -> None:
    # As a network trained at 384 across gave on its validation frames (RULE48): 150 impacts
    # among 8,800 frames, logits from -75 to 19. Plain Newton steps from (1, 0) ran off to a
    # slope of millions there, a step function that made every threshold alike.
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)
    x = np.concatenate([np.clip(rng.normal(-12, 18, 8650), -75, 19), rng.normal(4, 6, 150)])
    y = np.concatenate([np.zeros(8650), np.ones(150)])
    a, b = mt._platt(x, y)
    best = minimize(_negative_log_likelihood, np.array([0.1, -3.0]), args=(x, y), method="Nelder-Mead",
                    options=dict(xatol=1e-9, fatol=1e-9, maxiter=20000))
    assert (a, b) == pytest.approx(tuple(best.x), rel=1e-3)
    assert _negative_log_likelihood(np.array([a, b]), x, y) <= best.fun + 1e-6


def test_calibration_recovers_the_sigmoid_that_made_the_labels() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 3.0, 200_000)
    y = (rng.random(x.size) < 1 / (1 + np.exp(-(0.7 * x - 2.0)))).astype(np.float64)
    a, b = mt._platt(x, y)
    assert a == pytest.approx(0.7, abs=0.02) and b == pytest.approx(-2.0, abs=0.03)
