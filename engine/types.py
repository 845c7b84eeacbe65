"""The data that flows through syncfoley, defined once.

All times are seconds (``float``) measured from the first frame of the source
file as a player shows it. Frame and timecode arithmetic lives in the adapters.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from syncfoley.core.errors import FormatError

ONSETS_SCHEMA = "syncfoley.onsets/1"


@dataclass(frozen=True)
class Onset:
    """One action onset: when, how hard (0..1), how sure the detector is (0..1), and
    where in the picture it happened (``x``, ``y`` across it, 0..1 from the top left;
    None when the detector cannot tell, as from sound)."""

    time: float
    strength: float = 1.0
    confidence: float = 1.0
    x: Optional[float] = None
    y: Optional[float] = None

    def __post_init__(self) -> None:
        for name in ("time", "strength", "confidence", "x", "y"):
            value = getattr(self, name)
            if value is None and name in ("x", "y"):
                continue
            if not isinstance(value, (int, float)) or value != value:
                raise FormatError(f"onset {name} must be a number, got {value!r}")
        if not 0 <= self.time < math.inf:
            raise FormatError(f"onset time must be a finite number of seconds >= 0, got {self.time}")
        for name in ("strength", "confidence", "x", "y"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise FormatError(f"onset {name} must be within 0..1, got {value}")

    def label(self, index: int) -> str:
        """A marker's name for the ``index``-th onset (from 1): see :func:`onset_label`."""
        return onset_label(index, self.confidence)


def onset_label(index: int, confidence: float) -> str:
    """A marker's name for the ``index``-th onset (from 1), with its confidence: after a run at a
    high sensitivity, where many onsets are doubtful, the DAW's marker list shows which."""
    return f"onset {index} (conf {confidence:.2f})"


@dataclass(frozen=True)
class Region:
    """A continuous-contact region (scrape, rub, roll) from ``start`` to ``end``."""

    start: float
    end: float
    strength: float = 1.0

    def __post_init__(self) -> None:
        # A file's regions reach the renderer as they are: an end of 1e308 s was a sample
        # count no integer holds, a NaN a region that is everywhere and nowhere.
        for name in ("start", "end", "strength"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise FormatError(f"region {name} must be a finite number, got {value!r}")
        if not 0 <= self.start <= self.end:
            raise FormatError(f"a region runs from a start to a later end, both >= 0 s; got {self.start} to {self.end}")
        if not 0.0 <= self.strength <= 1.0:
            raise FormatError(f"region strength must be within 0..1, got {self.strength}")


@dataclass(frozen=True)
class Envelope:
    """An intensity curve, 0..1: ``values[i]`` is the intensity at ``start + i / rate`` s."""

    rate: float
    values: tuple[float, ...]
    start: float = 0.0

    def __post_init__(self) -> None:
        # A NaN rate made every hit silent without a word: a file's envelope is checked here.
        if not isinstance(self.rate, (int, float)) or not 0.0 < self.rate < math.inf:
            raise FormatError(f"envelope rate must be a finite number of values per second above 0, got {self.rate!r}")
        if not isinstance(self.start, (int, float)) or not math.isfinite(self.start):
            raise FormatError(f"envelope start must be a finite number of seconds, got {self.start!r}")
        bad = next((v for v in self.values if not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0)), None)
        if bad is not None:
            raise FormatError(f"envelope values are intensities within 0..1, got {bad!r}")

    def at(self, t: float) -> float:
        """Intensity at time ``t`` (linear between samples, held at the ends)."""
        import numpy as np

        if not self.values:
            return 0.0
        return float(np.interp((t - self.start) * self.rate, np.arange(len(self.values)), self.values))


@dataclass(frozen=True)
class Curve:
    """A detector's evidence over time, for plotting: ``values`` at ``times`` (s),
    with the ``threshold`` that peaks had to pass, in the same units."""

    times: tuple[float, ...]
    values: tuple[float, ...]
    label: str
    threshold: float = 0.0


@dataclass(frozen=True)
class TimeRange:
    """A half-open span ``[start, end)`` of a source file, in seconds."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class OnsetTrack:
    """What detection returns, what MIDI/markers/JSON encode, what generation consumes.

    ``range`` is the part of the source that was analysed (the whole file when
    no range was asked for); onset times stay absolute in the source file.
    """

    source: str
    duration: float
    fps: float
    detector: str
    onsets: tuple[Onset, ...]
    range: Optional[TimeRange] = None
    regions: tuple[Region, ...] = ()
    envelope: Optional[Envelope] = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    # The detector's curve, for plots; never written to onset files.
    curve: Optional[Curve] = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.onsets, key=lambda o: o.time))
        if ordered != self.onsets:
            object.__setattr__(self, "onsets", ordered)

    @property
    def span(self) -> TimeRange:
        """The analysed range, or the whole file."""
        return self.range if self.range is not None else TimeRange(0.0, self.duration)

    def times(self) -> list[float]:
        return [o.time for o in self.onsets]

    def replace(self, **changes: Any) -> "OnsetTrack":
        return dataclasses.replace(self, **changes)
