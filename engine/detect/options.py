"""What a request says about detection: the one definition of the detection fields and defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from syncfoley.core.fields import Fields, option
from syncfoley.engine.models.checkpoints import device_option

DETECTORS = ("auto", "motion", "audio", "neural", "physics")


@dataclass(frozen=True)
class DetectOptions(Fields):
    """Which detector, on what part of the video; copied per request, never changed in place."""

    WHAT = "detection"

    start: Optional[float] = option(None, "num", "analyse from this time (s)")
    end: Optional[float] = option(None, "num", "analyse up to this time (s)")
    detector: str = option("auto", "str", "auto (the sound if there is any, else the onset network if a "
                           "checkpoint is configured, else the picture's physics detector, or on the smallest "
                           "pictures its motion detector), physics (the picture, scored by networks trained on "
                           "physics-engine clips), motion (the picture, by hand-tuned rules), audio, or neural",
                           choices=DETECTORS, metavar="NAME")
    guide: Optional[str] = option(None, "path_in", "production sound to detect onsets in, its time 0 at the "
                                  "video's first frame", metavar="WAV")
    checkpoint: Optional[str] = option(None, "path_in", "SyncFusion onset-network checkpoint (default: "
                                       "$SYNCFOLEY_ONSET_CHECKPOINT)", metavar="CKPT")
    sensitivity: float = option(0.5, "num", "picture detectors: 0..1, higher finds fainter impacts and more false "
                                "ones; 0.5 is the default balance", lo=0.0, hi=1.0, metavar="S")
    motion_weights: Optional[str] = option(None, "path_in", "physics detector: weights from `syncfoley train-motion` "
                                           "(default: $SYNCFOLEY_MOTION_WEIGHTS, else the bundled ones)", metavar="NPZ")
    device: str = device_option()
