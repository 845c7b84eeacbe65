"""The syncfoley Python API: one place for every job. The CLI and the daemon call these.

Typical use::

    from syncfoley.bridge import api
    result = api.run("clip.mp4", "out/", preset="metal")
    print(result.foley_wav, len(result.track.onsets))

All times are seconds from the first frame of the source. Errors a user can cause
are :class:`~syncfoley.core.errors.SyncfoleyError` subclasses with a stable code.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, TypeVar

import numpy as np

from syncfoley.adapters import bwf, markers_csv, midi, onsets_json, otio_timeline, wav
from syncfoley.bridge.conform.cache import ConformCache, default_cache_dir
from syncfoley.bridge.conform.options import ConformOptions
from syncfoley.bridge.conform.outputs import ConformResult, check_outputs
from syncfoley.bridge.conform.outputs import write as write_conform
from syncfoley.bridge.conform.plan import ConformPlan, plan
from syncfoley.bridge.conform.render import Executor, execute, serial_executor
from syncfoley.core.atomic import check_writable, output_set
from syncfoley.core.errors import FieldError, FormatError, RequestError, one_of
from syncfoley.core.fence import check_write
from syncfoley.core.fields import Fields
from syncfoley.core.progress import Cancel, Progress, stage
from syncfoley.engine.detect.motion_training import (
    MotionTrainConfig,
    MotionTrainResult,
    MotionTuneResult,
    train_motion,
    tune_motion,
)
from syncfoley.engine.detect.onset_training import TrainConfig, TrainResult, train_onset
from syncfoley.engine.detect.onsets import check_detector, detect_file
from syncfoley.engine.detect.onsets import detect as detect_onsets
from syncfoley.engine.detect.options import DetectOptions
from syncfoley.engine.evaluate.protocol import OnsetScores
from syncfoley.engine.generate.diffusion import DiffusionOptions
from syncfoley.engine.generate.render import GenerationRequest, Rendered, Timbre
from syncfoley.engine.generate.sound import SoundOptions
from syncfoley.engine.media import video as media
from syncfoley.engine.types import OnsetTrack

# train_onset (with TrainConfig, TrainResult), train_motion (MotionTrainConfig, MotionTrainResult)
# and tune_motion (MotionTuneResult) are the engine's own: see syncfoley.engine.detect.onset_training and .motion_training for the
# data layout and the recipes.
__all__ = [
    "ConformOptions", "ConformPlan", "ConformResult", "DetectOptions", "DiffusionOptions", "GenerationRequest",
    "MotionTrainConfig", "MotionTrainResult", "MotionTuneResult", "OnsetScores", "OnsetTrack", "Rendered", "RunResult",
    "SoundOptions", "Timbre", "TrainConfig", "TrainResult",
    "check_request", "check_timbre", "conform", "conform_plan", "demo", "detect", "embed", "evaluate", "generate",
    "generation_request", "load_onsets", "onset_format", "render", "run", "run_outputs", "save_onsets",
    "train_motion", "train_onset", "tune_motion", "write_wav",
]

ONSET_FORMATS = {".json": "json", ".mid": "midi", ".midi": "midi", ".csv": "csv"}
SAMPLE_RATE = 48000

if TYPE_CHECKING:
    from syncfoley.bridge.demo import DemoFiles

F = TypeVar("F", bound=Fields)


def _options(cls: type[F], given: Optional[F], fields: dict[str, Any]) -> F:
    """``given`` (or the defaults) with keyword ``fields`` on top, each checked."""
    base = given if given is not None else cls()
    return base.replace(**fields) if fields else base


def onset_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in ONSET_FORMATS:
        raise RequestError(f"cannot tell the onsets format of {path}; use a name ending in {one_of(sorted(ONSET_FORMATS))}")
    return ONSET_FORMATS[suffix]


def detect(video: str | Path, options: Optional[DetectOptions] = None, *, progress: Optional[Progress] = None,
           **fields: Any) -> OnsetTrack:
    """Detect action onsets in ``video`` (optionally only in ``[start, end)``).

    ``options`` (or keyword fields of :class:`DetectOptions` on top of them):
    ``detector`` is ``auto`` (the sound when there is any; else the onset network
    when a checkpoint is configured; else the picture's physics detector, or on a
    picture under 224 pixels across its motion detector), ``physics``, ``motion``,
    ``audio`` or ``neural``; ``sensitivity`` (0..1) trades the picture detectors'
    recall for precision; ``guide`` is a WAV to use as the sound instead of the
    video's own, its time 0 at the video's first frame. ``checkpoint`` is
    SyncFusion's onset-network checkpoint (default: $SYNCFOLEY_ONSET_CHECKPOINT),
    run on ``device`` (``auto``: CUDA when there is one).
    """
    return detect_file(video, _options(DetectOptions, options, fields), progress)


def save_onsets(track: OnsetTrack, path: str | Path, *, overwrite: bool = False, note: int = 60) -> Path:
    """Write onsets as JSON, MIDI or CSV, chosen by the file's extension."""
    kind = onset_format(path)
    if kind == "json":
        return onsets_json.write(track, path, overwrite)
    if kind == "midi":
        return midi.write(track, path, note=note, overwrite=overwrite)
    return markers_csv.write(track, path, overwrite)


