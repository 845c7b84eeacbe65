"""Compiled inner loops of block matching (numba): the part of motion analysis that
touches every pixel for every candidate shift.

Each kernel is a plain loop nest that numba compiles once per process (and caches on
disk); the pure-NumPy reference they must agree with is in the tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def coarse_search(padded: np.ndarray, cur: np.ndarray, block: int, radius: int, smoothness: float):  # pragma: no cover
    """Full search of every ``block``-sized block of ``cur`` in ``padded`` (the previous
    frame, edge-padded by ``radius`` on every side).

    Returns per block: best shift (dy, dx) minimising SAD + smoothness * block² * |shift|,
    the SAD there, and the mean SAD over all shifts.
    """
    h, w = cur.shape
    rows, cols = h // block, w // block
    best_dy = np.zeros((rows, cols), np.int64)
    best_dx = np.zeros((rows, cols), np.int64)
    best_sad = np.zeros((rows, cols), np.float32)
    mean_sad = np.zeros((rows, cols), np.float32)
    n = 2 * radius + 1
    for br in prange(rows):
        for bc in range(cols):
            y0, x0 = br * block, bc * block
            best_cost = np.inf
            total = 0.0
            for dy in range(-radius, radius + 1):
                for dx in range(-radius, radius + 1):
                    s = np.float32(0.0)
                    for i in range(block):
                        row = padded[y0 + i + dy + radius]
                        for j in range(block):
                            s += abs(cur[y0 + i, x0 + j] - row[x0 + j + dx + radius])
                    total += s
                    cost = s + smoothness * block * block * np.sqrt(dy * dy + dx * dx)
                    if cost < best_cost:
                        best_cost = cost
                        best_dy[br, bc] = dy
                        best_dx[br, bc] = dx
                        best_sad[br, bc] = s
            mean_sad[br, bc] = total / (n * n)
    return best_dy, best_dx, best_sad, mean_sad


@njit(cache=True, nogil=True, parallel=True)
def refine(prev: np.ndarray, cur: np.ndarray, block: int, guess_dy: np.ndarray, guess_dx: np.ndarray, smoothness: float):  # pragma: no cover
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
