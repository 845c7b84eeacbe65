"""Windows over long requests: every hit rendered exactly once, seams never on a hit."""

from __future__ import annotations

import numpy as np
import pytest

from syncfoley.engine.generate.diffusion_windows import GUARD, plan_windows, stitch, window_weight

SR = 48000
W = 2**18


def _global_track(onsets: list[int], total: int) -> np.ndarray:
    track = np.zeros(total, dtype=np.float32)
    track[onsets] = 1.0
    return track


@pytest.mark.parametrize("seed", range(12))
def test_stitching_the_windows_own_onset_tracks_gives_back_the_track(seed: int) -> None:
    rng = np.random.default_rng(seed)
    total = int(rng.uniform(3, 60) * SR)
    rate = rng.choice([0.5, 2.0, 10.0, 25.0])  # hits per second, up to very dense
    n = max(1, int(total / SR * rate))
    onsets = sorted(set(rng.integers(0, total, n).tolist()))
    overlap = int(rng.choice([0.25, 1.0, 2.0]) * SR)
    windows = plan_windows(onsets, total, W, overlap, SR)
    tracks = [w.local_track() for w in windows]
    back = stitch(windows, tracks, total)
    want = _global_track(onsets, total)
    # Exactly: no hit lost (weight 0), halved or doubled (weight != 1), none invented.
    assert np.array_equal(back, want)
    assert windows[0].start == 0 and windows[-1].start + W >= total
    guard = int(GUARD * SR)
    for w in windows[1:]:
        seam = w.fade_in
        assert seam is not None
        prev = windows[w.index - 1]
        # The seam lies where both windows exist...
        assert w.start <= seam.start and seam.start + seam.length <= prev.start + W
        # ...and no onset is inside the cross-fade or its guard.
        near = [o for o in onsets if seam.start - guard <= o < seam.start + seam.length + guard]
        assert not near, (seam, near)


def test_weights_sum_to_one_everywhere() -> None:
    total = 40 * SR
    windows = plan_windows([SR * k // 3 for k in range(1, 110)], total, W, SR, SR)
    acc = np.zeros(total + W)
    for w in windows:
        acc[w.start: w.start + W] += window_weight(w)
    assert np.allclose(acc[:total], 1.0, atol=1e-6)


def test_seam_prefers_a_decayed_tail() -> None:
    # Overlap of window 0 and 1 is [hop, W); one hit early in it, then a long silence.
    overlap = SR
    hop = W - overlap
    hit = hop + overlap // 4 + 1000
    windows = plan_windows([hit], 10 * SR, W, overlap, SR)
    seam = windows[1].fade_in
    assert seam is not None
    assert seam.start > hit + SR // 4, "the hand-over waits for the hit's tail to decay"


def test_a_short_request_is_one_window() -> None:
    windows = plan_windows([100, 2000], 48000, W, SR, SR)
    assert len(windows) == 1 and windows[0].fade_in is None and windows[0].fade_out is None
    assert np.array_equal(stitch(windows, [windows[0].local_track()], 48000), _global_track([100, 2000], 48000))


def test_bad_plans_are_refused() -> None:
    with pytest.raises(ValueError):
        plan_windows([], 1000, W, W, SR)
    with pytest.raises(ValueError):
        plan_windows([], 0, W, 0, SR)
