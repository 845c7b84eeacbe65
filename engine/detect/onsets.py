"""Onset detection: which detectors exist and how a request picks one."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from syncfoley.core.errors import RequestError, one_of
from syncfoley.core.progress import Progress
from syncfoley.engine.detect.motion import detect_motion
from syncfoley.engine.detect.options import DETECTORS, DetectOptions
from syncfoley.engine.media.video import MIN_ANALYSIS, VideoInfo
from syncfoley.engine.types import OnsetTrack, TimeRange

# A guide track whose loudest moment is below this (dBFS) is taken as silent.
SILENT_DB = -50.0


def check_detector(
    name: str, guide: Optional[str | Path] = None, checkpoint: Optional[str | Path] = None
) -> Optional[Path]:
    """Refuse, before any work, an unknown detector, a guide track that is not
    there, or the neural detector without a checkpoint (or without PyTorch).

    Returns the onset-network checkpoint the request would use (``neural``, or
    ``auto`` with one configured), else None."""
    from syncfoley.core.errors import MediaError
    from syncfoley.engine.detect.onset_checkpoint import require_checkpoint, resolve_checkpoint
    from syncfoley.engine.models.checkpoints import import_torch

    if name not in DETECTORS:
        raise RequestError(f"unknown detector {name!r}; choose {one_of(DETECTORS)}")
    if guide is not None and not Path(guide).is_file():
        raise MediaError(f"no such guide track: {guide}")
    weights = None
    if name == "neural":
        weights = require_checkpoint(checkpoint)
    elif name == "auto":
        weights = resolve_checkpoint(checkpoint)
    if weights is not None:
        import_torch()
    return weights


# Narrowest picture ``auto`` gives the physics detector; a narrower one goes to the motion
# detector. Since pictures under 480 across are scaled up for the physics detector (RULE29),
# it is far ahead down to 160 across: on copies of 160 validation clips (val5) scaled down,
# F1 within 0.1 s 0.79 against the motion detector's 0.35 at 160 across, 0.81 against 0.33
# at 192, with 4 and 5 onsets on the smooth-only copies against 106 and 133 (RULE30,
# 2026-12-06; README, "Small pictures"). Nothing narrower was measured, so there the
# motion detector stays.
PHYSICS_MIN_WIDTH = 160


def picture_detector(detector: str, info: VideoInfo) -> str:
    """The picture detector a request runs when it runs one: ``physics`` or ``motion`` as
    asked, and for ``auto`` the physics detector, unless the picture is narrower than
    ``PHYSICS_MIN_WIDTH``, where the motion detector finds more."""
    if detector == "auto":
        return "physics" if info.width >= PHYSICS_MIN_WIDTH else "motion"
    return detector


# Smallest picture the picture detectors analyse: two of their 16-pixel blocks across, and
# no fewer rows than analysis keeps (see analysis_size).
MIN_PICTURE = MIN_ANALYSIS


def detect(
    path: str | Path,
    info: VideoInfo,
    span: TimeRange,
    detector: str = "auto",
    guide: Optional[str | Path] = None,
    progress: Optional[Progress] = None,
    checkpoint: Optional[str | Path] = None,
    device: str = "auto",
    sensitivity: float = 0.5,
    motion_weights: Optional[str | Path] = None,
) -> OnsetTrack:
    """Detect onsets with the named detector.

    ``auto`` uses the sound when there is any (the ``guide`` file if given, else
    the video's own audio stream), because sound places a hit to the millisecond;
    else SyncFusion's onset network when a checkpoint is configured (``checkpoint``
    or $SYNCFOLEY_ONSET_CHECKPOINT); else the picture's (:func:`picture_detector`). The track's
    ``detector`` says which ran and ``detector_requested`` what was asked for.
    A guide file's time 0 is the video's first frame.
    """
    from syncfoley.core.errors import MediaError
    from syncfoley.engine.detect.audio import detect_guide

    weights = check_detector(detector, guide, checkpoint)
    if picture_detector(detector, info) == "physics":
        from syncfoley.engine.detect.motion_scorer import resolve_scorer

        resolve_scorer(motion_weights)  # a wrong weights file is refused before any decoding
    sound = Path(guide) if guide is not None else (Path(path) if info.has_audio else None)
    if detector == "audio" and sound is None:
        raise MediaError(f"{path} has no audio stream; give a guide track (--guide WAV) or use --detector motion")
    extra: dict[str, object] = {"detector_requested": detector}
    if guide is not None:
        extra["guide"] = str(guide)
    if detector in ("audio", "auto") and sound is not None:
        result = detect_guide(sound, span, progress=progress)
        if detector == "audio" or result.peak_db > SILENT_DB:
            return OnsetTrack(
                source=str(path), duration=info.duration, fps=info.fps, detector="audio",
                onsets=result.onsets, range=span, extra=extra, curve=result.curve, envelope=result.envelope,
                regions=result.regions,
            )
        extra["guide_silent_db"] = round(result.peak_db, 1)
    if info.width < MIN_PICTURE or info.height < MIN_PICTURE:
        raise MediaError(f"{path} is {info.width}x{info.height} pixels; the picture detectors need at least "
                         f"{MIN_PICTURE}x{MIN_PICTURE} (with a guide track, --detector audio --guide WAV)")
    if weights is not None:
        from syncfoley.engine.detect.neural import detect_neural

        track = detect_neural(path, info, span, weights, device=device, progress=progress)
        return track.replace(extra={**track.extra, **extra})
    if picture_detector(detector, info) == "physics":
        from syncfoley.engine.detect.physics import detect_physics

        track = detect_physics(path, info, span, progress=progress, sensitivity=sensitivity, weights=motion_weights)
    else:
        track = detect_motion(path, info, span, progress=progress, sensitivity=sensitivity)
    return track.replace(extra={**track.extra, **extra})


def detect_file(path: str | Path, options: DetectOptions, progress: Optional[Progress] = None) -> OnsetTrack:
    """Detect onsets in a video file as ``options`` say: the file probed, the range checked
    against it, then :func:`detect` (which checks the detector's inputs once)."""
    from syncfoley.engine.media.video import check_range, probe

    info = probe(path)
    span = check_range(info, options.start, options.end)
    return detect(path, info, span, detector=options.detector, guide=options.guide, progress=progress,
                  checkpoint=options.checkpoint, device=options.device, sensitivity=options.sensitivity,
                  motion_weights=options.motion_weights)
