"""The physics detector: impacts in the picture as sudden losses of velocity, scored by a
network trained on clips rendered by a physics engine (``--detector physics``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from syncfoley.core.progress import Progress
from syncfoley.engine.detect.flow_field import FlowConfig, FlowMatcher
from syncfoley.engine.detect.motion import frame_energy, motion_envelope
from syncfoley.engine.detect.motion_features import FeatureStream, FrameFeatures
from syncfoley.engine.detect.peaks import pick_peaks, vertex_offset
from syncfoley.engine.detect.place_peaks import EVEN, LOST, PlacePeak, place_logits, place_peaks, strong_blocks
from syncfoley.engine.media.video import DecodeReport, VideoInfo, analysis_size, decoder_threads, iter_frames, prefetch
from syncfoley.engine.types import Curve, Onset, OnsetTrack, TimeRange


@dataclass(frozen=True)
class PhysicsDetectorConfig:
    """Settings of the physics detector. The shipped weights were trained with these, the
    block search (``motion.search_radius``, :mod:`~syncfoley.engine.detect.block_search`)
    included: a network sees the motion it learnt only with the settings it learnt on."""

    motion: FlowConfig = field(default_factory=FlowConfig)
    # Blocks this far apart (in blocks) are searched for motion that carried on.
    reach: int = 2
    # Closest two onsets may be, in seconds (two objects landing 60 ms apart are two hits).
    min_gap: float = 0.05


@dataclass
class MotionAnalysis:
    """Per analysed frame: its time, the calibrated impact probability, where (x, y across
    the picture) and how much velocity the most likely block lost (picture widths per
    second), and the motion energy (for the intensity envelope). For the onset verifier:
    each frame's best block logit (``UNSCORED`` where it has none) and, for the frames
    that may be candidates, their summary (:func:`~syncfoley.engine.detect.onset_verifier.frame_summary`),
    their strong blocks, for impacts at a second place
    (:func:`~syncfoley.engine.detect.place_peaks.strong_blocks`; lost velocity in picture widths per second),
    and where the scorer has a picture check, what it sees there
    (:mod:`~syncfoley.engine.detect.picture_check`)."""

    times: list[float]
    probability: np.ndarray
    where: np.ndarray
    lost: np.ndarray
    energy: list[float]
    logit: np.ndarray = field(default_factory=lambda: np.zeros(0))
    summaries: dict[int, np.ndarray] = field(default_factory=dict)
    blocks: dict[int, np.ndarray] = field(default_factory=dict)
    # The picture check's probability of each frame that may be a candidate (where the scorer has one).
    pictures: dict[int, float] = field(default_factory=dict)


# Pictures narrower than this are analysed scaled up to the analysis width. The networks learnt
# speeds and 16-pixel blocks on pictures analysed 480-512 across: a proxy 320 across, analysed
# as it is, moves 0.6 times the pixels a frame and lost a quarter of its impacts (RULE26). At
# 480 across the threshold below cost more impacts than it saved false onsets (RULE28), so
# those are analysed as they are (RULE29).
UPSCALE_BELOW = 480

# Log-odds added to the onset threshold of a picture analysed scaled up (narrower than
# UPSCALE_BELOW): scaled up, a small picture's impacts are found as well as at full size, but
# so is motion that is not an impact (RULE26: 11 onsets on smooth-only 320-wide copies against
# 7 on their originals). RULE28 chose, on selection copies 320 across, the threshold 0.65 where
# the shipped weights' own is 0.425; as log-odds, so every sensitivity moves with it.
UPSCALED_SHIFT = math.log(0.65 / 0.35) - math.log(0.425 / 0.575)


def analysed_size(info: VideoInfo, cfg: PhysicsDetectorConfig) -> tuple[int, int]:
    """The (width, height) the physics detector analyses ``info``'s picture at."""
    return analysis_size(info.width, info.height, cfg.motion.width, UPSCALE_BELOW)


