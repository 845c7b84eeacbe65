"""The motion features the physics scorer sees, on motion fields whose physics is known."""

from __future__ import annotations

import numpy as np
import pytest

from syncfoley.engine.detect.motion_features import EDGE, FEATURES, NAMES, WINDOW, FeatureStream
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
    assert out[: WINDOW - 1] == [None] * (WINDOW - 1)
    feat = out[WINDOW - 1]
    assert feat is not None and feat.values.shape == (ROWS * COLS, FEATURES)
    return feat


def _column(feat, name: str) -> np.ndarray:
    return feat.values[:, NAMES.index(name)].reshape(ROWS, COLS)


def _unlog(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.expm1(np.abs(x))


@pytest.mark.parametrize(("after", "expected"), [((0.0, 0.0), 0.0), ((0.0, -3.0), -3.0), ((0.0, 6.0), 6.0)])
def test_the_path_shows_a_stop_a_bounce_and_steady_motion(after: tuple[float, float], expected: float) -> None:
    # Moving right at 6 px/frame into frames k-2 .. k, then `after` into k+1 .. k+3.
    feat = _features([_field(0.0, 6.0)] * 3 + [_field(*after)] * 3)
    inner = (slice(3, -3), slice(3, -3))  # away from the picture's edge, where paths leave it
    for name, want in (("along-2", 6.0), ("along-1", 6.0), ("along1", expected), ("along2", expected),
                       ("approach", 6.0)):
        np.testing.assert_allclose(_unlog(_column(feat, name)[inner]), want, atol=1e-3, err_msg=name)
    for name in ("across-2", "across-1", "across1", "across2", "down"):
        np.testing.assert_allclose(_column(feat, name)[inner], 0.0, atol=1e-3, err_msg=name)
    assert np.all(_column(feat, "followed") == 1.0)


def test_the_path_is_measured_in_the_frame_of_the_approach() -> None:
    # Falling (down the picture) at 5 px/frame, then sliding sideways at 2: all across, none along.
    feat = _features([_field(5.0, 0.0)] * 3 + [_field(0.0, 2.0)] * 3)
    inner = (slice(3, -3), slice(3, -3))
    np.testing.assert_allclose(_unlog(_column(feat, "along1")[inner]), 0.0, atol=1e-3)
    np.testing.assert_allclose(_unlog(_column(feat, "across1")[inner]), 2.0, atol=1e-3)
    np.testing.assert_allclose(_column(feat, "down")[inner], 5.0 / 6.0, atol=1e-3)


def test_edge_distance_is_symmetric_and_counts_blocks() -> None:
    feat = _features([_field(0.0, 0.0)] * WINDOW)
    edge = _column(feat, "edge")
    assert edge[0, 0] == edge[-1, -1] == edge[0, -1] == edge[-1, 0] == 0.0
    np.testing.assert_allclose(edge, edge[::-1, ::-1])
    assert edge[ROWS // 2, COLS // 2] == 1.0
    np.testing.assert_allclose(edge[ROWS // 2, :EDGE + 1], np.arange(EDGE + 1) / EDGE)
