"""Impacts at a second place: two objects landing a frame or two apart, apart in the picture,
are two onsets even though the frame probability (a frame's best block) makes one hill of them."""

from __future__ import annotations

import numpy as np
import pytest

from syncfoley.engine.detect.place_peaks import APART, EVEN, WITHIN, place_logits, place_peaks, strong_blocks


def rows(*blocks: tuple[float, float, float]) -> np.ndarray:
    """A frame's strong blocks from (logit, x, y), strongest first, each having lost 1.0."""
    logits = np.array([b[0] for b in blocks], np.float32)
    where = np.array([(b[1], b[2]) for b in blocks], np.float32)
    return strong_blocks(logits, where, np.ones(len(blocks), np.float32), np.ones(len(blocks), bool))


def test_strong_blocks_keeps_the_marked_blocks_strongest_first() -> None:
    logits = np.array([1.0, 5.0, -3.0, 2.0], np.float32)
    where = np.array([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3), (0.4, 0.4)], np.float32)
    out = strong_blocks(logits, where, np.array([1, 2, 3, 4], np.float32), logits > 0)
    assert out[:, 0].tolist() == [5.0, 2.0, 1.0]
    assert out[:, 1].tolist() == pytest.approx([0.2, 0.4, 0.1])
    assert out[:, 3].tolist() == [2.0, 4.0, 1.0]


def test_a_second_impact_elsewhere_two_frames_on_is_a_peak_of_its_own() -> None:
    # A candidate at frame 10 where one object lands (x 0.2); another lands at x 0.6 at frame 12.
    blocks = {
        10: rows((6.0, 0.2, 0.8), (1.0, 0.6, 0.8)),
        11: rows((3.0, 0.2, 0.8), (3.5, 0.6, 0.8)),
        12: rows((5.0, 0.6, 0.8), (2.0, 0.2, 0.8)),
        13: rows((2.0, 0.6, 0.8)),
    }
    peaks = place_peaks(blocks, [(10, 0.2, 0.8)])
    assert [(p.frame, p.x) for p in peaks] == [(12, pytest.approx(0.6))]
    assert peaks[0].logit == 5.0 and peaks[0].lost == 1.0
    # Its neighbours at its place, for placing it within its frame.
    assert place_logits(blocks, 12, 0.6, 0.8, -20.0) == (3.5, 2.0)
    assert place_logits(blocks, 13, 0.6, 0.8, -20.0) == (5.0, -20.0)


def test_one_object_over_several_blocks_is_one_impact() -> None:
    # A long stick's blocks peak on the candidate's own frame, far apart: that frame is taken.
    assert place_peaks({10: rows((6.0, 0.2, 0.5), (5.5, 0.2 + 2 * APART, 0.5))}, [(10, 0.2, 0.5)]) == []
    # A block near the candidate's place within WITHIN frames is the same object moving on.
    near = {10: rows((6.0, 0.2, 0.5)), 10 + WITHIN: rows((6.5, 0.2 + APART / 2, 0.5))}
    assert place_peaks(near, [(10, 0.2, 0.5)]) == []
    # Farther on in time, the same place may hit again (a bounce).
    later = {10: rows((6.0, 0.2, 0.5)), 11 + WITHIN: rows((6.5, 0.2, 0.5))}
    assert [p.frame for p in place_peaks(later, [(10, 0.2, 0.5)])] == [11 + WITHIN]


def test_the_shoulder_of_a_hill_is_not_a_peak() -> None:
    # The second object peaks on the candidate's frame (taken: the two are one onset); the frame
    # after holds its shoulder, weaker than on the frame before where it is: no peak.
    blocks = {10: rows((6.0, 0.2, 0.5), (5.0, 0.7, 0.5)), 11: rows((4.0, 0.7, 0.5))}
    assert place_peaks(blocks, [(10, 0.2, 0.5)]) == []
    # The strongest of two far-apart peaks is taken first, and one frame holds one peak.
    two = {20: rows((3.0, 0.9, 0.1), (4.0, 0.5, 0.9))}
    assert [(p.frame, p.x) for p in place_peaks(two, [])] == [(20, pytest.approx(0.5))]
    # Below the floor (the caller's bar) nothing is looked at; above it, the same peaks.
    assert [p.logit for p in place_peaks(two, [], floor=3.5)] == [4.0]
    assert place_peaks(two, [], floor=4.5) == []


def test_detection_adds_the_second_impact_with_its_place_and_a_confidence_the_threshold_applies_to() -> None:
    from syncfoley.engine.detect.motion_scorer import resolve_scorer
    from syncfoley.engine.detect.physics import MotionAnalysis, pick_onsets, second_places

    scorer = resolve_scorer()
    fps, n = 25.0, 30
    times = [i / fps for i in range(n)]
    logit = np.full(n, -9.0)
    logit[9:14] = [2.0, 6.0, 3.5, 5.0, 2.0]
    blocks = {
        9: rows((2.0, 0.2, 0.8)),
        10: rows((6.0, 0.2, 0.8), (1.0, 0.6, 0.8)),
        11: rows((3.5, 0.6, 0.8), (3.0, 0.2, 0.8)),
        12: rows((5.0, 0.6, 0.8), (2.0, 0.2, 0.8)),
        13: rows((2.0, 0.6, 0.8)),
    }
    where = np.full((n, 2), 0.5)
    where[10] = (0.2, 0.8)
    analysis = MotionAnalysis(times, scorer.probability(logit), where, np.zeros(n), [], logit, {}, blocks)
    verdicts = ([10], np.array([0.999]))  # the first impact: verified beyond doubt
    onsets = pick_onsets(analysis, scorer, scorer.threshold, 0.05, fps, verdicts)
    assert [round(o.x, 2) for o in onsets] == [0.2, 0.6]
    second = onsets[1]
    # Between frames 12 and 13 (the offset), a little early: its place scores 3.5 before, 2.0 after.
    assert 12 < second.time * fps < 12 + scorer.offset
    # Its confidence is its block's probability moved as far as the operating point lies from
    # even odds, and a threshold keeps it exactly when the confidence reaches it.
    p = float(scorer.probability(5.0))
    shift = np.log(scorer.threshold / (1 - scorer.threshold)) - np.log(EVEN / (1 - EVEN))
    assert second.confidence == pytest.approx(1 / (1 + np.exp(-(np.log(p / (1 - p)) + shift))))
    assert len(pick_onsets(analysis, scorer, second.confidence + 1e-6, 0.05, fps, verdicts)) == 1
    assert len(pick_onsets(analysis, scorer, second.confidence - 1e-6, 0.05, fps, verdicts)) == 2
    assert [peak.frame for peak, _ in second_places(analysis, scorer, 0.0, [10])] == [12]
    # With no blocks kept (a scorer without a verifier keeps none), no second place.
    bare = MotionAnalysis(times, analysis.probability, where, np.zeros(n), [], logit, {})
    assert len(pick_onsets(bare, scorer, scorer.threshold, 0.05, fps, verdicts)) == 1