def upscaled_threshold(threshold: float) -> float:
    """The onset threshold for a picture analysed scaled up, from the one for full-size pictures."""
    from scipy.special import expit, logit

    return float(expit(logit(threshold) + UPSCALED_SHIFT))


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
    whole = analyse_physics(path, info, span, scorer, cfg, progress, report)
    threshold = scorer.threshold_for(sensitivity)
    analysed = analysed_size(info, cfg)
    if analysed[0] > info.width:
        threshold = upscaled_threshold(threshold)
    verdicts = verify(whole, scorer, cfg.min_gap, info.fps) if scorer.verifier is not None else None
    # An impact between the selection's last frame and the next is the next selection's.
    seconds = second_places(whole, scorer, threshold, verdicts[0]) if verdicts is not None else []
    onsets = [o for o in pick_onsets(whole, scorer, threshold, cfg.min_gap, info.fps, verdicts, seconds)
              if span.start <= o.time < span.end]
    curve = whole.probability if verdicts is None else verified_curve(whole.probability, *verdicts).copy()
    for peak, p in seconds:
        curve[peak.frame] = max(curve[peak.frame], p)
    analysis = within(whole, span, info.fps, curve)
    return OnsetTrack(
        source=str(path),
        duration=info.duration,
        fps=info.fps,
        detector="physics",
        onsets=tuple(onsets),
        range=span,
        envelope=motion_envelope(analysis.times, analysis.energy, info.fps),
        extra={**report.as_extra(), "sensitivity": sensitivity, "threshold": threshold, "analysed_at": list(analysed),
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
    """Score every frame of ``span`` and of a margin around it with ``scorer``; see
    :func:`detect_physics` (training extracts the same features unscored with
    :func:`physics_features_of`); :func:`within` keeps ``span``'s frames.

    A frame is scored from the motion up to three frames either side of it, and a
    candidate onset is judged with the half second around it, so the frames just outside
    ``span`` are analysed too (where the file has them): an impact in the first or last
    frames of a selection is found as it would be in the middle of the file.
    """
    from syncfoley.engine.detect.motion_features import AFTER, BEFORE
    from syncfoley.engine.detect.onset_verifier import CANDIDATE, CONTEXT, UNSCORED, frame_summary

    margin = (max(BEFORE, AFTER) + 1) / info.fps + (CONTEXT if scorer.verifier is not None else 0.0)
    span = TimeRange(max(0.0, span.start - margin), max(span.end, min(info.duration, span.end + margin)))
    result = MotionAnalysis([], np.zeros(0), np.zeros((0, 2)), np.zeros(0), [])
    prob: list[float] = []
    where: list[tuple[float, float]] = []
    lost: list[float] = []
    logit: list[float] = []

    def score(feat: FrameFeatures) -> None:
        logits = scorer.block_logits(feat.values)
        best = int(np.argmax(logits))
        prob[feat.index] = float(scorer.probability(logits[best]))
        where[feat.index] = (float(feat.where[best, 0]), float(feat.where[best, 1]))
        lost[feat.index] = float(feat.lost[best])
        logit[feat.index] = float(logits[best])
        # Only a peak above CANDIDATE is looked at again: memory stays flat on long files.
        if scorer.verifier is not None and prob[feat.index] >= CANDIDATE:
            result.summaries[feat.index] = frame_summary(logits[None], feat.values[None], feat.where[None],
                                                         feat.lost[None])[0]
            result.blocks[feat.index] = strong_blocks(logits, feat.where, feat.lost,
                                                      scorer.probability(logits) >= CANDIDATE)

    looking = PictureLook(scorer, result, prob, logit, where, info.fps) if scorer.picture is not None else None
    for t, img, feat in _feature_frames(path, info, span, cfg, progress, report, result.energy):
        result.times.append(t)
        prob.append(0.0)
        where.append((0.5, 0.5))
        lost.append(0.0)
        logit.append(UNSCORED)
        if feat is not None:
            score(feat)
        if looking is not None:
            looking.push(img)
    if looking is not None:
        from threadpoolctl import threadpool_limits

        # On one BLAS thread, as every look before it ran beside the decoder: OpenBLAS rounds the
        # convolutions otherwise on two (the same window's probability 2e-9 apart).
        with threadpool_limits(limits=1, user_api="blas"):
            looking.finish()
    width, _ = analysed_size(info, cfg)
    result.probability = np.array(prob)
    result.where = np.array(where, dtype=np.float64).reshape(-1, 2)
    result.lost = np.array(lost) * info.fps / width
    for rows in result.blocks.values():
        rows[:, LOST] *= info.fps / width
    result.logit = np.array(logit)
    return result


class PictureLook:
    """Cuts the picture around every frame that may become a candidate while the frames stream
    past, and keeps what the scorer's picture check sees there (``analysis.pictures``).

    A candidate is a peak of the frame probability above ``CANDIDATE``
    (:func:`candidate_peaks`); every such frame is a local maximum, which is known once the
    next frame is scored, three frames after it arrives. Its window is centred on the frame
    nearest its onset time (:func:`onset_time`: the frame or the next) and reaches ``AFTER``
    frames past that, so the frames of the last ``BEFORE + AFTER + LAG`` are all it needs:
    memory stays flat with the duration. The network runs on those frames only (a few per
    second), never on every frame."""

    LAG = 5  # frames from a candidate to the last frame its look can need

    def __init__(self, scorer, analysis: MotionAnalysis, prob: list[float], logit: list[float],
                 where: list[tuple[float, float]], fps: float) -> None:
        from syncfoley.engine.detect.picture_check import AFTER, BEFORE, FrameRing

        self.scorer, self.analysis, self.fps = scorer, analysis, fps
        self.prob, self.logit, self.where = prob, logit, where
        self.ring = FrameRing(BEFORE + AFTER + self.LAG + 2)
        self.next = 0  # the first frame not yet looked at

    def push(self, img) -> None:
        self.ring.push(img)
        # Frame k's probability and its next frame's are known once frame k + 4 is in.
        while self.next <= self.ring.end - 1 - self.LAG:
            self._look(self.next)
            self.next += 1

    def finish(self) -> None:
        while self.next < self.ring.end:
            self._look(self.next)
            self.next += 1

    def _look(self, k: int) -> None:
        from syncfoley.engine.detect.onset_verifier import CANDIDATE

        p = self.prob
        right = p[k + 1] if k + 1 < len(p) else -np.inf
        if p[k] < CANDIDATE or (k > 0 and p[k] < p[k - 1]) or not p[k] > right or k not in self.analysis.summaries:
            return
        times = self.analysis.times
        t = frame_time(times, k + self.scorer.offset + within_frame(self.logit, k), self.fps)
        near = range(max(0, k - 2), min(len(times), k + 4))
        centre = min(near, key=lambda i: abs(times[i] - t))  # the first of two as near, as argmin takes it
        image = self.ring.frames[-1]
        x, y = np.clip(self.where[k], 0.0, 1.0)
        stack = self.ring.window(centre, float(y) * image.shape[0], float(x) * image.shape[1])
        self.analysis.pictures[k] = self.scorer.picture.probability(stack)


def within(analysis: MotionAnalysis, span: TimeRange, fps: float, probability: np.ndarray) -> MotionAnalysis:
    """The frames of ``analysis`` in ``span``, with ``probability`` as their curve."""
    half_frame = 0.5 / fps
    keep = [i for i, t in enumerate(analysis.times) if span.start - half_frame <= t < span.end]
    return MotionAnalysis([analysis.times[i] for i in keep], probability[keep], analysis.where[keep],
                          analysis.lost[keep], [analysis.energy[i] for i in keep], analysis.logit[keep])


def verified_curve(probability: np.ndarray, peaks: list[int], verified: np.ndarray) -> np.ndarray:
    """The probability curve shown to the user: at each candidate (``peaks``, from
    :func:`verify`), the verifier's probability (what the threshold applies to); elsewhere
    the frame probability, never above its nearest candidate's verdict (a rejected
    candidate's hill stays below the threshold)."""
    if not peaks:
        return probability
    ks = np.array(peaks)
    frames = np.arange(len(probability))
    pos = np.searchsorted(ks, frames)
    lo, hi = np.clip(pos - 1, 0, len(ks) - 1), np.clip(pos, 0, len(ks) - 1)
    nearest = np.where(np.abs(ks[lo] - frames) <= np.abs(ks[hi] - frames), lo, hi)
    curve = np.minimum(probability, verified[nearest])
    curve[ks] = verified
    return curve


def candidate_peaks(analysis: MotionAnalysis, min_gap: float, fps: float) -> list[int]:
    """The frames the onset verifier looks at: peaks of the frame probability above
    ``CANDIDATE``, at least ``min_gap`` s apart."""
    from syncfoley.engine.detect.onset_verifier import CANDIDATE

    gap = max(1, int(round(min_gap * fps)))
    ks = [int(round(i)) for i, _ in pick_peaks(analysis.probability, CANDIDATE, gap)]
    return [k for k in ks if k in analysis.summaries]


def onset_time(analysis: MotionAnalysis, k: int, offset: float, fps: float) -> float:
    """The time of an impact scored at frame ``k``: it happened between frames k and k+1,
    ``offset`` frames on (where it falls on average, measured on the training clips), moved
    by up to half a frame to where the frame logit's peak lies between k's neighbours.

    The neighbours say which side of the frame the impact fell on: on 723 impacts of
    selection clips, 88% of onsets came within half a frame of their impact with the
    move, 71% without (mean error 0.31 frames against 0.43).
    """
    return frame_time(analysis.times, k + offset + within_frame(analysis.logit, k), fps)


def within_frame(logit, k: int) -> float:
    """Where between its neighbours the frame logit's peak at ``k`` lies (-0.5 .. 0.5 frames;
    0 where a neighbour is missing or unscored)."""
    from syncfoley.engine.detect.onset_verifier import UNSCORED

    scored = 0 < k < len(logit) - 1 and min(logit[k - 1], logit[k + 1]) > UNSCORED
    return vertex_offset(np.asarray(logit[k - 1:k + 2], np.float64), 1) if scored else 0.0


def frame_time(times: list[float], at: float, fps: float) -> float:
    """The time at frame position ``at`` (frames may lie unevenly; past the last, ``fps`` on)."""
    return max(0.0, float(np.interp(at, np.arange(len(times)), times,
                                    right=times[-1] + (at - len(times) + 1) / fps)))


def candidate_inputs(analysis: MotionAnalysis, min_gap: float, fps: float) -> tuple[list[int], np.ndarray]:
    """The candidate frames (:func:`candidate_peaks`) and what the verifier reads of each."""
    from syncfoley.engine.detect.onset_verifier import SUMMARY, candidate_features

    ks = candidate_peaks(analysis, min_gap, fps)
    rows = np.array([analysis.summaries[k] for k in ks], np.float32).reshape(len(ks), SUMMARY)
    return ks, candidate_features(analysis.logit, rows, ks, fps)


def verify(analysis: MotionAnalysis, scorer, min_gap: float, fps: float) -> tuple[list[int], np.ndarray]:
    """The candidate frames and the verifier's probability of each, with what the picture check
    sees where the scorer has one."""
    ks, x = candidate_inputs(analysis, min_gap, fps)
    verified = scorer.verifier.probability(x)
    if scorer.picture is None:
        return ks, verified
    unseen = [k for k in ks if k not in analysis.pictures]
    if unseen:  # a fault of the caller's, not of the input: analyse_physics looks at every candidate
        raise ValueError(f"frames {unseen[:5]} were never looked at: the scorer's picture check needs the "
                         "analysis that analyse_physics makes")
    return ks, scorer.picture.confidence(verified, np.array([analysis.pictures[k] for k in ks]))


def physics_features_of(
    path: str | Path, info: VideoInfo, span: TimeRange, cfg: PhysicsDetectorConfig = PhysicsDetectorConfig()
) -> tuple[list[float], list[FrameFeatures]]:
    """Frame times and the features of every frame that can be scored (for training)."""
    times: list[float] = []
    feats: list[FrameFeatures] = []
    for t, _, feat in _feature_frames(path, info, span, cfg, None, None, []):
        times.append(t)
        if feat is not None:
            feats.append(feat)
    return times, feats


# Frames decoded ahead of the analysis, which runs on one thread (OpenCV's flow is told to
# keep to one) while the decoder has the other cores. Neither runs at an even pace (a
# keyframe costs the decoder more, a candidate frame the analysis), and 8 frames between
# them left each waiting on the other. 128 is about 19 MB of 512x288 grey frames (60 MB
# for a picture standing upright), whatever the duration.
AHEAD = 128


def analysis_frames(
    path: str | Path,
    info: VideoInfo,
    span: TimeRange,
    cfg: PhysicsDetectorConfig,
    report: Optional[DecodeReport] = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """``(time, frame)`` of each frame in ``span``, uint8 grey at the size the detector
    analyses (:func:`analysed_size`): the frames its flow is measured on."""
    width, height = analysed_size(info, cfg)
    # Frames are fully decoded. Skipping H.264's deblocking filter on 1080p (a 3.75x downscale
    # here) takes a tenth off detection, but networks trained on deblocked frames then lost
    # 0.02 F1 and gave two more onsets on smooth-only clips (27 validation clips at 1080p).
    # A picture scaled up is given its size; one scaled down keeps iter_frames' own (the same
    # frames, to the bit, as before pictures were ever scaled up).
    scaled_up = width > info.width
    return iter_frames(path, span, width if scaled_up else cfg.motion.width, height if scaled_up else None, "gray",
                       report, decoder_threads())


def _feature_frames(
    path: str | Path,
    info: VideoInfo,
    span: TimeRange,
    cfg: PhysicsDetectorConfig,
    progress: Optional[Progress],
    report: Optional[DecodeReport],
    energy: list[float],
) -> Iterator[tuple[float, np.ndarray, Optional[FrameFeatures]]]:
    """(time of each frame, the frame (analysis grey), features of the frame AFTER (three)
    before it, once there are any).

    The features of frame k need the motion into frames k-2 .. k+3
    (:mod:`~syncfoley.engine.detect.motion_features`), so they arrive with frame k+3; the
    first three frames and the last three get none (nothing to compare them with).
    """
    width = analysed_size(info, cfg)[0]
    matcher: Optional[FlowMatcher] = None
    stream: Optional[FeatureStream] = None
    prev_img: Optional[np.ndarray] = None
    expected = max(1, int(span.duration * info.fps))
    n = 0
    for t, img in prefetch(analysis_frames(path, info, span, cfg, report), AHEAD):
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
        yield t, img, feat
        if progress is not None and n % 15 == 0:
            progress(min(1.0, n / expected), "detecting onsets (physics)")


def pick_onsets(analysis: MotionAnalysis, scorer, threshold: float, min_gap: float, fps: float,
                verdicts: Optional[tuple[list[int], np.ndarray]] = None,
                seconds: Optional[list[tuple[PlacePeak, float]]] = None) -> list[Onset]:
    """The candidates the verifier gives ``threshold`` or more (``verdicts`` from
    :func:`verify`, when already known), and impacts at a second place
    (``seconds`` from :func:`second_places`, when already known); with no verifier, the peaks of the frame probability above
    ``threshold``, at least ``min_gap`` s apart."""
    from syncfoley.engine.detect.onset_verifier import UNSCORED

    times = analysis.times
    if len(times) < 4:
        return []
    out = []
    if scorer.verifier is not None:
        peaks, verified = verdicts if verdicts is not None else verify(analysis, scorer, min_gap, fps)
        chosen = [(float(k), float(v)) for k, v in zip(peaks, verified) if v >= threshold]
        seconds = second_places(analysis, scorer, threshold, peaks) if seconds is None else seconds
    else:
        seconds = []
        chosen = pick_peaks(analysis.probability, threshold, max(1, int(round(min_gap * fps))))
    for idx, value in chosen:
        k = int(round(idx))
        t = onset_time(analysis, k, scorer.offset, fps)
        strength = float(np.clip(np.sqrt(analysis.lost[k] / scorer.full_strength), 0.05, 1.0))
        x, y = analysis.where[k]
        out.append(Onset(time=t, strength=strength, confidence=float(np.clip(value, 0.0, 1.0)),
                         x=float(np.clip(x, 0.0, 1.0)), y=float(np.clip(y, 0.0, 1.0))))
    for peak, p in seconds:
        before, after = place_logits(analysis.blocks, peak.frame, peak.x, peak.y, UNSCORED)
        shift = vertex_offset(np.array([before, peak.logit, after]), 1) if min(before, after) > UNSCORED else 0.0
        t = frame_time(times, peak.frame + scorer.offset + shift, fps)
        # Placed within their frames, two onsets of neighbouring frames can meet: one moment, one onset.
        if any(abs(t - o.time) < 0.25 / fps for o in out):
            continue
        out.append(Onset(time=t,
                         strength=float(np.clip(np.sqrt(peak.lost / scorer.full_strength), 0.05, 1.0)),
                         confidence=float(np.clip(p, 0.0, 1.0)),
                         x=float(np.clip(peak.x, 0.0, 1.0)), y=float(np.clip(peak.y, 0.0, 1.0))))
    return sorted(out, key=lambda o: o.time)


def second_places(analysis: MotionAnalysis, scorer, threshold: float, candidates: list[int]) -> list[tuple[PlacePeak, float]]:
    """Impacts at a second place (:mod:`~syncfoley.engine.detect.place_peaks`) away from the
    verifier's ``candidates``, each with its confidence where that reaches ``threshold``.

    The confidence is the block's calibrated probability moved in log-odds as far as the
    verifier's operating point lies from ``EVEN``: at the scorer's own threshold such a
    peak needs ``EVEN``, and like every other onset it is kept at a threshold exactly when
    its confidence reaches it (so the sensitivity moves both alike, and onsets picked at
    threshold 0 can be thresholded afterwards)."""
    from scipy.special import expit

    if not analysis.blocks:
        return []
    shift = _logit(scorer.threshold) - _logit(EVEN)
    a, b = scorer.calibration
    # The block logit whose confidence is the threshold: weaker blocks need no look.
    floor = (_logit(threshold) - shift - b) / a - 1e-6 if a > 0 and threshold > 0 else -np.inf
    found = place_peaks(analysis.blocks, [(k, float(analysis.where[k][0]), float(analysis.where[k][1]))
                                          for k in candidates], floor)
    # The calibrated probability is expit(a * logit + b): moved by ``shift`` in log-odds.
    confidence = [(peak, float(expit(a * peak.logit + b + shift))) for peak in found]
    return [(peak, c) for peak, c in confidence if c >= threshold]


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return float(np.log(p / (1 - p)))