def load_onsets(path: str | Path) -> OnsetTrack:
    """Read onsets from JSON, MIDI (notes, else markers) or a marker CSV."""
    from syncfoley.core.fence import check_read

    kind = onset_format(path)
    if not Path(path).is_file():
        raise FormatError(f"no such onsets file: {path}")
    check_read(path, "onsets file")
    if kind == "json":
        return onsets_json.read(path)
    if kind == "midi":
        return midi.read(path)
    return markers_csv.read(path)


def generation_request(
    track: OnsetTrack,
    *,
    start: Optional[float] = None,
    duration: Optional[float] = None,
    sound: Optional[SoundOptions] = None,
    sample_rate: int = SAMPLE_RATE,
    device: Optional[str] = None,
    diffusion: Optional[DiffusionOptions] = None,
    **fields: Any,
) -> GenerationRequest:
    """Build and check a request; ``start``/``duration`` default to the track's analysed range.

    The sound is ``sound`` (or :class:`SoundOptions`' defaults) with keyword sound
    fields on top: ``engine`` is ``auto`` (diffusion when a diffusion checkpoint is
    configured, in ``diffusion_checkpoint`` or $SYNCFOLEY_DIFFUSION_CHECKPOINT; else
    builtin), ``builtin`` or ``diffusion``. The timbre is the preset, unless
    ``samples`` (a folder of one-shots), ``reference`` (a recording), ``text`` or
    ``embedding`` (a CLAP vector, .npy) is given. ``diffusion``, when given, is the
    diffusion engine's full sampling options, used as they are.
    """
    opts = _options(SoundOptions, sound, fields)
    span = track.range
    begin = start if start is not None else (span.start if span is not None else 0.0)
    if duration is None:
        if span is not None:
            duration = span.end - begin
        elif track.duration > 0 and track.detector not in ("midi", "markers"):
            duration = track.duration - begin
        else:
            raise RequestError("give --duration: this onsets file does not say how long the audio must be")
    req = GenerationRequest.of(track, begin, duration, opts, sample_rate=sample_rate, diffusion=diffusion,
                               **({"device": device} if device is not None else {}))
    req.validate()
    return req


def check_request(request: GenerationRequest) -> str:
    """Fail early on anything a render would fail on (preset, samples, reference, checkpoint...);
    returns the engine that will run."""
    from syncfoley.engine.generate.render import check_request as _check

    return _check(request)


def check_timbre(timbre: Timbre, sample_rate: int = SAMPLE_RATE) -> None:
    """Fail early on an unknown preset or an unusable samples folder or reference (built-in engine)."""
    from syncfoley.engine.generate.render import check_builtin_timbre

    check_builtin_timbre(timbre, sample_rate)


def render(request: GenerationRequest, progress: Optional[Progress] = None,
           cancel: Optional[Cancel] = None) -> Rendered:
    """Render a Foley track and say which engine made it (and with what)."""
    from syncfoley.engine.generate.render import render as _render

    return _render(request, progress, cancel)


def generate(request: GenerationRequest, progress: Optional[Progress] = None,
             cancel: Optional[Cancel] = None) -> np.ndarray:
    """Render a Foley track: float32 at ``request.sample_rate``, (N,) mono or (N, 2) stereo."""
    return render(request, progress, cancel).audio


