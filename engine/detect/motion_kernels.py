"""Compiled inner loops of block matching (numba): the part of motion analysis that
touches every pixel for every candidate shift.

Each kernel is a plain loop nest that numba compiles once per process (and caches on
disk); the pure-NumPy reference they must agree with is in the tests.
"""

from __future__ import annotations

import os

# Numba's parallel loops run on OpenMP, whose idle threads spin for a while after
# each loop. Between two frames those spinning threads take the CPU from FFmpeg's
# decoding threads: with the default policy analysis cost 2.0x the bare decode on a
# two-core machine, with PASSIVE 1.3x (bench/bench_pipeline.py). Read by the OpenMP
# runtime when it starts, i.e. at the first parallel kernel; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402


@njit(cache=True, nogil=True, parallel=True)
def coarse_search(padded: np.ndarray, cur: np.ndarray, block: int, radius: int, smoothness: float):  # pragma: no cover
    """Full search of every ``block``-sized block of ``cur`` in ``padded`` (the previous
    frame, edge-padded by ``radius`` on every side).

    Returns per block: best shift (dy, dx) minimising SAD + smoothness * block² * |shift|,
    the SAD there, and the mean SAD over all shifts.

    One band of blocks at a time, and for each shift the absolute differences of
    whole picture rows: the innermost loop runs along contiguous memory, which the
    compiler turns into SIMD (three times faster than looping block by block).
    """
    h, w = cur.shape
    rows, cols = h // block, w // block
    best_dy = np.zeros((rows, cols), np.int64)
    best_dx = np.zeros((rows, cols), np.int64)
    best_sad = np.zeros((rows, cols), np.float32)
    mean_sad = np.zeros((rows, cols), np.float32)
    n = 2 * radius + 1
    for br in prange(rows):
        acc = np.empty(w, np.float32)
        best_cost = np.full(cols, np.inf, np.float32)
        total = np.zeros(cols, np.float32)
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                acc[:] = 0.0
                off = dx + radius
                for i in range(block):
                    y = br * block + i
                    prow = padded[y + dy + radius]
                    crow = cur[y]
                    for x in range(w):
                        acc[x] += abs(crow[x] - prow[x + off])
                penalty = np.float32(smoothness * block * block * np.sqrt(dy * dy + dx * dx))
                for bc in range(cols):
                    s = np.float32(0.0)
                    for j in range(block):
                        s += acc[bc * block + j]
                    total[bc] += s
                    if s + penalty < best_cost[bc]:
                        best_cost[bc] = s + penalty
                        best_dy[br, bc] = dy
                        best_dx[br, bc] = dx
                        best_sad[br, bc] = s
        for bc in range(cols):
            mean_sad[br, bc] = total[bc] / (n * n)
    return best_dy, best_dx, best_sad, mean_sad


@njit(cache=True, nogil=True)
def half_padded(img: np.ndarray, h: int, w: int, pad: int):  # pragma: no cover
    """The top-left ``h`` x ``w`` of ``img`` at half resolution (2x2 means), edge-padded by ``pad``."""
    hh, hw = h // 2, w // 2
    out = np.empty((hh + 2 * pad, hw + 2 * pad), np.float32)
    for y in range(hh):
        for x in range(hw):
            out[y + pad, x + pad] = 0.25 * (img[2 * y, 2 * x] + img[2 * y, 2 * x + 1]
                                            + img[2 * y + 1, 2 * x] + img[2 * y + 1, 2 * x + 1])
    for y in range(pad, hh + pad):
        for x in range(pad):
            out[y, x] = out[y, pad]
            out[y, hw + pad + x] = out[y, hw + pad - 1]
    for y in range(pad):
        out[y, :] = out[pad, :]
        out[hh + pad + y, :] = out[hh + pad - 1, :]
    return out


