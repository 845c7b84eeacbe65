"""The motion features the physics scorer sees, on motion fields whose physics is known."""

from __future__ import annotations

import numpy as np
import pytest

from syncfoley.engine.detect.motion_features import AFTER, BEFORE, EDGE, FEATURES, FIELDS, NAMES, STEPS, FeatureStream
from syncfoley.engine.detect.motion_field import MotionField

ROWS, COLS, BLOCK = 12, 16, 16


def _field(dy: float, dx: float) -> MotionField:
    vec = np.zeros((ROWS, COLS, 2), np.float32)
    vec[...] = (dy, dx)
    valid = np.ones((ROWS, COLS), bool)
    return MotionField(vec, valid, np.zeros_like(valid), np.zeros_like(vec))


def _features(fields: list[MotionField]):
    stream = FeatureStream((ROWS, COLS), BLOCK, (COLS * BLOCK, ROWS * BLOCK), 30.0, 2, 1e9)
    out = [stream.push(f) for f in fields]
    assert out[: FIELDS - 1] == [None] * (FIELDS - 1)
    feat = out[FIELDS - 1]
    assert feat is not None and feat.index == FIELDS - AFTER  # frame k: the motion into k+AFTER is the last
    assert feat is not None and feat.values.shape == (ROWS * COLS, FEATURES)
    return feat


def _column(feat, name: str) -> np.ndarray:
    return feat.values[:, NAMES.index(name)].reshape(ROWS, COLS)


def _unlog(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.expm1(np.abs(x))


@pytest.mark.parametrize(("after", "expected"), [((0.0, 0.0), 0.0), ((0.0, -3.0), -3.0), ((0.0, 6.0), 6.0)])
def test_the_path_shows_a_stop_a_bounce_and_steady_motion(after: tuple[float, float], expected: float) -> None:
    # Moving right at 6 px/frame into frames k-BEFORE .. k, then `after` into k+1 .. k+AFTER.
    feat = _features([_field(0.0, 6.0)] * (BEFORE + 1) + [_field(*after)] * AFTER)
    # Away from the picture's edge, where paths leave it.
    inner = (slice(3, -3), slice(3, -3))
    for j in STEPS:
        want = 6.0 if j < 0 else expected
        np.testing.assert_allclose(_unlog(_column(feat, f"along{j}")[inner]), want, atol=1e-3, err_msg=f"along{j}")
    np.testing.assert_allclose(_unlog(_column(feat, "approach")[inner]), 6.0, atol=1e-3)
    for name in (*(f"across{j}" for j in STEPS), "down"):
        np.testing.assert_allclose(_column(feat, name)[inner], 0.0, atol=1e-3, err_msg=name)
    assert np.all(_column(feat, "followed") == 1.0)


def test_the_path_is_measured_in_the_frame_of_the_approach() -> None:
    # Falling (down the picture) at 5 px/frame, then sliding sideways at 2: all across, none along.
    feat = _features([_field(5.0, 0.0)] * (BEFORE + 1) + [_field(0.0, 2.0)] * AFTER)
    inner = (slice(3, -3), slice(3, -3))
    np.testing.assert_allclose(_unlog(_column(feat, "along1")[inner]), 0.0, atol=1e-3)
    np.testing.assert_allclose(_unlog(_column(feat, "across1")[inner]), 2.0, atol=1e-3)
    np.testing.assert_allclose(_column(feat, "down")[inner], 5.0 / 6.0, atol=1e-3)


def test_edge_distance_is_symmetric_and_counts_blocks() -> None:
    feat = _features([_field(0.0, 0.0)] * FIELDS)
    edge = _column(feat, "edge")
    assert edge[0, 0] == edge[-1, -1] == edge[0, -1] == edge[-1, 0] == 0.0
    np.testing.assert_allclose(edge, edge[::-1, ::-1])
    assert edge[ROWS // 2, COLS // 2] == 1.0
    np.testing.assert_allclose(edge[ROWS // 2, :EDGE + 1], np.arange(EDGE + 1) / EDGE)


def test_each_column_reads_the_field_it_names() -> None:
    # The motion into frame k-BEFORE+i moves i+1 px to the right: each field is told apart by its speed.
    feat = _features([_field(0.0, float(i + 1)) for i in range(FIELDS)])
    inner = (slice(4, -4), slice(4, -4))
    for j in range(-2, 4):  # speed{j}: the motion into frame k+j
        np.testing.assert_allclose(np.expm1(_column(feat, f"speed{j}")[inner]), BEFORE + 1 + j, atol=1e-3,
                                   err_msg=f"speed{j}")
    for j in range(-2, 3):  # change{j}: from the motion into k+j to the next, 1 px faster
        np.testing.assert_allclose(np.expm1(_column(feat, f"change{j}")[inner]), 1.0, atol=1e-3, err_msg=f"change{j}")
    for j in STEPS:  # along{j}: the path's velocity into frame k+j, in the approach's direction
        np.testing.assert_allclose(_unlog(_column(feat, f"along{j}")[inner]), BEFORE + 1 + j, atol=1e-3,
                                   err_msg=f"along{j}")


@pytest.mark.parametrize("shape", [(288, 512), (270, 480)])
def test_the_unexplained_change_is_the_one_the_networks_were_trained_on(shape: tuple[int, int]) -> None:
    # The flow field warps the next frame back with OpenCV's relative map (the flow added to each
    # pixel's position inside remap). The shipped networks learnt the unexplained change from the
    # absolute map (a grid of positions plus the flow, then remap): both must give the same
    # picture, to the bit, or the networks see features they were not trained on.
    import cv2

    from syncfoley.engine.detect.flow_field import FlowConfig, FlowMatcher

    rng = np.random.default_rng(5)
    h, w = shape
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (h, w)).astype(np.float32), (0, 0), 2.0)
    prev = np.clip(texture, 0, 255).astype(np.uint8)
    cur = np.roll(prev, (2, 5), axis=(0, 1))
    cur[100:140, 200:260] = 255 - cur[100:140, 200:260]  # something the flow cannot explain
    matcher = FlowMatcher(prev.shape, FlowConfig())
    field = matcher.field(prev, cur)
    flow = np.asarray(matcher.dis.calc(prev, cur, np.empty(0, np.float32)))[: matcher.h, : matcher.w]
    gy, gx = np.mgrid[0: matcher.h, 0: matcher.w].astype(np.float32)
    warped = cv2.remap(cur, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    diff = cv2.absdiff(warped, np.ascontiguousarray(prev[: matcher.h, : matcher.w])).astype(np.float32)
    expected = cv2.resize(diff, (matcher.cols, matcher.rows), interpolation=cv2.INTER_AREA)
    assert field.unexplained is not None
    np.testing.assert_array_equal(field.unexplained, expected)
    assert field.unexplained.max() > 4 * np.median(field.unexplained)  # the patch the flow cannot explain shows