def embed(
    output: str | Path,
    *,
    reference: Optional[str | Path] = None,
    text: Optional[str] = None,
    clap: Optional[str | Path] = None,
    diffusion_checkpoint: Optional[str | Path] = None,
    device: str = "auto",
    overwrite: bool = False,
    clap_tokenizer: Optional[str | Path] = None,
) -> Path:
    """Write the 512-d CLAP embedding of a reference recording or a text prompt to ``output`` (.npy).

    CLAP's weights: the diffusion checkpoint's ``clap.*`` entries when it has them,
    else ``clap`` / $SYNCFOLEY_CLAP_CHECKPOINT. A text prompt also needs roberta-base's tokenizer
    files: ``clap_tokenizer`` (a folder), $SYNCFOLEY_CLAP_TOKENIZER, or the Hugging Face cache.
    """
    from syncfoley.engine.generate import clap as emb
    from syncfoley.engine.generate import diffusion as dif
    from syncfoley.engine.models.checkpoints import pick_device

    if (reference is None) == (text is None):
        raise RequestError("give exactly one of a reference recording or --text")
    check_writable([Path(output)], overwrite)
    if Path(output).suffix.lower() != ".npy":
        raise RequestError(f"embedding files are .npy; {Path(output).name!r} has another extension")
    dev = pick_device(device)
    clap_state = None
    ckpt = dif.resolve_checkpoint(diffusion_checkpoint)
    if ckpt is not None and clap is None:
        clap_state = dif.read_clap_state(ckpt) or None
    what = f"reference {reference}" if reference is not None else f"text prompt {text!r}"
    if reference is not None:
        audio = emb.read_reference(reference)
        vec = emb.clap_embedder(clap, clap_state, dev, why=what).audio(audio)
    else:
        vec = emb.clap_embedder(clap, clap_state, dev, why=what, tokenizer=clap_tokenizer).text(str(text))
    return emb.save_embedding(output, vec, overwrite=overwrite)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, *, overwrite: bool = False) -> Path:
    return wav.write(path, samples, sample_rate, overwrite)


@dataclass(frozen=True)
class RunResult:
    """What ``run`` wrote, and the onsets it found."""

    track: OnsetTrack
    onsets_json: Path
    onsets_midi: Path
    foley_wav: Path
    timeline: Path

    def to_dict(self) -> dict[str, object]:
        return {
            "onsets_json": str(self.onsets_json),
            "onsets_midi": str(self.onsets_midi),
            "foley_wav": str(self.foley_wav),
            "timeline": str(self.timeline),
            "onsets": len(self.track.onsets),
            "detector": self.track.detector,
        }


def run_outputs(video: str | Path, outdir: str | Path) -> dict[str, Path]:
    stem = Path(video).stem
    d = Path(outdir)
    return {
        "json": d / f"{stem}.onsets.json",
        "midi": d / f"{stem}.onsets.mid",
        "wav": d / f"{stem}.foley.wav",
        "otio": d / f"{stem}.otio",
    }


def run(
    video: str | Path,
    outdir: str | Path = ".",
    *,
    detect: Optional[DetectOptions] = None,
    sound: Optional[SoundOptions] = None,
    overwrite: bool = False,
    progress: Optional[Progress] = None,
    cancel: Optional[Cancel] = None,
    diffusion: Optional[DiffusionOptions] = None,
    **fields: Any,
) -> RunResult:
    """The main job: detect onsets in ``video``, render Foley on them, write four files.

    ``detect`` and ``sound`` (or their defaults), with keyword fields of either on
    top (``preset="metal"``, ``start=2.0``, ``detector="motion"`` ...); the
    ``device`` runs both the onset network and the diffusion model.
    Everything that can be checked is checked before the slow work starts: the
    video, the range, the preset or samples folder, and the outputs.
    """
    detect_fields, sound_fields = _split(fields, DetectOptions, SoundOptions)
    det = _options(DetectOptions, detect, detect_fields)
    snd = _options(SoundOptions, sound, sound_fields)
    check_detector(det.detector, det.guide, det.checkpoint)
    info = media.probe(video)
    span = media.check_range(info, det.start, det.end)
    # The request is checked up front on a stand-in track: a bad preset or checkpoint
    # must fail before minutes of detection, not after.
    probe_track = OnsetTrack(source=str(video), duration=info.duration, fps=info.fps, detector="check", onsets=(),
                             range=span)
    check_request(generation_request(probe_track, sound=snd, device=det.device, diffusion=diffusion))
    if Path(outdir).exists() and not Path(outdir).is_dir():
        raise RequestError(f"output folder {outdir} is a file; give a folder (it is created if missing)")
    outs = run_outputs(video, outdir)
    check_writable(outs.values(), overwrite)

    track = detect_onsets(video, info, span, detector=det.detector, guide=det.guide, checkpoint=det.checkpoint,
                          device=det.device, progress=stage(progress, 0.0, 0.8))
    request = generation_request(track, sound=snd, device=det.device, diffusion=diffusion)
    audio = generate(request, progress=stage(progress, 0.8, 0.95), cancel=cancel)
    note = _midi_note(request.timbre)

    check_write(outdir, "output folder")
    Path(outdir).mkdir(parents=True, exist_ok=True)
    # One time frame for the four files: the source's own timecode at its first frame (zero
    # without one). The MIDI counts from the first frame with that timecode as its SMPTE
    # offset; the WAV starts at the range start and says so in its BWF TimeReference; the
    # OTIO timeline starts there too (global start time).
    origin = media_origin(info)
    with output_set():  # all four or none: a failed run leaves nothing a retry would trip on
        save_onsets(track, outs["json"], overwrite=overwrite)
        midi.write(track, outs["midi"], note=note, overwrite=overwrite, smpte=origin.smpte)
        bwf.write(outs["wav"], audio, SAMPLE_RATE, origin.samples(SAMPLE_RATE) + round(span.start * SAMPLE_RATE),
                  description=f"syncfoley foley for {Path(video).name}", overwrite=overwrite)
        timeline = otio_timeline.build(track, video, outs["wav"], SAMPLE_RATE, name=Path(video).stem,
                                       start=origin.seconds + span.start)
        otio_timeline.write(timeline, outs["otio"], overwrite=overwrite)
    if progress is not None:
        progress(1.0, "done")
    return RunResult(track, outs["json"], outs["midi"], outs["wav"], outs["otio"])


