"""The requests the CLI, the daemon and the DAW scripts hand to the API, defined once.

Each is a frozen :class:`~syncfoley.core.fields.Fields` dataclass: the detection
fields come from :class:`~syncfoley.engine.detect.options.DetectOptions`, the sound
fields from :class:`~syncfoley.engine.generate.sound.SoundOptions`, conform's from
:class:`~syncfoley.bridge.conform.options.ConformOptions`; only the fields a request
adds of its own (its files, ``overwrite``) are written here. The CLI builds its
options from :meth:`~syncfoley.core.fields.Fields.specs`, the daemon its schema
(:data:`REQUESTS`), and both read a request with ``from_dict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from syncfoley.adapters.edl import RATES
from syncfoley.bridge.conform.options import ConformOptions
from syncfoley.core.fields import Fields, nested, option
from syncfoley.engine.detect.options import DetectOptions
from syncfoley.engine.generate.sound import SEED_MAX, SoundOptions
from syncfoley.engine.models.checkpoints import device_option


def _overwrite() -> bool:
    return option(False, "bool", "replace existing outputs")


@dataclass(frozen=True)
class DetectRequest(Fields):
    WHAT = "detect"

    video: str = option(None, "path_in", "video file", required=True, flags=("video",))
    outdir: Optional[str] = option(None, "path_out", "folder for NAME.onsets.json and .mid (daemon; default: "
                                   "the job's folder)", cli=False)
    detect: DetectOptions = nested(DetectOptions)
    overwrite: bool = _overwrite()


@dataclass(frozen=True)
class GenerateRequest(Fields):
    WHAT = "generate"

    onsets: str = option(None, "path_in", "onsets: .json, .mid or .csv", required=True, metavar="FILE")
    output: Optional[str] = option(None, "path_out", "WAV file to write (48 kHz, 24-bit)", metavar="WAV",
                                   flags=("-o", "--output"))
    start: Optional[float] = option(None, "num", "source time at which the WAV starts (default: the range start)")
    duration: Optional[float] = option(None, "num", "length of the WAV (s); default: the onsets file's range")
    sound: SoundOptions = nested(SoundOptions)
    device: str = device_option()
    overwrite: bool = _overwrite()


@dataclass(frozen=True)
class RunRequest(Fields):
    WHAT = "run"

    video: str = option(None, "path_in", "video file", required=True, flags=("video",))
    outdir: Optional[str] = option(None, "path_out", "folder for the four outputs (default: here; the daemon: "
                                   "the job's folder)", flags=("-o", "--outdir"))
    detect: DetectOptions = nested(DetectOptions)
    sound: SoundOptions = nested(SoundOptions)
    overwrite: bool = _overwrite()


@dataclass(frozen=True)
class ConformRequest(Fields):
    WHAT = "conform"

    timeline: str = option(None, "path_in", "the cut: .edl (CMX 3600), .otio, .otioz, .xml (FCP 7) or .fcpxml",
                           required=True, flags=("timeline",))
    media_root: tuple[str, ...] = option((), "paths_in", "folder to find the source media in, by file name, "
                                         "clip name or reel (repeat)", metavar="DIR")
    outdir: Optional[str] = option(None, "path_out", "folder for foley.otio, foley.edl, foley_stem.wav, clips/, "
                                   "onsets/ and report.html", flags=("-o", "--outdir"))
    cache: Optional[str] = option(None, "path_out", "finished events are kept here for re-conforms (default "
                                  "~/.cache/syncfoley/conform; the daemon: its workdir)", metavar="DIR")
    dry_run: bool = option(False, "bool", "list what would be computed, reused or skipped; write nothing")
    options: ConformOptions = nested(ConformOptions)
    overwrite: bool = _overwrite()


@dataclass(frozen=True)
class DemoRequest(Fields):
    """``syncfoley demo``: a cut with known impacts to try conform on (not a daemon request)."""

    WHAT = "demo"

    outdir: str = option(None, "path_out", "folder for media/, cut.edl and truth.onsets.json", required=True,
                         flags=("outdir",))
    rate: str = option("25", "str", "frame rate of the cut", choices=tuple(RATES), metavar="FPS")
    events: int = option(12, "int", "events in the cut", lo=1, hi=500)
    seed: int = option(0, "int", "random seed of the scenes and the cut", lo=0, hi=SEED_MAX)
    overwrite: bool = option(False, "bool", "replace a demo written before")


# The daemon's work requests: OSC address name -> request type.
REQUESTS: dict[str, type[Fields]] = {
    "detect": DetectRequest, "generate": GenerateRequest, "run": RunRequest, "conform": ConformRequest,
}
