"""Onset detection: which detectors exist and how a request picks one."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from .errors import RequestError, one_of
from .media import VideoInfo
from .motion_onsets import detect_motion
from .types import OnsetTrack, TimeRange

Progress = Callable[[float, str], None]

DETECTORS = ("auto", "motion", "audio", "neural")

# A guide track whose loudest moment is below this (dBFS) is taken as silent.
SILENT_DB = -50.0


def check_detector(
    name: str, guide: Optional[str | Path] = None, checkpoint: Optional[str | Path] = None
) -> Optional[Path]:
    """Refuse, before any work, an unknown detector, a guide track that is not
    there, or the neural detector without a checkpoint (or without PyTorch).

    Returns the onset-network checkpoint the request would use (``neural``, or
    ``auto`` with one configured), else None."""
    from .errors import MediaError
    from .checkpoints import import_torch
    from .onset_checkpoint import require_checkpoint, resolve_checkpoint

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


def detect(
    path: str | Path,
    info: VideoInfo,
    span: TimeRange,
    detector: str = "auto",
    guide: Optional[str | Path] = None,
    progress: Optional[Progress] = None,
    checkpoint: Optional[str | Path] = None,
    device: str = "auto",
) -> OnsetTrack:
    """Detect onsets with the named detector.

    ``auto`` uses the sound when there is any (the ``guide`` file if given, else
    the video's own audio stream), because sound places a hit to the millisecond;
    else SyncFusion's onset network when a checkpoint is configured (``checkpoint``
    or $SYNCFOLEY_ONSET_CHECKPOINT); else the motion detector. The track's
    ``detector`` says which ran and ``detector_requested`` what was asked for.
    A guide file's time 0 is the video's first frame.
    """
    from .errors import MediaError
    from .guide import detect_guide

    weights = check_detector(detector, guide, checkpoint)
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
    if weights is not None:
        from .neural_onsets import detect_neural

        track = detect_neural(path, info, span, weights, device=device, progress=progress)
        return track.replace(extra={**track.extra, **extra})
    track = detect_motion(path, info, span, progress=progress)
    return track.replace(extra={**track.extra, **extra})
