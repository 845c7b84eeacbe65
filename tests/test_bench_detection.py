"""bench/bench_detection.py's figures: the AUC and the clip bootstrap behind its intervals."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_detection as bd  # noqa: E402


def test_auc_is_the_share_of_pairs_ordered_rightly_ties_counting_half() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 6, 200) / 5.0  # many ties
    labels = rng.random(200) < scores * 0.8
    pos, neg = scores[labels], scores[~labels]
    pairs = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
    assert abs(bd.auc(scores.tolist(), labels.tolist()) - pairs) < 1e-12
    assert bd.auc([0.9, 0.8], [True, False]) == 1.0 and bd.auc([0.1, 0.8], [True, False]) == 0.0
    assert np.isnan(bd.auc([0.5, 0.6], [True, True]))


def _clips(n: int, seed: int) -> list[bd.ClipCount]:
    """Clips of 5 impacts, 4 found, and one false onset every other clip, scored lower."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        onsets = [(float(rng.uniform(0.4, 1.0)), True) for _ in range(4)]
        if k % 2:
            onsets.append((float(rng.uniform(0.3, 0.7)), False))
        out.append(bd.ClipCount(5, 4, k % 2, tuple(onsets)))
    return out


def test_bootstrap_intervals_hold_the_pooled_figure_and_narrow_with_more_clips() -> None:
    few, many = _clips(12, 0), _clips(192, 0)
    point = bd.pooled_figures(few)
    assert point[1] == 0.8 and abs(point[0] - 48 / 54) < 1e-12
    intervals = bd.bootstrap_intervals(few, draws=500)
    for value, (lo, hi) in zip(point, intervals):
        assert lo <= value <= hi
    assert intervals[1] == (0.8, 0.8), "every clip finds 4 of 5: no draw changes the recall"
    wide = [hi - lo for lo, hi in intervals]
    narrow = [hi - lo for lo, hi in bd.bootstrap_intervals(many, draws=500)]
    assert narrow[0] < wide[0] / 2 and narrow[3] < wide[3] / 2, (narrow, wide)
    assert bd.bootstrap_intervals(few, draws=200, seed=1) == bd.bootstrap_intervals(few, draws=200, seed=1)


def test_an_auc_left_undefined_by_a_draw_is_left_out_not_counted() -> None:
    # One clip in 40 holds the only false onset: most draws miss it, and their AUC is undefined.
    clips = [bd.ClipCount(2, 2, 0, ((0.9, True), (0.8, True))) for _ in range(39)]
    clips.append(bd.ClipCount(2, 2, 1, ((0.9, True), (0.95, True), (0.1, False))))
    lo, hi = bd.bootstrap_intervals(clips, draws=300)[3]
    assert lo == hi == 1.0
    none = [bd.ClipCount(2, 2, 0, ((0.9, True),)) for _ in range(5)]
    assert all(np.isnan(x) for x in bd.bootstrap_intervals(none, draws=50)[3])


def test_the_figures_name_the_machine_and_libraries_they_came_from() -> None:
    import cv2

    line = bd.environment()
    assert line.startswith("machine: ") and f"OpenCV {cv2.__version__}," in line and f"NumPy {np.__version__}," in line