@dataclass(frozen=True)
class MediaOrigin:
    """Where a file's first frame sits: its embedded start timecode, as frames at ``rate``,
    and as a MIDI SMPTE offset (None when there is no timecode, or MIDI has no code for the rate)."""

    frames: int
    rate: Fraction
    smpte: Optional[tuple[float, int, int, int, int]]

    @property
    def seconds(self) -> float:
        return float(self.frames / self.rate)

    def samples(self, sample_rate: int) -> int:
        return bwf.time_reference(self.frames, self.rate, sample_rate)


def media_origin(info: media.VideoInfo) -> MediaOrigin:
    """The start timecode a camera or NLE embedded in the file (zero without one)."""
    from syncfoley.adapters import edl

    name = edl.rate_named(info.fps)
    rate = edl.RATES[name] if name is not None else Fraction(info.fps).limit_denominator(1001)
    if not info.timecode or name is None:
        return MediaOrigin(0, rate, None)
    drop = ";" in info.timecode
    try:
        frames = edl.tc_to_frames(info.timecode, round(rate), drop)
    except ValueError:
        return MediaOrigin(0, rate, None)
    return MediaOrigin(frames, rate, midi.smpte_offset(rate, drop, info.timecode))


def _split(fields: dict[str, Any], *types: type[Fields]) -> list[dict[str, Any]]:
    """Keyword fields sorted to the option types that define them; one that none does is named."""
    parts: list[dict[str, Any]] = [{} for _ in types]
    for key, value in fields.items():
        for part, cls in zip(parts, types):
            if key in cls.specs():
                part[key] = value
                break
        else:
            known = [name for cls in types for name in cls.specs()]
            raise FieldError(key, f"unknown field {key!r}; fields are {', '.join(known)}")
    return parts


def conform_plan(
    timeline: str | Path,
    media_roots: Sequence[str | Path] = (),
    options: Optional[ConformOptions] = None,
    cache: Optional[str | Path] = None,
    read_roots: Optional[Sequence[str | Path]] = None,
) -> ConformPlan:
    """What a conform would do, event by event (compute, reuse from ``cache`` or skip, and why),
    without doing it: ``syncfoley conform --dry-run``. ``cache`` defaults as for :func:`conform`."""
    options = options or ConformOptions()
    return plan(timeline, media_roots, options, ConformCache(cache if cache is not None else default_cache_dir()),
                read_roots)