@njit(cache=True, nogil=True)
def subpixel_best(costs: np.ndarray):  # pragma: no cover
    """From the (3, 3, rows, cols) refine costs: per block the best of the 9 shifts as
    (row offset, column offset) in -1..1 plus a parabola's sub-pixel correction along
    each axis (clamped to half a pixel; none at the cube's edge), and its cost."""
    rows, cols = costs.shape[2], costs.shape[3]
    oy = np.zeros((rows, cols), np.float32)
    ox = np.zeros((rows, cols), np.float32)
    best = np.zeros((rows, cols), np.float32)
    for r in range(rows):
        for c in range(cols):
            bi, bj = 0, 0
            for a in range(3):
                for b in range(3):
                    if costs[a, b, r, c] < costs[bi, bj, r, c]:
                        bi, bj = a, b
            c1 = costs[bi, bj, r, c]
            best[r, c] = c1
            fy = 0.0
            if bi == 1:
                c0, c2 = costs[0, bj, r, c], costs[2, bj, r, c]
                d = c0 - 2 * c1 + c2
                if d > 1e-6:
                    fy = min(0.5, max(-0.5, 0.5 * (c0 - c2) / d))
            fx = 0.0
            if bj == 1:
                c0, c2 = costs[bi, 0, r, c], costs[bi, 2, r, c]
                d = c0 - 2 * c1 + c2
                if d > 1e-6:
                    fx = min(0.5, max(-0.5, 0.5 * (c0 - c2) / d))
            oy[r, c] = bi - 1 + fy
            ox[r, c] = bj - 1 + fx
    return oy, ox, best


@njit(cache=True, nogil=True, parallel=True)
def refine(prev: np.ndarray, cur: np.ndarray, block: int, guess_dy: np.ndarray, guess_dx: np.ndarray,  # pragma: no cover
           smoothness: float):
    """Cost of the 3x3 shifts around each block's guess: (3, 3, rows, cols), and each block's contrast."""
    h, w = cur.shape
    rows, cols = guess_dy.shape
    costs = np.zeros((3, 3, rows, cols), np.float32)
    contrast = np.zeros((rows, cols), np.float32)
    for br in prange(rows):
        for bc in range(cols):
            y0, x0 = br * block, bc * block
            mean = 0.0
            for i in range(block):
                for j in range(block):
                    mean += cur[y0 + i, x0 + j]
            mean /= block * block
            c = 0.0
            for i in range(block):
                for j in range(block):
                    c += abs(cur[y0 + i, x0 + j] - mean)
            contrast[br, bc] = c
            for a in range(3):
                for b in range(3):
                    dy = guess_dy[br, bc] + a - 1
                    dx = guess_dx[br, bc] + b - 1
                    s = 0.0
                    for i in range(block):
                        yy = min(max(y0 + i + dy, 0), h - 1)
                        for j in range(block):
                            xx = min(max(x0 + j + dx, 0), w - 1)
                            s += abs(cur[y0 + i, x0 + j] - prev[yy, xx])
                    costs[a, b, br, bc] = s + smoothness * block * block * np.sqrt(dy * dy + dx * dx)
    return costs, contrast


