"""The motion detector: impacts as sudden stops or reversals of local motion."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np

from syncfoley.core.progress import Progress
from syncfoley.engine.detect.motion_field import (
    BlockMatcher,
    MotionConfig,
    MotionField,
    deceleration,
    magnitude,
    normalise,
)
from syncfoley.engine.detect.peaks import pick_peaks
from syncfoley.engine.media.video import DecodeReport, VideoInfo, analysis_size, iter_gray_frames, prefetch
from syncfoley.engine.types import Curve, Envelope, Onset, OnsetTrack, TimeRange


@dataclass(frozen=True)
class MotionDetectorConfig:
    """Settings of the motion detector. Speeds are in picture widths per second."""

    motion: MotionConfig = field(default_factory=MotionConfig)
    # Blocks this far apart (in blocks) are searched for motion that carried on.
    reach: int = 2
    # Only motion at least this fast before the stop can make an impact.
    min_speed: float = 0.12
    # Lost motion needed for an impact.
    threshold: float = 0.2
    # Lost motion that counts as a full-strength hit.
    full_strength: float = 2.0
    # Closest two onsets may be, in seconds.
    min_gap: float = 0.12
    # Length (s) of the running median that is taken as smooth deceleration.
    baseline: float = 0.25
    # Block-matching noise floor, in analysis pixels per frame.
    noise_floor: float = 0.35


def detect_motion(
    path: str | Path,
    info: VideoInfo,
    span: TimeRange,
    cfg: MotionDetectorConfig = MotionDetectorConfig(),
    progress: Optional[Progress] = None,
    sensitivity: float = 0.5,
) -> OnsetTrack:
    """Detect impacts in the picture: sudden stops or reversals of local motion.

    What it measures: for each frame, block motion with the camera's own motion
    removed (see :mod:`syncfoley.engine.detect.motion_field`), then for every block that was
    moving steadily, how much of that motion vanished by the next frame without
    carrying on into a nearby block (:func:`~syncfoley.engine.detect.motion_field.deceleration`).
    The largest loss in the frame, in picture widths per second, is the impact
    curve; its local median (smooth braking, gravity) is subtracted and the peaks
    above ``threshold`` are onsets. Smooth motion, however fast, loses almost
    nothing from one frame to the next; a stick striking a block or a ball bouncing
    loses all of it in one frame.

    ``sensitivity`` (0..1) scales the threshold: 0.5 keeps it, 1 halves it, 0 doubles it.
    Each onset's ``x``, ``y`` is the block that lost the most motion.
    """
    cfg = replace(cfg, threshold=cfg.threshold * 2.0 ** (2.0 * (0.5 - sensitivity)))
    report = DecodeReport()
    places: list[tuple[float, float]] = []
    times, scores, raws, energy = motion_curve(path, info, span, cfg, progress, report, places)
    spikes = impact_spikes(scores, cfg, info.fps)
    lost = np.maximum(impact_spikes(raws, cfg, info.fps), 0.0)
    return OnsetTrack(
        source=str(path),
        duration=info.duration,
        fps=info.fps,
        detector="motion",
        onsets=tuple(onsets_from_spikes(spikes, lost, times, cfg, info.fps, places)),
        range=span,
        envelope=motion_envelope(times, energy, info.fps),
        extra={**report.as_extra(), "sensitivity": sensitivity, "threshold": round(cfg.threshold, 4)},
        curve=Curve(tuple(times), tuple(spikes.tolist()), "sudden loss of motion (picture widths/s)", cfg.threshold),
    )


def motion_curve(
    path: str | Path,
    info: VideoInfo,
    span: TimeRange,
    cfg: MotionDetectorConfig = MotionDetectorConfig(),
    progress: Optional[Progress] = None,
    report: Optional[DecodeReport] = None,
    places: Optional[list[tuple[float, float]]] = None,
) -> tuple[list[float], np.ndarray, np.ndarray, list[float]]:
    """Frame times, the impact curve and the raw loss (picture widths per second), and
    the motion energy per frame (for the intensity envelope); ``places`` gets, per frame,
    where (x, y across the picture, 0..1) the most motion was lost.

    ``scores[k]`` measures the change between the motion into frame k and the
    motion out of it, so an impact at frame k shows at ``scores[k]``.
    """
    width, _ = analysis_size(info.width, info.height, cfg.motion.width)
    times: list[float] = []
    scores: list[float] = []
    raws: list[float] = []
    energy: list[float] = []
    matcher: Optional[BlockMatcher] = None
    prev_img: Optional[np.ndarray] = None
    fields: list[MotionField] = []
    expected = max(1, int(span.duration * info.fps))
    where: list[tuple[float, float]] = [] if places is None else places
    for t, img in prefetch(iter_gray_frames(path, span, cfg.motion.width, report)):
        img = normalise(img)
        times.append(t)
        scores.append(0.0)
        raws.append(0.0)
        energy.append(0.0)
        where.append((0.5, 0.5))
        if matcher is None:
            matcher = BlockMatcher(img.shape, cfg.motion)
        if prev_img is not None:
            fields = [*fields[-3:], matcher.field(prev_img, img)]
            energy[-1] = frame_energy(fields[-1]) * info.fps / width
            if len(fields) == 4:
                # fields: motion into frames k-2, k-1, k, k+1 (k+1 is this frame).
                scores[-3], raws[-3], block = _frame_score(fields, cfg, width, info.fps, matcher.limit)
                b = cfg.motion.block
                where[-3] = ((block[1] + 0.5) * b / img.shape[1], (block[0] + 0.5) * b / img.shape[0])
        prev_img = img
        if progress is not None and len(times) % 15 == 0:
            progress(min(1.0, len(times) / expected), "detecting onsets")
    return times, np.array(scores), np.array(raws), energy


def _frame_score(
    fields: list[MotionField], cfg: MotionDetectorConfig, width: int, fps: float, limit: float
) -> tuple[float, float, tuple[int, int]]:
    """(weighted, raw) loss of the frame, in picture widths per second, and the (row,
    column) of the block that lost the most."""
    to_widths = fps / width
    before, prev, cur, after = fields
    lost, raw = deceleration(before, prev, cur, after, cfg.reach, limit)
    speed = magnitude(prev.vectors)
    fast = speed >= max(cfg.noise_floor, cfg.min_speed / to_widths)
    if not fast.any():
        return 0.0, 0.0, (0, 0)
    masked = np.where(fast, lost, -1.0)
    row, col = np.unravel_index(int(np.argmax(masked)), masked.shape)
    return float(lost[fast].max() * to_widths), float(raw[fast].max() * to_widths), (int(row), int(col))


def frame_energy(field: MotionField) -> float:
    """Mean speed of the moving things in a frame (analysis px/frame): how much is
    going on, the picture's stand-in for loudness."""
    speed = magnitude(field.vectors)[field.valid]
    return float(speed.mean()) if speed.size else 0.0


