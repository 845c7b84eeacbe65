"""How to conform: the one definition of conform's own fields, with the sound and detector it uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from syncfoley.adapters.edl import RATES
from syncfoley.core.fields import Fields, nested, option
from syncfoley.engine.detect.options import DETECTORS
from syncfoley.engine.generate.sound import SoundOptions
from syncfoley.engine.models.checkpoints import device_option


@dataclass(frozen=True)
class ConformOptions(Fields):
    """How to conform; copied per request, never changed in place."""

    WHAT = "conform"

    # Frames of extra Foley before and after each event, so a trim does not cut a hit.
    handles: int = option(12, "int", "frames of Foley beyond each cut", lo=0, hi=600)
    rate: Optional[str] = option(None, "str", "the cut's frame rate when the list does not say",
                                 choices=tuple(RATES), metavar="FPS")
    detector: str = option("auto", "str", "auto (production sound if any, else the onset network if configured, "
                           "else motion), motion, audio or neural", choices=DETECTORS, metavar="NAME")
    checkpoint: Optional[str] = option(None, "path_in", "SyncFusion onset-network checkpoint (default: "
                                       "$SYNCFOLEY_ONSET_CHECKPOINT)", metavar="CKPT")
    device: str = device_option()
    sound: SoundOptions = nested(SoundOptions)
    sample_rate: int = 48000  # of the stem and clips; not a request field
