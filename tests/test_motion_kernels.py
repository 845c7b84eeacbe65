"""The compiled block-matching kernels agree with plain NumPy references."""

from __future__ import annotations

import numpy as np
import pytest

from syncfoley.engine.detect.motion_kernels import (
    coarse_search,
    half_padded,
    lost_motion,
    refine,
    robust_affine,
    subpixel_best,
)


def _sad(prev: np.ndarray, cur: np.ndarray, y0: int, x0: int, b: int, dy: int, dx: int) -> float:
    h, w = prev.shape
    ys = np.clip(np.arange(y0, y0 + b) + dy, 0, h - 1)
    xs = np.clip(np.arange(x0, x0 + b) + dx, 0, w - 1)
    return float(np.abs(cur[y0:y0 + b, x0:x0 + b] - prev[np.ix_(ys, xs)]).sum())


@pytest.fixture()
def frames() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    prev = rng.standard_normal((40, 56)).astype(np.float32)
    cur = np.roll(prev, (2, -3), axis=(0, 1)) + 0.05 * rng.standard_normal((40, 56)).astype(np.float32)
    return prev, cur


def test_coarse_search_matches_exhaustive_numpy(frames) -> None:
    prev, cur = frames
    b, r, smooth = 4, 5, 0.02
    dy, dx, best, mean = coarse_search(np.pad(prev, r, mode="edge"), cur, b, r, smooth)
    for br in range(cur.shape[0] // b):
        for bc in range(cur.shape[1] // b):
            sads = {(y, x): _sad(prev, cur, br * b, bc * b, b, y, x) for y in range(-r, r + 1) for x in range(-r, r + 1)}
            cost = {k: v + smooth * b * b * np.hypot(*k) for k, v in sads.items()}
            want = min(cost, key=cost.get)
            assert (dy[br, bc], dx[br, bc]) == want
            assert best[br, bc] == pytest.approx(sads[want], rel=1e-4)
            assert mean[br, bc] == pytest.approx(np.mean(list(sads.values())), rel=1e-4)
    # interior blocks find the true shift: cur(x) = prev(x - (2, -3))
    assert (dy[4, 5], dx[4, 5]) == (-2, 3)


def test_refine_matches_numpy(frames) -> None:
    prev, cur = frames
    b = 8
    gy = np.full((5, 7), -2, dtype=np.int64)
    gx = np.full((5, 7), 2, dtype=np.int64)
    costs, contrast = refine(prev, cur, b, gy, gx, 0.0)
    for a in range(3):
        for c in range(3):
            assert costs[a, c, 2, 3] == pytest.approx(_sad(prev, cur, 16, 24, b, -2 + a - 1, 2 + c - 1), rel=1e-4)
    blk = cur[16:24, 24:32]
    assert contrast[2, 3] == pytest.approx(np.abs(blk - blk.mean()).sum(), rel=1e-4)


def test_half_resolution_with_edge_padding_matches_numpy(frames) -> None:
    prev, _ = frames
    h, w = 36, 52
    want = np.pad(prev[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)), 3, mode="edge")
    np.testing.assert_allclose(half_padded(prev, h, w, 3), want, rtol=1e-6, atol=1e-6)


def test_subpixel_best_is_the_minimum_plus_a_parabola() -> None:
    rng = np.random.default_rng(5)
    cube = rng.uniform(1, 10, size=(3, 3, 4, 6)).astype(np.float32)
    cube[1, 1, 0, 0] = 0.5  # the centre wins: both axes get a parabola
    cube[:, :, 1, 1] = [[9, 9, 9], [9, 4, 2], [9, 9, 9]]  # edge of the cube: no parabola along x
    oy, ox, best = subpixel_best(cube)
    for r in range(4):
        for c in range(6):
            k = int(np.argmin(cube[:, :, r, c]))
            bi, bj = divmod(k, 3)
            assert best[r, c] == cube[bi, bj, r, c]
            for axis, got, idx in ((0, oy, bi), (1, ox, bj)):
                frac = 0.0
                if idx == 1:
                    c0 = cube[0, bj, r, c] if axis == 0 else cube[bi, 0, r, c]
                    c2 = cube[2, bj, r, c] if axis == 0 else cube[bi, 2, r, c]
                    d = c0 - 2 * cube[bi, bj, r, c] + c2
                    frac = float(np.clip(0.5 * (c0 - c2) / d, -0.5, 0.5)) if d > 1e-6 else 0.0
                assert got[r, c] == pytest.approx(idx - 1 + frac, abs=1e-6)
    assert ox[1, 1] == 1.0 and oy[1, 1] == 0.0


def test_robust_affine_ignores_the_moving_object() -> None:
    rng = np.random.default_rng(7)
    ys, xs = np.meshgrid(np.arange(-40, 40, 8.0), np.arange(-64, 64, 8.0), indexing="ij")
    design = np.stack([np.ones(ys.size), xs.ravel(), ys.ravel()], axis=1)
    coef = np.array([[1.5, -2.0], [0.01, 0.02], [-0.03, 0.005]])  # pan plus a little zoom/rotation
    vec = design @ coef + 0.05 * rng.standard_normal((ys.size, 2))
    vec[: ys.size // 4] += [6.0, -9.0]  # a quarter of the blocks belong to a moving object
    got = robust_affine(design, vec, 0.6, 0.25, 3)
    np.testing.assert_allclose(got, coef, atol=0.03)


def _field(vectors, valid=None, saturated=None):
    v = np.asarray(vectors, dtype=np.float32)
    shape = v.shape[:2]
    valid = np.ones(shape, bool) if valid is None else valid
    saturated = np.zeros(shape, bool) if saturated is None else saturated
    return v, valid, saturated


def _lost(before, prev, cur, after, reach=1, limit=20.0):
    return lost_motion(before[0], before[1] & ~before[2], prev[0], prev[1], cur[0], cur[2], after[0], after[2],
                       reach, limit)


def _grid(cells: dict[tuple[int, int], tuple[float, float]], shape=(7, 7)):
    v = np.zeros((*shape, 2), dtype=np.float32)
    for (r, c), vec in cells.items():
        v[r, c] = vec
    return _field(v)


def test_a_stop_loses_all_its_motion() -> None:
    moving = _grid({(3, 3): (4.0, 0.0)})
    still = _grid({})
    weighted, raw = _lost(moving, moving, still, still)
    assert raw[3, 3] == pytest.approx(4.0) and weighted[3, 3] == pytest.approx(4.0)
    assert raw.sum() == pytest.approx(4.0)


def test_carrying_on_into_a_neighbour_loses_nothing() -> None:
    here = _grid({(3, 3): (4.0, 0.0)})
    next_block = _grid({(4, 3): (4.0, 0.0)})
    weighted, raw = _lost(here, here, next_block, next_block)
    assert raw[3, 3] == 0 and weighted[3, 3] == 0


def test_one_wrong_match_is_not_a_movement() -> None:
    spurious = _grid({(3, 3): (4.0, 0.0)})
    other_way = _grid({(3, 3): (0.0, 4.0)})
    weighted, _ = _lost(other_way, spurious, _grid({}), _grid({}))
    assert weighted[3, 3] == 0


def test_smooth_braking_is_weighted_down() -> None:
    fast = _grid({(3, 3): (4.0, 0.0)})
    slower = _grid({(3, 3): (3.0, 0.0)})
    weighted, raw = _lost(fast, fast, slower, slower)
    assert raw[3, 3] == pytest.approx(1.0)
    assert weighted[3, 3] == pytest.approx(0.25)


def test_leaving_the_picture_is_not_a_stop() -> None:
    at_edge = _grid({(3, 6): (0.0, 4.0)})
    gone = _grid({})
    weighted, _ = _lost(at_edge, at_edge, gone, gone)
    assert weighted[3, 6] == 0
