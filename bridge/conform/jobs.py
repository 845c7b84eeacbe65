"""One event's work as data: what it depends on (:class:`EventJob`) and what it returns (:class:`EventRender`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from syncfoley.engine.generate.sound import SoundOptions


@dataclass(frozen=True)
class EventJob:
    """Everything one event's Foley depends on; its ``key`` names the cached result.

    Clip time 0 is the clip's first sample; source time ``t0 + tau * speed`` (seconds
    from the media's first frame) is on screen at clip time ``tau``.
    """

    key: str
    media: str
    fps: float
    t0: float
    speed: float
    length: float
    detect: Optional[tuple[float, float]]  # source seconds to analyse; None for a freeze frame
    detector: str
    checkpoint: Optional[str]
    device: str
    sound: SoundOptions  # with the event's own seed
    sample_rate: int


@dataclass
class EventRender:
    """What an event's work returns (and the cache keeps)."""

    onsets: list[tuple[float, float, float]]  # (clip seconds, strength, confidence), hits inside the clip
    regions: list[tuple[float, float, float]]
    audio: np.ndarray
    detector: str
    engine: str
    source_onsets: int  # onsets the detector found in the analysed source range
    curve: Optional[tuple[list[float], list[float], str, float]] = None  # clip seconds, values, label, threshold
    seconds: float = 0.0  # how long the work took when it was computed
    batch: int = 1  # events whose diffusion windows shared the network's batches with this one
    computed_on: str = ""  # the machine, when not this one (a cluster's node)