def motion_envelope(times: list[float], energy: list[float], fps: float) -> Optional[Envelope]:
    """Intensity per frame from motion energy (Video-Foley's RMS idea, from picture):
    0..1, compressed (square root) and scaled so the busiest 1% of the clip is 1."""
    if not times:
        return None
    e = np.asarray(energy, dtype=np.float64)
    top = float(np.quantile(e, 0.99)) if e.size else 0.0
    values = np.sqrt(np.clip(e / top, 0.0, 1.0)) if top > 0 else np.zeros_like(e)
    return Envelope(rate=fps, values=tuple(float(round(v, 4)) for v in values), start=times[0])


def impact_spikes(scores: np.ndarray, cfg: MotionDetectorConfig, fps: float) -> np.ndarray:
    """The curve less its running median: smooth deceleration (gravity, braking)
    loses a little motion every frame, an impact loses it all in one."""
    if not len(scores):  # a range shorter than a frame holds no frame to score
        return np.asarray(scores, dtype=np.float64)
    half = max(2, int(round(cfg.baseline * fps / 2)))
    padded = np.pad(scores, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return scores - np.median(windows, axis=1)


def onsets_from_spikes(
    spikes: np.ndarray, lost: np.ndarray, times: list[float], cfg: MotionDetectorConfig, fps: float,
    places: Optional[list[tuple[float, float]]] = None,
) -> list[Onset]:
    """Peaks of the weighted ``spikes`` are onsets; the raw ``lost`` motion times them;
    ``places`` (per frame) says where."""
    if len(times) < 3:
        return []
    gap = max(1, int(round(cfg.min_gap * fps)))
    out = []
    for idx, value in pick_peaks(spikes, cfg.threshold, gap):
        k = int(round(idx))
        idx = _centroid(lost, k)
        t = float(np.interp(idx, np.arange(len(times)), times))
        strength = float(np.clip(np.sqrt(value / cfg.full_strength), 0.05, 1.0))
        confidence = float(np.clip(1.0 - cfg.threshold / value, 0.0, 1.0))
        x, y = places[k] if places is not None and k < len(places) else (None, None)
        out.append(Onset(time=t, strength=strength, confidence=confidence,
                         x=None if x is None else float(np.clip(x, 0.0, 1.0)),
                         y=None if y is None else float(np.clip(y, 0.0, 1.0))))
    return out


def _centroid(lost: np.ndarray, k: int) -> float:
    """Sub-frame time of an impact found at frame k.

    An impact between frames k and k+1 splits the lost motion between them in
    proportion to where it fell (half way: half the motion is lost at each), so the
    centroid of the raw loss over k-1..k+1 is the impact's position in frames.
    """
    lo, hi = max(0, k - 1), min(len(lost), k + 2)
    w = lost[lo:hi]
    total = float(w.sum())
    return float((np.arange(lo, hi) * w).sum() / total) if total > 0 else float(k)
