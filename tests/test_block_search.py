"""The block search that finds again what the dense flow lost (a small object moving fast)."""

from __future__ import annotations

import numpy as np

from syncfoley.engine.detect.block_search import search_lost_blocks
from syncfoley.engine.detect.flow_field import FlowConfig, FlowMatcher

HEIGHT, WIDTH, BLOCK = 288, 512, 16


def _background(rng: np.random.Generator) -> np.ndarray:
    """A soft gradient with a little sensor noise: texture the flow can hold on to."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    base = 90 + 40 * np.sin(x / 57.0) * np.cos(y / 43.0)
    return base + rng.normal(0, 2.0, base.shape)


def _with_ball(picture: np.ndarray, ball: np.ndarray, top: int, left: int) -> np.ndarray:
    out = picture.copy()
    out[top: top + ball.shape[0], left: left + ball.shape[1]] = ball
    return np.clip(out, 0, 255).astype(np.uint8)


def _ball_frames(step: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Two frames of a 40-pixel textured ball moving ``step`` pixels down; its first top-left."""
    rng = np.random.default_rng(3)
    ball = 128 + 90 * np.sign(rng.normal(size=(10, 10))).repeat(4, 0).repeat(4, 1)
    back = _background(rng)
    top, left = 96, 240
    return _with_ball(back, ball, top, left), _with_ball(back, ball, top + step, left), (top, left)


def _ball_blocks(field_vectors: np.ndarray, top: int, left: int) -> np.ndarray:
    """The vectors of the blocks lying wholly on the ball (before it moved)."""
    r0, c0 = -(-top // BLOCK), -(-left // BLOCK)
    r1, c1 = (top + 40) // BLOCK, (left + 40) // BLOCK
    return field_vectors[r0:r1, c0:c1].reshape(-1, 2)


def test_a_fast_small_ball_the_flow_loses_is_found_by_the_search() -> None:
    prev, cur, (top, left) = _ball_frames(22)
    plain = FlowMatcher(prev.shape, FlowConfig(search_radius=0)).field(prev, cur)
    found = FlowMatcher(prev.shape, FlowConfig()).field(prev, cur)
    lost = _ball_blocks(plain.vectors + plain.camera, top, left)
    assert len(lost) >= 2
    # DIS sees the background there: far from 22 px down (what the flow alone hands the networks).
    assert np.all(np.abs(lost[:, 0] - 22) > 5), lost
    got = _ball_blocks(found.vectors + found.camera, top, left)
    np.testing.assert_allclose(got, np.tile([22.0, 0.0], (len(got), 1)), atol=1.0)
    assert np.all(_ball_blocks(found.valid, top, left))


def test_where_the_flow_follows_nothing_is_replaced() -> None:
    # A slow ball DIS follows, and a still noisy picture: the search changes no vector.
    for step in (0, 4):
        prev, cur, _ = _ball_frames(step)
        plain = FlowMatcher(prev.shape, FlowConfig(search_radius=0)).field(prev, cur)
        found = FlowMatcher(prev.shape, FlowConfig()).field(prev, cur)
        np.testing.assert_array_equal(found.vectors, plain.vectors)
        np.testing.assert_array_equal(found.valid, plain.valid)


def test_a_pattern_that_matches_in_many_places_is_left_alone() -> None:
    # Stripes match every period along them: the best match is not distinct, so a block whose
    # flow vector looks wrong keeps it rather than taking one of the look-alikes.
    x = np.arange(WIDTH)
    stripes = np.tile((128 + 100 * np.sign(np.sin(2 * np.pi * x / 8.0))).astype(np.uint8), (HEIGHT, 1))
    rows, cols = HEIGHT // BLOCK, WIDTH // BLOCK
    vec = np.zeros((rows, cols, 2), np.float32)
    vec[...] = (0.0, 3.0)  # a vector the picture does not bear out
    err = np.full((rows, cols), 60.0, np.float32)
    texture = np.full((rows, cols), 100.0, np.float32)
    before = vec.copy()
    assert search_lost_blocks(stripes, np.roll(stripes, 16, axis=1), vec, err, texture, 1.0, BLOCK, 40, 16) == 0
    np.testing.assert_array_equal(vec, before)


def test_the_search_is_bounded_and_can_be_turned_off() -> None:
    prev, cur, _ = _ball_frames(22)
    rows, cols = HEIGHT // BLOCK, WIDTH // BLOCK
    texture = np.full((rows, cols), 50.0, np.float32)
    for radius, most in ((0, 16), (40, 0)):
        vec = np.zeros((rows, cols, 2), np.float32)
        err = np.full((rows, cols), 80.0, np.float32)
        assert search_lost_blocks(prev, cur, vec, err, texture, 1.0, BLOCK, radius, most) == 0
        assert not vec.any()
    # Every block looks lost here; only the `most` worst explained are searched.
    vec = np.zeros((rows, cols, 2), np.float32)
    err = np.full((rows, cols), 80.0, np.float32)
    assert search_lost_blocks(prev, cur, vec, err, texture, 1.0, BLOCK, 40, 3) <= 3
