"""Onsets from SyncFusion's trained onset network.

The network sees 2 s clips (30 frames at 15 fps, 112x112 RGB) and gives one
onset logit per frame. A file of any length is covered by clips that overlap by
half; each frame's logit is the average of the clips that saw it, weighted
towards clip centres (a frame at a clip's edge has no context on one side).
Frames are streamed, so memory does not grow with the file. The per-frame
probabilities are then peak-picked into onsets.

A frame at 15 fps stands for the picture on screen at that instant; SyncFusion
labelled frame ``k`` when an onset fell in ``[k/15, (k+1)/15)``, so a detected
onset is placed at the middle of that interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from syncfoley.core.progress import Progress
from syncfoley.engine.detect.peaks import pick_peaks
from syncfoley.engine.media.video import DecodeReport, VideoInfo, iter_frames
from syncfoley.engine.types import Curve, Onset, OnsetTrack, TimeRange


@dataclass(frozen=True)
class NeuralDetectorConfig:
    """Stitching and peak picking; the clip shape comes from the checkpoint."""

    hop: int = 15  # frames between clip starts: clips overlap by half
    # Onset probability a peak must reach: SyncFusion's published code uses 0.75 (the
    # paper says 0.5); the code is what its reported figures came from.
    threshold: float = 0.75
    min_gap: float = 0.1  # s between onsets
    batch: int = 8  # clips per forward pass


def resample_frames(
    frames: Iterator[tuple[float, np.ndarray]], span: TimeRange, fps: float
) -> Iterator[tuple[float, np.ndarray]]:
    """The picture on screen at ``span.start + k / fps`` for each ``k`` within ``span``."""
    count = max(1, int(math.floor(span.duration * fps - 1e-9)) + 1)
    k = 0
    shown: Optional[np.ndarray] = None
    for t, img in frames:
        while k < count and span.start + k / fps < t - 1e-6:
            yield span.start + k / fps, img if shown is None else shown
            k += 1
        shown = img
    while k < count and shown is not None:
        yield span.start + k / fps, shown
        k += 1


def clip_weights(window: int) -> np.ndarray:
    """Per-frame trust in one clip's outputs: high in the middle, low (not zero) at the edges."""
    x = (np.arange(window) + 0.5) / window
    return 0.05 + np.sin(np.pi * x) ** 2


class Stitcher:
    """Turns a stream of frames into overlapping clips and their outputs back into
    one logit per frame. Holds at most one clip's worth of frames."""

    def __init__(self, window: int, hop: int) -> None:
        self.window, self.hop = window, hop
        self.frames: list[np.ndarray] = []  # frames from index self.base on
        self.base = 0
        self.count = 0
        self.next_start = 0
        self.sums: list[float] = []
        self.weights: list[float] = []
        self.w = clip_weights(window)
        self.last_start: Optional[int] = None

    def push(self, frame: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Add a frame; return the clips ``(start, frames)`` that it completes."""
        self.frames.append(frame)
        self.count += 1
        self.sums.append(0.0)
        self.weights.append(0.0)
        out = []
        while self.next_start + self.window <= self.count:
            out.append(self._clip(self.next_start))
            self.next_start += self.hop
        self._trim()
        return out

    def finish(self) -> list[tuple[int, np.ndarray]]:
        """The last clip, aligned to the end (padded by repeating the last frame when
        the whole input is shorter than a clip)."""
        if self.count == 0:
            return []
        if self.last_start is not None and self.last_start + self.window >= self.count:
            return []
        start = max(0, self.count - self.window)
        return [self._clip(start)]

    def _clip(self, start: int) -> tuple[int, np.ndarray]:
        idx = [min(i, self.count - 1) - self.base for i in range(start, start + self.window)]
        self.last_start = start
        return start, np.stack([self.frames[i] for i in idx])

    def _trim(self) -> None:
        # Keep a clip's worth: the end-aligned last clip may start before next_start.
        drop = min(self.next_start, self.count - self.window) - self.base
        if drop > 0:
            del self.frames[:drop]
            self.base += drop

    def add(self, start: int, logits: np.ndarray) -> None:
        n = min(self.window, self.count - start)
        for j in range(n):
            self.sums[start + j] += float(self.w[j] * logits[j])
            self.weights[start + j] += float(self.w[j])

    def logits(self) -> np.ndarray:
        w = np.maximum(np.asarray(self.weights), 1e-12)
        return np.asarray(self.sums) / w


def detect_neural(
    path: str | Path,
    info: VideoInfo,
    span: TimeRange,
    checkpoint: str | Path,
    device: str = "auto",
    config: NeuralDetectorConfig = NeuralDetectorConfig(),
    progress: Optional[Progress] = None,
) -> OnsetTrack:
    """Run the onset network over ``span`` of ``path`` and pick onsets."""
    from syncfoley.engine.detect.onset_checkpoint import warm_onset_model
    from syncfoley.engine.models.checkpoints import import_torch, pick_device

    torch = import_torch()
    dev = pick_device(device)
    net = warm_onset_model(checkpoint, dev)
    cfg = net.cfg
    half = dev == "cuda"
    if half:
        net = net.half()
    mean = torch.tensor(cfg.mean, device=dev).view(1, 3, 1, 1, 1)
    std = torch.tensor(cfg.std, device=dev).view(1, 3, 1, 1, 1)

    def run(clips: list[tuple[int, np.ndarray]]) -> None:
        batch = torch.from_numpy(np.stack([c for _, c in clips])).to(dev)  # (B, T, H, W, 3) uint8
        x = batch.permute(0, 4, 1, 2, 3).float().div_(255.0).sub_(mean).div_(std)
        with torch.inference_mode():
            logits = net(x.half() if half else x).float().cpu().numpy()
        for (start, _), row in zip(clips, logits):
            stitch.add(start, row)

    stitch = Stitcher(cfg.window, config.hop)
    report = DecodeReport()
    expected = max(1, int(span.duration * cfg.fps))
    pending: list[tuple[int, np.ndarray]] = []
    times: list[float] = []
    frames = iter_frames(path, span, cfg.size, cfg.size, "rgb24", report)
    for t, img in resample_frames(frames, span, cfg.fps):
        times.append(t)
        pending.extend(stitch.push(img))
        if len(pending) >= config.batch:
            run(pending)
            pending = []
            if progress is not None:
                progress(min(1.0, len(times) / expected), "neural onsets")
    pending.extend(stitch.finish())
    if pending:
        run(pending)
    if progress is not None:
        progress(1.0, "neural onsets")

    from scipy.special import expit  # no overflow warning for a confidently silent frame

    probs = expit(stitch.logits())
    half_frame = 0.5 / cfg.fps
    gap = max(1, int(round(config.min_gap * cfg.fps)))
    onsets = []
    for index, p in pick_peaks(probs, config.threshold, gap):
        t = span.start + int(round(index)) / cfg.fps + half_frame
        if t < span.end:
            onsets.append(Onset(time=round(t, 6), strength=float(p), confidence=float(p)))
    centres = tuple(round(t + half_frame, 6) for t in times)
    extra: dict[str, object] = {"device": dev, "checkpoint": str(checkpoint), "net_fps": cfg.fps}
    extra.update(report.as_extra())
    return OnsetTrack(
        source=str(path), duration=info.duration, fps=info.fps, detector="neural",
        onsets=tuple(onsets), range=span, extra=extra,
        curve=Curve(times=centres, values=tuple(float(p) for p in probs), label="onset probability",
                    threshold=config.threshold),
    )