def conform(
    timeline: str | Path,
    outdir: str | Path,
    media_roots: Sequence[str | Path] = (),
    options: Optional[ConformOptions] = None,
    *,
    cache: Optional[str | Path] = None,
    overwrite: bool = False,
    progress: Optional[Progress] = None,
    cancel: Optional[Cancel] = None,
    read_roots: Optional[Sequence[str | Path]] = None,
) -> ConformResult:
    """Conform Foley to a cut (EDL, OTIO, FCP XML): for each picture event, detect the onsets in
    the source range it shows and render Foley for it at record time; write ``foley.otio``,
    ``foley.edl``, ``foley_stem.wav`` (BWF at the record start), ``clips/``, ``onsets/`` and
    ``report.html`` into ``outdir``.

    Finished events are kept in ``cache`` (a folder; default: the user cache,
    ~/.cache/syncfoley/conform), so conforming a changed cut recomputes only the
    events that changed. Events that cannot be conformed are listed in
    ``result.problems`` (with line or event number); the others are conformed.
    ``read_roots`` limits the media used to those folders, whatever the timeline names.
    Where events are computed (``options.executor``) changes how long a conform takes, never
    what it writes: one after another here, in ``options.jobs`` processes (spawned, so a script
    using the pool needs ``if __name__ == "__main__":``), or on a Ray cluster
    (``options.ray_address``, or a Ray started here; see :mod:`syncfoley.bridge.conform.cluster`).
    """
    options = options or ConformOptions()
    if options.resolved_executor() == "ray":
        from syncfoley.bridge.conform.cluster import import_ray

        import_ray()  # a missing extra is said before the cut is read
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise RequestError(f"output folder {out} is a file; give a folder (it is created if missing)")
    store = ConformCache(cache if cache is not None else default_cache_dir())
    p = plan(timeline, media_roots, options, store, read_roots)
    check_outputs(p, out, overwrite)
    notes: list[str] = []

    def note(text: str) -> None:  # a retried event: in the report's notes, and said as it happens
        notes.append(text)
        logging.getLogger("syncfoley.conform").warning("%s", text)

    results = execute(p, store, progress=stage(progress, 0.0, 0.95), cancel=cancel,
                      executor=event_executor(options, cancel, note))
    if notes:
        p.cut = dataclasses.replace(p.cut, notes=p.cut.notes + tuple(notes))
    with output_set():  # the clips, the stem, the timelines and the report: all or none
        result = write_conform(p, results, out, overwrite=overwrite)
    if progress is not None:
        progress(1.0, "done")
    return result


def event_executor(options: ConformOptions, cancel: Optional[Cancel] = None,
                   notify: Optional[Callable[[str], None]] = None) -> Executor:
    """Where a conform's events are computed, as ``options.executor`` says."""
    kind = options.resolved_executor()
    if kind == "ray":
        from syncfoley.bridge.conform.cluster import ray_executor

        return ray_executor(options.ray_address, cancel, notify)
    if kind == "pool":
        from syncfoley.bridge.conform.pool import pool_executor, resolve_jobs

        return pool_executor(resolve_jobs(options.jobs), cancel)
    return serial_executor(cancel)


def demo(outdir: str | Path, **fields: Any) -> "DemoFiles":
    """Write a cut with known impacts to try :func:`conform` on: ``media/``, ``cut.edl`` and the
    true impacts in ``truth.onsets.json`` (see :mod:`syncfoley.bridge.demo`). Keyword fields are
    :class:`~syncfoley.bridge.requests.DemoRequest`'s (``rate``, ``events``, ``seed``, ``overwrite``)."""
    from syncfoley.bridge.demo import write_demo
    from syncfoley.bridge.requests import DemoRequest

    req = DemoRequest.from_dict({**fields, "outdir": outdir})
    return write_demo(req.outdir, req.rate, req.events, req.seed, req.overwrite)


def _midi_note(timbre: Timbre) -> int:
    if timbre.samples or timbre.reference:
        return 60
    from syncfoley import presets

    return presets.load(timbre.preset).midi_note


def evaluate(
    audio: str | Path,
    onsets: OnsetTrack,
    *,
    offset: Optional[float] = None,
    reference: Optional[str | Path] = None,
    tolerance: float = 0.1,
) -> OnsetScores:
    """Score ``audio`` against the onsets it was rendered for (SyncFusion's protocol).

    ``offset`` is the source time at which the audio starts; by default the start of
    the track's analysed range (0 for MIDI and CSV onsets).
    """
    import dataclasses

    from syncfoley.engine.evaluate import protocol as ev

    if not 0 < tolerance <= 1:
        raise RequestError(f"tolerance must be within 0..1 s, got {tolerance}")
    begin = offset if offset is not None else (onsets.range.start if onsets.range else 0.0)
    y = ev.load_eval_audio(audio)
    length = len(y) / ev.EVAL_SR
    times = [o.time - begin for o in onsets.onsets if 0 <= o.time - begin < length]
    scores = ev.score_onsets(times, y, tolerance)
    if reference is not None:
        ref = ev.load_eval_audio(reference)
        scores = dataclasses.replace(scores, spectral_distance=ev.spectral_distance(y, ref))
    return scores
