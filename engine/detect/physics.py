"""The physics detector: impacts in the picture as sudden losses of velocity, scored by a
network trained on clips rendered by a physics engine (``--detector physics``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from syncfoley.core.progress import Progress
from syncfoley.engine.detect.flow_field import FlowConfig, FlowMatcher
from syncfoley.engine.detect.motion import frame_energy, motion_envelope
from syncfoley.engine.detect.motion_features import FeatureStream, FrameFeatures
from syncfoley.engine.detect.peaks import pick_peaks
from syncfoley.engine.media.video import DecodeReport, VideoInfo, analysis_size, iter_frames, prefetch
from syncfoley.engine.types import Curve, Onset, OnsetTrack, TimeRange


@dataclass(frozen=True)
class PhysicsDetectorConfig:
    """Settings of the physics detector (the shipped weights were trained with these)."""

    motion: FlowConfig = field(default_factory=FlowConfig)
    # Blocks this far apart (in blocks) are searched for motion that carried on.
    reach: int = 2
    # Closest two onsets may be, in seconds (two objects landing 60 ms apart are two hits).
    min_gap: float = 0.05


@dataclass
class MotionAnalysis:
    """Per analysed frame: its time, the calibrated impact probability, where (x, y across
    the picture) and how much velocity the most likely block lost (picture widths per
    second), and the motion energy (for the intensity envelope)."""

    times: list[float]
    probability: np.ndarray
    where: np.ndarray
    lost: np.ndarray
    energy: list[float]


def detect_physics(
    path: str | Path,
    info: VideoInfo,
    span: TimeRange,
    cfg: PhysicsDetectorConfig = PhysicsDetectorConfig(),
    progress: Optional[Progress] = None,
    sensitivity: float = 0.5,
    weights: Optional[str | Path] = None,
) -> OnsetTrack:
    """Detect impacts in the picture: sudden losses of velocity of something moving fast.

    What it measures: block motion with the camera's own motion removed (see
    :mod:`~syncfoley.engine.detect.flow_field`); for every block, its speeds, velocity
    changes and lost motion over six frames around each frame
    (:mod:`~syncfoley.engine.detect.motion_features`); a small network trained on clips
    rendered by a physics engine scores each block as the probability of an impact
    (:mod:`~syncfoley.engine.detect.motion_scorer`). A frame's probability is its most
    likely block's; peaks above the threshold that ``sensitivity`` sets are onsets, at that
    block's place in the picture. ``confidence`` is that calibrated probability;
    ``strength`` follows the velocity lost.
    """
    from syncfoley.engine.detect.motion_scorer import resolve_scorer

    scorer = resolve_scorer(weights)
    report = DecodeReport()
    analysis = analyse_physics(path, info, span, scorer, cfg, progress, report)
    threshold = scorer.threshold_for(sensitivity)
    # An impact between the selection's last frame and the next is the next selection's.
    onsets = [o for o in pick_onsets(analysis, scorer, threshold, cfg.min_gap, info.fps)
              if span.start <= o.time < span.end]
    return OnsetTrack(
        source=str(path),
        duration=info.duration,
        fps=info.fps,
        detector="physics",
        onsets=tuple(onsets),
        range=span,
        envelope=motion_envelope(analysis.times, analysis.energy, info.fps),
        extra={**report.as_extra(), "sensitivity": sensitivity, "threshold": round(threshold, 4),
               "motion_weights": scorer.source},
        curve=Curve(tuple(analysis.times), tuple(float(round(p, 4)) for p in analysis.probability),
                    "impact probability", threshold),
    )


def analyse_physics(
    path: str | Path,
    info: VideoInfo,
    span: TimeRange,
    scorer,
    cfg: PhysicsDetectorConfig = PhysicsDetectorConfig(),
    progress: Optional[Progress] = None,
    report: Optional[DecodeReport] = None,
) -> MotionAnalysis:
    """Score every frame of ``span`` with ``scorer``; see :func:`detect_physics` (training
    extracts the same features unscored with :func:`physics_features_of`).

    A frame is scored from the motion up to three frames either side of it, so the frames
    just outside ``span`` are decoded too (where the file has them): an impact in the
    first or last frames of a selection is found as it would be in the middle of the file.
    """
    from syncfoley.engine.detect.motion_features import AFTER, BEFORE

    margin = (max(BEFORE, AFTER) + 1) / info.fps
    inner = span
    span = TimeRange(max(0.0, span.start - margin), max(span.end, min(info.duration, span.end + margin)))
    result = MotionAnalysis([], np.zeros(0), np.zeros((0, 2)), np.zeros(0), [])
    prob: list[float] = []
    where: list[tuple[float, float]] = []
    lost: list[float] = []

    def score(feat: FrameFeatures) -> None:
        logits = scorer.block_logits(feat.values)
        best = int(np.argmax(logits))
        prob[feat.index] = float(scorer.probability(logits[best]))
        where[feat.index] = (float(feat.where[best, 0]), float(feat.where[best, 1]))
        lost[feat.index] = float(feat.lost[best])

    for t, feat in _feature_frames(path, info, span, cfg, progress, report, result.energy):
        result.times.append(t)
        prob.append(0.0)
        where.append((0.5, 0.5))
        lost.append(0.0)
        if feat is not None:
            score(feat)
    width, _ = analysis_size(info.width, info.height, cfg.motion.width)
    half_frame = 0.5 / info.fps
    keep = [i for i, t in enumerate(result.times) if inner.start - half_frame <= t < inner.end]
    result.times = [result.times[i] for i in keep]
    result.energy = [result.energy[i] for i in keep]
    result.probability = np.array(prob)[keep]
    result.where = np.array(where, dtype=np.float64).reshape(-1, 2)[keep]
    result.lost = np.array(lost)[keep] * info.fps / width
    return result


def physics_features_of(
    path: str | Path, info: VideoInfo, span: TimeRange, cfg: PhysicsDetectorConfig = PhysicsDetectorConfig()
) -> tuple[list[float], list[FrameFeatures]]:
    """Frame times and the features of every frame that can be scored (for training)."""
    times: list[float] = []
    feats: list[FrameFeatures] = []
    for t, feat in _feature_frames(path, info, span, cfg, None, None, []):
        times.append(t)
        if feat is not None:
            feats.append(feat)
    return times, feats


def _feature_frames(
    path: str | Path,
    info: VideoInfo,
    span: TimeRange,
    cfg: PhysicsDetectorConfig,
    progress: Optional[Progress],
    report: Optional[DecodeReport],
    energy: list[float],
) -> Iterator[tuple[float, Optional[FrameFeatures]]]:
    """(time of each frame, features of the frame AFTER (three) before it, once there are any).

    The features of frame k need the motion into frames k-2 .. k+3
    (:mod:`~syncfoley.engine.detect.motion_features`), so they arrive with frame k+3; the
    first three frames and the last three get none (nothing to compare them with).
    """
    width, _ = analysis_size(info.width, info.height, cfg.motion.width)
    matcher: Optional[FlowMatcher] = None
    stream: Optional[FeatureStream] = None
    prev_img: Optional[np.ndarray] = None
    expected = max(1, int(span.duration * info.fps))
    n = 0
    for t, img in prefetch(iter_frames(path, span, cfg.motion.width, None, "gray", report)):
        energy.append(0.0)
        feat = None
        if matcher is None:
            matcher = FlowMatcher(img.shape, cfg.motion)
            stream = FeatureStream((matcher.rows, matcher.cols), cfg.motion.block, (img.shape[1], img.shape[0]),
                                   info.fps, cfg.reach, matcher.limit)
        if prev_img is not None and stream is not None:
            motion = matcher.field(prev_img, img)
            energy[-1] = frame_energy(motion) * info.fps / width
            feat = stream.push(motion)
        prev_img = img
        n += 1
        yield t, feat
        if progress is not None and n % 15 == 0:
            progress(min(1.0, n / expected), "detecting onsets (physics)")


def pick_onsets(analysis: MotionAnalysis, scorer, threshold: float, min_gap: float, fps: float) -> list[Onset]:
    """Peaks of the frame probability above ``threshold``, at least ``min_gap`` s apart."""
    times = analysis.times
    if len(times) < 4:
        return []
    gap = max(1, int(round(min_gap * fps)))
    out = []
    for idx, value in pick_peaks(analysis.probability, threshold, gap):
        k = int(round(idx))
        # The scored frame k holds an impact between frames k and k+1; ``offset`` (frames)
        # is where it falls on average, measured on the validation clips.
        t = float(np.interp(k + scorer.offset, np.arange(len(times)), times,
                            right=times[-1] + (k + scorer.offset - len(times) + 1) / fps))
        strength = float(np.clip(np.sqrt(analysis.lost[k] / scorer.full_strength), 0.05, 1.0))
        x, y = analysis.where[k]
        out.append(Onset(time=max(0.0, t), strength=strength, confidence=float(np.clip(value, 0.0, 1.0)),
                         x=float(np.clip(x, 0.0, 1.0)), y=float(np.clip(y, 0.0, 1.0))))
    return out
