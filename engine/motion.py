"""Local motion, free of camera motion, from pairs of small grey frames.

Block matching: each block of the current frame is found in the previous frame
by the smallest sum of absolute differences over a square search window, refined
to sub-pixel by a parabola. Frames are normalised to zero mean and unit variance
first, so global flicker does not move the match. Camera motion (pan, zoom,
shake) is an affine field fitted robustly to the block vectors and subtracted,
leaving the motion of things in the scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MotionConfig:
    """Analysis settings. Sizes are in analysis pixels (frames are downscaled to ``width``)."""

    width: int = 256
    block: int = 8
    search: int = 8
    # Penalty (SAD per pixel of displacement) that prefers small vectors in weak texture.
    smoothness: float = 0.02
    # A block is trusted when its best match is this much better than its average one.
    distinct: float = 0.6
    # A block is trusted when its best match leaves at most this fraction of its
    # own contrast unexplained (blocks straddling two motions match poorly).
    residual: float = 0.7
    # With fewer trusted blocks than this fraction, camera motion is taken as zero.
    min_global_fraction: float = 0.25


@dataclass(frozen=True)
class MotionField:
    """Residual (object) motion of one frame pair, in analysis pixels per frame.

    ``vectors`` has shape (rows, cols, 2) as (dy, dx); ``valid`` marks blocks whose
    match is trustworthy; ``saturated`` marks blocks whose best match lay on the
    edge of the search window (motion faster than the search can follow).
    """

    vectors: np.ndarray
    valid: np.ndarray
    saturated: np.ndarray
    camera: np.ndarray


def normalise(frame: np.ndarray) -> np.ndarray:
    f = frame.astype(np.float32)
    return (f - f.mean()) / (f.std() + 1e-3)


class BlockMatcher:
    """Estimates block motion between consecutive frames of one size.

    Coarse to fine: a full search at half resolution finds each block's motion
    to within two pixels over twice the search radius; a small search around
    that at full resolution refines it. This follows fast motion (a falling ball
    moves a block or more per frame) without a full search over the larger window
    at full resolution.
    """

    def __init__(self, shape: tuple[int, int], cfg: MotionConfig) -> None:
        self.cfg = cfg
        b = cfg.block
        if b % 2:
            raise ValueError("block size must be even")
        self.rows, self.cols = shape[0] // b, shape[1] // b
        self.h, self.w = self.rows * b, self.cols * b
        r = cfg.search
        shifts = np.arange(-r, r + 1)
        dy, dx = np.meshgrid(shifts, shifts, indexing="ij")
        hb = b // 2
        self.coarse_penalty = (cfg.smoothness * hb * hb * np.hypot(dy, dx)).astype(np.float32)
        self.fine = np.array([(y, x) for y in range(-1, 2) for x in range(-1, 2)])
        self.pad = 2 * r + 2
        by = np.arange(self.rows)[:, None, None, None] * b
        bx = np.arange(self.cols)[None, :, None, None] * b
        iy = np.arange(b)[None, None, :, None]
        ix = np.arange(b)[None, None, None, :]
        self.base_y = (by + iy + self.pad).astype(np.intp)
        self.base_x = (bx + ix + self.pad).astype(np.intp)
        ys = (np.arange(self.rows) + 0.5) * b - self.h / 2
        xs = (np.arange(self.cols) + 0.5) * b - self.w / 2
        gy, gx = np.meshgrid(ys, xs, indexing="ij")
        self.design = np.stack([np.ones_like(gx), gx, gy], axis=-1).reshape(-1, 3)

    def coarse(self, prev: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Full search at half resolution: (dy, dx) in full-resolution pixels, distinctness, saturation."""
        r, hb = self.cfg.search, self.cfg.block // 2
        p = _half(prev[: self.h, : self.w])
        c = _half(cur[: self.h, : self.w])
        h, w = c.shape
        n = 2 * r + 1
        padded = np.pad(p, r, mode="edge")
        sad = np.empty((n, n, self.rows, self.cols), dtype=np.float32)
        for i in range(n):
            win = np.lib.stride_tricks.sliding_window_view(padded[i : i + h], w, axis=1)
            diff = np.abs(win.transpose(1, 0, 2) - c[None])  # (n, h, w)
            sad[i] = diff.reshape(n, self.rows, hb, self.cols, hb).sum(axis=(2, 4))
        cost = (sad + self.coarse_penalty[:, :, None, None]).reshape(n * n, self.rows, self.cols)
        best = cost.argmin(axis=0)
        bi, bj = np.divmod(best, n)
        best_sad = np.take_along_axis(sad.reshape(n * n, self.rows, self.cols), best[None], 0)[0]
        distinct = best_sad < self.cfg.distinct * sad.reshape(n * n, self.rows, self.cols).mean(axis=0)
        saturated = (bi == 0) | (bi == n - 1) | (bj == 0) | (bj == n - 1)
        return np.stack([bi - r, bj - r], axis=-1) * 2, distinct, saturated

    @property
    def limit(self) -> float:
        """Fastest motion the search can follow, in pixels per frame."""
        return 2.0 * self.cfg.search

    def field(self, prev: np.ndarray, cur: np.ndarray) -> MotionField:
        guess, distinct, saturated = self.coarse(prev, cur)
        b = self.cfg.block
        padded = np.pad(prev[: self.h, : self.w], self.pad, mode="edge")
        blocks = cur[: self.h, : self.w].reshape(self.rows, b, self.cols, b).transpose(0, 2, 1, 3)
        costs = np.empty((len(self.fine), self.rows, self.cols), dtype=np.float32)
        for k, (fy, fx) in enumerate(self.fine):
            oy = (guess[..., 0] + fy)[:, :, None, None]
            ox = (guess[..., 1] + fx)[:, :, None, None]
            patch = padded[self.base_y + oy, self.base_x + ox]
            disp = np.hypot(guess[..., 0] + fy, guess[..., 1] + fx)
            costs[k] = np.abs(patch - blocks).sum(axis=(2, 3)) + self.cfg.smoothness * b * b * disp
        best = costs.argmin(axis=0)
        best_sad = np.take_along_axis(costs, best[None], 0)[0]
        contrast = np.abs(blocks - blocks.mean(axis=(2, 3), keepdims=True)).sum(axis=(2, 3))
        well_matched = best_sad <= self.cfg.residual * contrast
        cube = costs.reshape(3, 3, self.rows, self.cols)
        bi, bj = np.divmod(best, 3)
        rr, cc = np.indices((self.rows, self.cols))
        dy = guess[..., 0] + bi - 1 + _parabola(cube, bi, bj, rr, cc, axis=0)
        dx = guess[..., 1] + bj - 1 + _parabola(cube, bi, bj, rr, cc, axis=1)
        valid = distinct & well_matched & ~saturated
        # cur(x) ~ prev(x + d): the content moved by -d.
        vec = -np.stack([dy, dx], axis=-1).astype(np.float32)
        camera = self.camera(vec, valid)
        residual = np.where(valid[..., None], vec - camera, 0.0).astype(np.float32)
        return MotionField(residual, valid, saturated, camera)

    def camera(self, vec: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Robust affine fit of the block vectors: the camera's own motion."""
        mask = valid.reshape(-1)
        zero = np.zeros((self.rows, self.cols, 2), dtype=np.float32)
        if mask.sum() < max(6, self.cfg.min_global_fraction * mask.size):
            return zero
        a = self.design[mask]
        v = vec.reshape(-1, 2)[mask]
        keep = np.ones(len(v), dtype=bool)
        coef = np.zeros((3, 2))
        for _ in range(3):
            coef, *_ = np.linalg.lstsq(a[keep], v[keep], rcond=None)
            err = np.linalg.norm(a @ coef - v, axis=1)
            keep = err <= max(np.quantile(err, 0.6), 0.25)
            if keep.sum() < 6:
                break
        return (self.design @ coef).reshape(self.rows, self.cols, 2).astype(np.float32)


def _half(img: np.ndarray) -> np.ndarray:
    h, w = img.shape
    return img[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _parabola(cost: np.ndarray, bi: np.ndarray, bj: np.ndarray, rr: np.ndarray, cc: np.ndarray, axis: int) -> np.ndarray:
    n = cost.shape[0]
    idx = bi if axis == 0 else bj
    lo = np.clip(idx - 1, 0, n - 1)
    hi = np.clip(idx + 1, 0, n - 1)
    if axis == 0:
        c0, c1, c2 = cost[lo, bj, rr, cc], cost[bi, bj, rr, cc], cost[hi, bj, rr, cc]
    else:
        c0, c1, c2 = cost[bi, lo, rr, cc], cost[bi, bj, rr, cc], cost[bi, hi, rr, cc]
    denom = c0 - 2 * c1 + c2
    off = np.where(denom > 1e-6, 0.5 * (c0 - c2) / np.maximum(denom, 1e-6), 0.0)
    off = np.where((idx == 0) | (idx == n - 1), 0.0, off)
    return np.clip(off, -0.5, 0.5).astype(np.float32)


def _carried(field: MotionField, u: np.ndarray, reach: int, escape: np.ndarray) -> np.ndarray:
    """Largest component along ``u`` among the blocks of ``field`` within ``reach``.

    Where ``escape`` is set (the block was already moving nearly as fast as the
    search can follow), a neighbour beyond the picture's edge or whose match hit the
    edge of the search counts as carrying the motion on (infinite): leaving the
    picture or speeding up is not a stop. Elsewhere such neighbours are ignored.
    """
    rows, cols = u.shape[:2]
    vec = np.where(field.saturated[..., None], np.nan, field.vectors)
    padded = np.pad(vec, ((reach, reach), (reach, reach), (0, 0)), constant_values=np.nan)
    best = np.full((rows, cols), -np.inf, dtype=np.float32)
    unseen = np.zeros((rows, cols), dtype=bool)
    for oy in range(2 * reach + 1):
        for ox in range(2 * reach + 1):
            dot = (padded[oy : oy + rows, ox : ox + cols] * u).sum(axis=-1)
            nan = np.isnan(dot)
            unseen |= nan
            best = np.maximum(best, np.where(nan, -np.inf, dot))
    edge = np.zeros((rows, cols), dtype=bool)
    edge[:reach, :] = edge[-reach:, :] = edge[:, :reach] = edge[:, -reach:] = True
    # Leaving the picture is possible for any block near the edge.
    escapes = (escape & unseen) | (edge & unseen & ~field.saturated)
    return np.where(escapes, np.inf, best)


def _supported(field: MotionField, v: np.ndarray, reach: int) -> np.ndarray:
    """Whether a block of ``field`` within ``reach`` moved like ``v``: along it at half
    its speed or more (faster is fine: the object may be slowing), and off its line by
    less than half its speed (a wrong match points anywhere)."""
    rows, cols = v.shape[:2]
    speed = np.linalg.norm(v, axis=-1)
    u = v / np.maximum(speed, 1e-6)[..., None]
    vec = np.where((field.saturated | ~field.valid)[..., None], np.nan, field.vectors)
    padded = np.pad(vec, ((reach, reach), (reach, reach), (0, 0)), constant_values=np.nan)
    ok = np.zeros((rows, cols), dtype=bool)
    for oy in range(2 * reach + 1):
        for ox in range(2 * reach + 1):
            nb = padded[oy : oy + rows, ox : ox + cols]
            along = (nb * u).sum(axis=-1)
            off = np.linalg.norm(nb - along[..., None] * u, axis=-1)
            ok |= (along >= 0.5 * speed) & (off <= 0.5 * speed)
    return ok


def deceleration(
    before: MotionField, prev: MotionField, cur: MotionField, after: MotionField, reach: int, limit: float
) -> np.ndarray:
    """Per block, how much steady motion was lost from one frame to the next, in px/frame.

    A block moving with velocity v into frame t-1 counts as steadily moving only if
    motion like v was also there, nearby, into frame t-2 (one wrong match is not a
    movement). What survives into frame t is the largest component along
    v among the blocks within ``reach`` (the object may have moved on into a
    neighbour), in frame t or in frame t+1: a block matched badly for one frame
    (a thin rod seen end-on, a change of blur) is not a stop, while a real stop or
    reversal still shows in the frame after. A sudden stop loses all of the motion;
    an object that carries on, even into the next block, loses nothing.
    """
    v = prev.vectors
    speed = np.linalg.norm(v, axis=-1)
    u = v / np.maximum(speed, 1e-6)[..., None]
    escape = speed >= 0.5 * limit
    steady = np.where(_supported(before, v, reach), speed, 0.0)
    survive = np.maximum(_carried(cur, u, reach, escape), _carried(after, u, reach, escape))
    lost = np.maximum(steady - np.minimum(survive, steady), 0.0)
    # Weighted by the share of the motion that was lost: an impact loses most of
    # it in one frame, smooth braking (a hand slowing down, gravity) only a part.
    share = np.clip(lost / np.maximum(steady, 1e-6), 0.0, 1.0)
    return np.where(prev.valid, lost * share, 0.0).astype(np.float32)

