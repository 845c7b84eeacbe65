"""Generation: an onset track in, a Foley track out.

The request names the part of the source to render (``start``, ``duration``) and a
timbre: a material preset for the built-in synthesiser, or a folder of the user's
one-shots. Hits are placed at ``onset.time - start``, so the rendered audio lines up
with the range it was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from syncfoley import presets

from .errors import RequestError
from .sampler import load_bank, render_samples
from .synth import render_onsets
from .types import OnsetTrack

Progress = Callable[[float, str], None]

SAMPLE_RATES = (44100, 48000, 88200, 96000)


@dataclass(frozen=True)
class Timbre:
    """What the Foley sounds like: a preset name, or a folder of one-shots (which wins)."""

    preset: str = "wood"
    samples: Optional[str] = None


@dataclass(frozen=True)
class GenerationRequest:
    track: OnsetTrack
    start: float
    duration: float
    timbre: Timbre = Timbre()
    sample_rate: int = 48000
    seed: int = 0

    def validate(self) -> None:
        if not np.isfinite(self.duration) or self.duration <= 0:
            raise RequestError(f"duration must be a positive number of seconds, got {self.duration}")
        if self.duration > 24 * 3600:
            raise RequestError(f"duration {self.duration:g} s is over 24 hours; render a shorter range")
        if not np.isfinite(self.start) or self.start < 0:
            raise RequestError(f"start must be >= 0 s, got {self.start}")
        if self.sample_rate not in SAMPLE_RATES:
            raise RequestError(f"sample rate {self.sample_rate} is not supported; choose one of {SAMPLE_RATES}")


def generate(request: GenerationRequest, progress: Optional[Progress] = None) -> np.ndarray:
    """Render the request: mono float32 samples, ``duration * sample_rate`` long."""
    request.validate()
    onsets = [o for o in request.track.onsets if request.start <= o.time < request.start + request.duration]
    if request.timbre.samples:
        bank = load_bank(request.timbre.samples, request.sample_rate)
        return render_samples(bank, onsets, request.start, request.duration, request.seed, progress=progress)
    preset = presets.load(request.timbre.preset)
    return render_onsets(preset, onsets, request.start, request.duration, request.sample_rate, request.seed, progress)
