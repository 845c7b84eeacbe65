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
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class MotionConfig:
    """Analysis settings. Sizes are in analysis pixels (frames are downscaled to ``width``)."""

    width: int = 256
    block: int = 8
    # Half-resolution search radius: motion up to 2 * search pixels per frame is followed.
    search: int = 10
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
    edge of the search window (motion faster than the search can follow). ``unexplained``
    (rows, cols), where the matcher measures it: the mean grey-level difference the motion
    leaves unexplained (the next frame warped back against this one), which is what a
    thin, fast or blurred object the flow cannot follow leaves behind.
    """

    vectors: np.ndarray
    valid: np.ndarray
    saturated: np.ndarray
    camera: np.ndarray
    unexplained: Optional[np.ndarray] = None


def magnitude(v: np.ndarray) -> np.ndarray:
    """Length of (dy, dx) vectors along the last axis: what ``np.linalg.norm(v, axis=-1)``
    computes, to the bit, without its generic machinery (a tenth of the time the
    physics features took)."""
    return np.sqrt(v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1])


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
        self.design = block_design(self.rows, self.cols, b)

    def coarse(self, prev: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Full search at half resolution: (dy, dx) in full-resolution pixels, distinctness, saturation."""
        from syncfoley.engine.detect.motion_kernels import coarse_search, half_padded

        r, hb = self.cfg.search, self.cfg.block // 2
        p = half_padded(prev, self.h, self.w, r)
        c = half_padded(cur, self.h, self.w, 0)
        dy, dx, best_sad, mean_sad = coarse_search(p, c, hb, r, self.cfg.smoothness)
        distinct = best_sad < self.cfg.distinct * mean_sad
        saturated = (np.abs(dy) == r) | (np.abs(dx) == r)
        return np.stack([dy, dx], axis=-1) * 2, distinct, saturated

    @property
    def limit(self) -> float:
        """Fastest motion the search can follow, in pixels per frame."""
        return 2.0 * self.cfg.search

    def field(self, prev: np.ndarray, cur: np.ndarray) -> MotionField:
        from syncfoley.engine.detect.motion_kernels import refine, subpixel_best

        guess, distinct, saturated = self.coarse(prev, cur)
        p = np.ascontiguousarray(prev[: self.h, : self.w])
        c = np.ascontiguousarray(cur[: self.h, : self.w])
        cube, contrast = refine(p, c, self.cfg.block, guess[..., 0], guess[..., 1], self.cfg.smoothness)
        off_y, off_x, best_sad = subpixel_best(cube)
        well_matched = best_sad <= self.cfg.residual * contrast
        dy = guess[..., 0] + off_y
        dx = guess[..., 1] + off_x
        valid = distinct & well_matched & ~saturated
        # cur(x) ~ prev(x + d): the content moved by -d.
        vec = -np.stack([dy, dx], axis=-1).astype(np.float32)
        camera = self.camera(vec, valid)
        residual = np.where(valid[..., None], vec - camera, 0.0).astype(np.float32)
        return MotionField(residual, valid, saturated, camera)

    def camera(self, vec: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Robust affine fit of the block vectors: the camera's own motion.

        From the median translation of the trusted blocks, three least-squares fits,
        each on the 60% that fit the previous one best (moving objects are the
        outliers); see kernels.robust_affine.
        """
        return camera_fit(self.design, vec, valid, self.cfg.min_global_fraction)


def block_design(rows: int, cols: int, block: int) -> np.ndarray:
    """Design matrix (1, x, y) of block centres about the picture's centre, for the camera fit."""
    ys = (np.arange(rows) + 0.5) * block - rows * block / 2
    xs = (np.arange(cols) + 0.5) * block - cols * block / 2
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([np.ones_like(gx), gx, gy], axis=-1).reshape(-1, 3)


def camera_fit(design: np.ndarray, vec: np.ndarray, valid: np.ndarray, min_fraction: float) -> np.ndarray:
    """The camera's own motion at every block: a robust affine fit of the trusted block
    vectors (zero with fewer trusted blocks than ``min_fraction``)."""
    from syncfoley.engine.detect.motion_kernels import robust_affine

    rows, cols = vec.shape[:2]
    mask = valid.reshape(-1)
    if mask.sum() < max(6, min_fraction * mask.size):
        return np.zeros((rows, cols, 2), dtype=np.float32)
    coef = robust_affine(design[mask], vec.reshape(-1, 2)[mask].astype(np.float64), 0.6, 0.25, 3)
    return (design @ coef).reshape(rows, cols, 2).astype(np.float32)


def deceleration(
    before: MotionField, prev: MotionField, cur: MotionField, after: MotionField, reach: int, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per block, how much steady motion was lost from one frame to the next, in px/frame:
    (weighted by the share lost, raw).

    A block moving with velocity v into frame t-1 counts as steadily moving only if
    motion like v was also there, nearby, into frame t-2 (one wrong match is not a
    movement). What survives into frame t is the largest component along
    v among the blocks within ``reach`` (the object may have moved on into a
    neighbour), in frame t or in frame t+1: a block matched badly for one frame
    (a thin rod seen end-on, a change of blur) is not a stop, while a real stop or
    reversal still shows in the frame after. Neighbours beyond the picture's edge, or
    whose match hit the edge of the search, count as carrying the motion on when the
    block was already moving nearly as fast as the search can follow (or sits at the
    edge): leaving the picture or speeding up is not a stop. A sudden stop loses all
    of the motion; an object that carries on, even into the next block, loses nothing.
    The loss is weighted by the share of the motion lost: an impact loses most of it
    in one frame, smooth braking (a hand slowing down, gravity) only a part.
    """
    from syncfoley.engine.detect.motion_kernels import lost_motion

    return lost_motion(
        before.vectors, before.valid & ~before.saturated,
        prev.vectors, prev.valid,
        cur.vectors, cur.saturated,
        after.vectors, after.saturated,
        reach, float(limit),
    )
