"""Local motion, free of camera motion, from dense optical flow (OpenCV's DIS).

DIS (Kroeger et al., 2016) finds a flow vector for every pixel by inverse search of
small patches over an image pyramid, fast enough on one core to run at twice the
resolution the block matcher could afford, which is what small objects need. The dense
flow is averaged over blocks; a block is trusted when it has texture and the flow
roughly explains it (the next frame warped back by the flow matches). Camera motion (pan, zoom,
shake, roll) is the robust affine fit of the trusted blocks
(:func:`~syncfoley.engine.detect.motion_field.camera_fit`) and is subtracted. Where DIS
loses a small, fast object, a block search finds it again
(:mod:`~syncfoley.engine.detect.block_search`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from syncfoley.engine.detect.block_search import search_lost_blocks
from syncfoley.engine.detect.motion_field import MotionField, block_design, camera_fit


@dataclass(frozen=True)
class FlowConfig:
    """Analysis settings. Sizes are in analysis pixels (frames are downscaled to ``width``)."""

    width: int = 512
    # Dense flow is averaged over square blocks this many pixels across.
    block: int = 16
    # A block is trusted when the flow leaves at most this multiple of its own contrast
    # unexplained. Loose on purpose: a fast, blurred object (the very thing that hits)
    # warps imperfectly.
    residual: float = 2.0
    # With fewer trusted blocks than this fraction, camera motion is taken as zero.
    min_global_fraction: float = 0.25
    # Blocks the flow lost are searched for this far (pixels) in the next frame, at most
    # this many a frame; 0 turns the search off (the flow as the shipped networks learnt it).
    search_radius: int = 40
    search_blocks: int = 16


class FlowMatcher:
    """Block motion between consecutive frames of one size, from DIS dense flow."""

    def __init__(self, shape: tuple[int, int], cfg: FlowConfig) -> None:
        import cv2

        self.cfg = cfg
        b = cfg.block
        self.rows, self.cols = shape[0] // b, shape[1] // b
        self.h, self.w = self.rows * b, self.cols * b
        self.design = block_design(self.rows, self.cols, b)
        # One thread: decoding runs beside us on the other core.
        cv2.setNumThreads(1)
        self.dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.cv2 = cv2

    @property
    def limit(self) -> float:
        """DIS follows motion through its pyramid: no search window to run out of."""
        return 1e9

    def _blocks(self, a: np.ndarray) -> np.ndarray:
        """Mean over each block. OpenCV's area resampling by a whole factor is exactly that,
        and several times faster than NumPy's mean over two strided axes (which cost a third
        of the whole analysis)."""
        a = np.ascontiguousarray(a[: self.h, : self.w], dtype=np.float32)
        return self.cv2.resize(a, (self.cols, self.rows), interpolation=self.cv2.INTER_AREA)

    def field(self, prev: np.ndarray, cur: np.ndarray) -> MotionField:
        """``prev``, ``cur``: uint8 grey frames."""
        cv2 = self.cv2
        # An empty flow in: no initial guess, so each pair is measured on its own.
        flow = np.asarray(self.dis.calc(prev, cur, np.empty(0, np.float32)))[: self.h, : self.w]
        # prev(x) ~ cur(x + flow): the content at x moved by +flow.
        vec = self._blocks(flow)[..., ::-1].astype(np.float32)  # (dy, dx)
        # The flow as a map relative to each pixel: the same picture, to the bit, as adding it to
        # a grid of pixel positions first, in half the time (no two full-size sums).
        warped = cv2.remap(cur, np.ascontiguousarray(flow), None, cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
        p = np.ascontiguousarray(prev[: self.h, : self.w])
        # Differences of 8-bit pictures are exact in 8 bits: OpenCV's absdiff, not float arrays.
        err = self._blocks(cv2.absdiff(warped, p))
        texture = np.zeros((self.h, self.w), np.float32)
        texture[:, :-1] = cv2.absdiff(p[:, 1:], p[:, :-1])
        texture[:-1] += cv2.absdiff(p[1:], p[:-1])
        texture = self._blocks(texture)
        noise = float(np.median(texture)) * 0.1 + 0.5
        search_lost_blocks(p, cur[: self.h, : self.w], vec, err, texture, noise, self.cfg.block, self.cfg.search_radius,
                           self.cfg.search_blocks)
        valid = (texture > noise) & (err <= self.cfg.residual * texture + noise)
        camera = self.camera(vec, valid)
        residual = np.where(valid[..., None], vec - camera, 0.0).astype(np.float32)
        return MotionField(residual, valid, np.zeros_like(valid), camera, err)

    def camera(self, vec: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The camera's own motion (see motion_field.camera_fit)."""
        return camera_fit(self.design, vec, valid, self.cfg.min_global_fraction)