@njit(cache=True, nogil=True)
def robust_affine(design: np.ndarray, vec: np.ndarray, keep_share: float, floor: float, rounds: int):  # pragma: no cover
    """Robust affine fit ``design @ coef ~ vec`` (design columns 1, x, y): start from
    the median translation, then ``rounds`` least-squares fits, each on the
    ``keep_share`` of points that fit the previous one best (error at most that
    quantile, or ``floor``). Returns the (3, 2) coefficients.

    Starting from the median, not from a plain least-squares fit of all points,
    matters: a large object moving through one side of the picture tilts a plain
    fit so much that the object's blocks look like the best-fitting ones.
    """
    n = design.shape[0]
    keep = np.ones(n, np.bool_)
    coef: np.ndarray = np.zeros((3, 2))
    coef[0, 0] = np.median(vec[:, 0])
    coef[0, 1] = np.median(vec[:, 1])
    err = np.zeros(n)
    for i in range(n):
        ey, ex = vec[i, 0] - coef[0, 0], vec[i, 1] - coef[0, 1]
        err[i] = np.sqrt(ey * ey + ex * ex)
    cut = max(np.quantile(err, keep_share), floor)
    for i in range(n):
        keep[i] = err[i] <= cut
    for _ in range(rounds):
        ata = np.zeros((3, 3))
        atv = np.zeros((3, 2))
        count = 0
        for i in range(n):
            if not keep[i]:
                continue
            count += 1
            for a in range(3):
                for b in range(3):
                    ata[a, b] += design[i, a] * design[i, b]
                atv[a, 0] += design[i, a] * vec[i, 0]
                atv[a, 1] += design[i, a] * vec[i, 1]
        if count < 6:
            break
        for a in range(3):
            ata[a, a] += 1e-9
        coef = np.linalg.solve(ata, atv)
        for i in range(n):
            ey = design[i, 0] * coef[0, 0] + design[i, 1] * coef[1, 0] + design[i, 2] * coef[2, 0] - vec[i, 0]
            ex = design[i, 0] * coef[0, 1] + design[i, 1] * coef[1, 1] + design[i, 2] * coef[2, 1] - vec[i, 1]
            err[i] = np.sqrt(ey * ey + ex * ex)
        cut = max(np.quantile(err, keep_share), floor)
        for i in range(n):
            keep[i] = err[i] <= cut
    return coef


@njit(cache=True, nogil=True)
def lost_motion(
    before: np.ndarray, before_ok: np.ndarray,
    prev: np.ndarray, prev_valid: np.ndarray,
    cur: np.ndarray, cur_sat: np.ndarray,
    after: np.ndarray, after_sat: np.ndarray,
    reach: int, limit: float,
):  # pragma: no cover
    """Per block, the steady motion lost between two frames (see motion.deceleration):
    weighted by the share lost, and raw; vectors are (rows, cols, 2) in pixels per frame."""
    rows, cols = prev.shape[0], prev.shape[1]
    out = np.zeros((rows, cols), np.float32)
    raw = np.zeros((rows, cols), np.float32)
    for r in range(rows):
        for c in range(cols):
            if not prev_valid[r, c]:
                continue
            vy, vx = prev[r, c, 0], prev[r, c, 1]
            speed = np.sqrt(vy * vy + vx * vx)
            if speed <= 1e-6:
                continue
            uy, ux = vy / speed, vx / speed
            supported = False
            for y in range(max(0, r - reach), min(rows, r + reach + 1)):
                for x in range(max(0, c - reach), min(cols, c + reach + 1)):
                    if not before_ok[y, x]:
                        continue
                    ny, nx = before[y, x, 0], before[y, x, 1]
                    along = ny * uy + nx * ux
                    oy, ox = ny - along * uy, nx - along * ux
                    if along >= 0.5 * speed and np.sqrt(oy * oy + ox * ox) <= 0.5 * speed:
                        supported = True
            if not supported:
                continue
            escape = speed >= 0.5 * limit
            edge = r < reach or c < reach or r >= rows - reach or c >= cols - reach
            survive = -np.inf
            for k in range(2):
                field = cur if k == 0 else after
                sat = cur_sat if k == 0 else after_sat
                best = -np.inf
                unseen = False
                for y in range(r - reach, r + reach + 1):
                    for x in range(c - reach, c + reach + 1):
                        if y < 0 or x < 0 or y >= rows or x >= cols or sat[y, x]:
                            unseen = True
                            continue
                        d = field[y, x, 0] * uy + field[y, x, 1] * ux
                        if d > best:
                            best = d
                if (escape and unseen) or (edge and unseen and not sat[r, c]):
                    best = np.inf
                if best > survive:
                    survive = best
            lost = speed - min(survive, speed)
            if lost > 0:
                out[r, c] = lost * min(1.0, lost / speed)
                raw[r, c] = lost
    return out, raw
