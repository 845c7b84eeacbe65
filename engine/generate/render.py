"""Generation: an onset track in, a Foley track out, by one of two engines.

Both engines take the same :class:`GenerationRequest`: the part of the source to
render (``start``, ``duration``), the onsets in it (with regions and the intensity
envelope when the track has them), a timbre, sample rate, channels and seed. Hits
are placed at ``onset.time - start``, so the audio lines up with the range asked for.

- ``builtin``: modal synthesis from a material preset (:mod:`.synth`), or one-shots
  placed at the onsets: a folder of them, or the hits found in a reference WAV
  (:mod:`.samples`). Fast on any CPU.
- ``diffusion``: SyncFusion's onset-conditioned diffusion model (:mod:`.diffusion`),
  timbre from a CLAP embedding (:mod:`.clap`).
- ``auto``: diffusion when a diffusion checkpoint is configured, else builtin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from syncfoley import presets
from syncfoley.core.errors import RequestError, one_of
from syncfoley.core.progress import Cancel, Progress
from syncfoley.engine.generate.diffusion import MODEL_RATE, DiffusionOptions
from syncfoley.engine.generate.sound import CHANNELS, DEFAULT_SOUND, ENGINES, SoundOptions
from syncfoley.engine.types import OnsetTrack

SAMPLE_RATES = (44100, 48000, 88200, 96000)


@dataclass(frozen=True)
class Timbre:
    """What the Foley sounds like.

    ``samples`` (a folder of one-shots) or ``reference`` (a recording) win over the
    preset; ``text`` and ``embedding`` (a 512-d CLAP vector, .npy) are for the
    diffusion engine, which also accepts ``reference`` and the preset.
    """

    preset: str = DEFAULT_SOUND.preset
    samples: Optional[str] = None
    reference: Optional[str] = None
    text: Optional[str] = None
    embedding: Optional[str] = None

    @staticmethod
    def of(sound: SoundOptions) -> "Timbre":
        return Timbre(preset=sound.preset, samples=sound.samples, reference=sound.reference,
                      text=sound.text or None, embedding=sound.embedding)


# One render holds its whole output in memory (float32, plus the limiter's copy in
# stereo): an hour of 48 kHz stereo is about 1.4 GB. Longer material is rendered in parts.
MAX_RENDER_SECONDS = 3600.0


@dataclass(frozen=True)
class GenerationRequest:
    track: OnsetTrack
    start: float
    duration: float
    timbre: Timbre = Timbre()
    sample_rate: int = 48000
    seed: int = DEFAULT_SOUND.seed
    channels: int = DEFAULT_SOUND.channels
    engine: str = DEFAULT_SOUND.engine
    diffusion: DiffusionOptions = field(default_factory=DiffusionOptions)
    clap: Optional[str] = None  # CLAP checkpoint, when the diffusion checkpoint has no clap.* weights
    clap_tokenizer: Optional[str] = None  # roberta-base's tokenizer folder, for a text prompt

    @staticmethod
    def of(track: OnsetTrack, start: float, duration: float, sound: SoundOptions, *, sample_rate: int = 48000,
           device: str = "auto", diffusion: Optional[DiffusionOptions] = None) -> "GenerationRequest":
        """The request for ``sound``. The diffusion engine's options are made from the sound's
        fields, unless ``diffusion`` is given (an API caller's full sampling options): then it is
        used as it is."""
        opts = diffusion if diffusion is not None else DiffusionOptions(
            checkpoint=sound.diffusion_checkpoint, steps=sound.steps, guidance=sound.guidance, batch=sound.batch,
            device=device)
        return GenerationRequest(track=track, start=float(start), duration=float(duration), timbre=Timbre.of(sound),
                                 sample_rate=sample_rate, seed=sound.seed, channels=sound.channels,
                                 engine=sound.engine, diffusion=opts, clap=sound.clap,
                                 clap_tokenizer=sound.clap_tokenizer)

    def validate(self) -> None:
        if not np.isfinite(self.duration) or self.duration <= 0:
            raise RequestError(f"duration must be a positive number of seconds, got {self.duration}")
        if self.duration > MAX_RENDER_SECONDS:
            gb = self.duration * self.sample_rate * self.channels * 4 * 2 / 1e9
            raise RequestError(f"duration {self.duration:g} s is over the limit of one render, "
                               f"{MAX_RENDER_SECONDS:g} s (it would hold about {gb:.0f} GB in memory); render it in "
                               "parts with --start and --duration")
        if not np.isfinite(self.start) or self.start < 0:
            raise RequestError(f"start must be >= 0 s, got {self.start}")
        if self.sample_rate not in SAMPLE_RATES:
            raise RequestError(f"sample rate {self.sample_rate} is not supported; choose {one_of(SAMPLE_RATES)}")
        if self.channels not in CHANNELS:
            raise RequestError(f"channels must be {one_of(CHANNELS)} (mono or stereo), got {self.channels}")
        if self.engine not in ENGINES:
            raise RequestError(f"unknown engine {self.engine!r}; choose {one_of(ENGINES)}")
        if self.timbre.samples and self.timbre.reference:
            raise RequestError("give a samples folder or a reference recording, not both")
        self.diffusion.validate()

    def resolved_engine(self) -> str:
        """``auto`` made concrete: diffusion when a checkpoint is configured."""
        from syncfoley.engine.generate.diffusion import resolve_checkpoint

        if self.engine != "auto":
            return self.engine
        return "diffusion" if resolve_checkpoint(self.diffusion.checkpoint) is not None else "builtin"


@dataclass(frozen=True)
class Rendered:
    """Audio ((N,) mono or (N, 2) stereo, float32) and how it was made."""

    audio: np.ndarray
    sample_rate: int
    engine: str
    info: dict[str, Any] = field(default_factory=dict)


def check_builtin_timbre(timbre: Timbre, sample_rate: int) -> None:
    """The built-in engine's timbre source can be used: samples folder, reference or preset."""
    from syncfoley.engine.generate.samples import bank_from_reference, load_bank

    if timbre.samples:
        load_bank(timbre.samples, sample_rate)
    elif timbre.reference:
        bank_from_reference(timbre.reference, sample_rate)
    else:
        presets.load(timbre.preset)


def check_request(request: GenerationRequest) -> str:
    """Everything that can fail before rendering, checked now; returns the engine that will run."""
    request.validate()
    engine = request.resolved_engine()
    t = request.timbre
    if engine == "builtin":
        if t.text or t.embedding:
            what = "a text prompt" if t.text else "a CLAP embedding"
            raise RequestError(f"{what} needs the diffusion engine (--engine diffusion with a checkpoint); "
                               "the built-in engine takes a preset, --samples or --reference")
        check_builtin_timbre(t, request.sample_rate)
    else:
        from syncfoley.engine.generate.clap import load_embedding, read_reference
        from syncfoley.engine.generate.diffusion import require_checkpoint

        require_checkpoint(request.diffusion.checkpoint)
        if request.duration > request.diffusion.max_seconds:
            raise RequestError(
                f"request of {request.duration:g} s is longer than the diffusion engine's maximum of "
                f"{request.diffusion.max_seconds:g} s; split it or raise the maximum"
            )
        if t.embedding:
            load_embedding(t.embedding)
        elif t.reference:
            read_reference(t.reference)
        elif t.samples:
            raise RequestError("the diffusion engine takes --reference WAV, --text or --embedding, not a samples folder")
        elif not t.text:
            presets.load(t.preset)
    return engine


def _onsets_in(request: GenerationRequest) -> list:
    end = request.start + request.duration
    return [o for o in request.track.onsets if request.start <= o.time < end]


def _regions_in(request: GenerationRequest) -> list:
    end = request.start + request.duration
    return [r for r in request.track.regions if r.end > request.start and r.start < end]


def render(request: GenerationRequest, progress: Optional[Progress] = None,
           cancel: Optional[Cancel] = None) -> Rendered:
    """Render the request with the engine it resolves to."""
    engine = check_request(request)
    if engine == "builtin":
        return _render_builtin(request, progress)
    return _render_diffusion([request], progress, cancel)[0]


def generate(request: GenerationRequest, progress: Optional[Progress] = None,
             cancel: Optional[Cancel] = None) -> np.ndarray:
    """Render the request: float32 samples, ``duration * sample_rate`` long ((N,) or (N, 2))."""
    return render(request, progress, cancel).audio


def _render_builtin(request: GenerationRequest, progress: Optional[Progress]) -> Rendered:
    from syncfoley.engine.generate.samples import bank_from_reference, load_bank, render_samples
    from syncfoley.engine.generate.synth import render_onsets

    onsets = _onsets_in(request)
    t = request.timbre
    if t.samples or t.reference:
        bank = load_bank(t.samples, request.sample_rate) if t.samples else bank_from_reference(
            str(t.reference), request.sample_rate)
        audio = render_samples(bank, onsets, request.start, request.duration, request.seed, progress=progress,
                               channels=request.channels)
        info = {"timbre": "samples" if t.samples else "reference", "one_shots": len(bank.sounds)}
    else:
        preset = presets.load(t.preset)
        audio = render_onsets(preset, onsets, request.start, request.duration, request.sample_rate, request.seed,
                              progress, regions=_regions_in(request), envelope=request.track.envelope,
                              channels=request.channels)
        info = {"timbre": "preset", "preset": preset.name}
    return Rendered(audio, request.sample_rate, "builtin", info)


def sound_embedding(request: GenerationRequest, clap_state: Optional[dict[str, Any]], device: str) -> tuple[np.ndarray, str]:
    """The 512-d embedding for the request's timbre, and where it came from."""
    from syncfoley.engine.generate.clap import clap_embedder, load_embedding, read_reference

    t = request.timbre
    if t.embedding:
        return load_embedding(t.embedding), f"embedding {t.embedding}"
    if t.reference:
        audio = read_reference(t.reference)
        clap = clap_embedder(request.clap, clap_state, device, why=f"reference {t.reference}")
        return clap.audio(audio), f"CLAP of {t.reference}"
    if t.text:
        clap = clap_embedder(request.clap, clap_state, device, why=f"text prompt {t.text!r}",
                             tokenizer=request.clap_tokenizer)
        return clap.text(t.text), f"CLAP of text {t.text!r}"
    preset = presets.load(t.preset)
    if preset.embedding:
        return load_embedding(preset.embedding), f"preset {preset.name} embedding"
    # No stored vector: let CLAP hear the built-in engine play the preset.
    from syncfoley.engine.generate.synth import render_onsets
    from syncfoley.engine.types import Onset

    hits = [Onset(0.25 + 0.5 * k, 0.6 + 0.04 * (k % 10)) for k in range(10)]
    demo = render_onsets(preset, hits, 0.0, 5.5, MODEL_RATE, request.seed)
    clap = clap_embedder(request.clap, clap_state, device,
                         why=f"preset {preset.name!r} (it carries no embedding file)")
    return clap.audio(demo), f"CLAP of preset {preset.name} (built-in rendering)"


def render_many(requests: Sequence[GenerationRequest], progress: Optional[Progress] = None,
                cancel: Optional[Cancel] = None, engines: Optional[Sequence[str]] = None) -> list[Rendered]:
    """Render several requests, in order. Diffusion requests that share a checkpoint and
    sampling options go through the network together (:func:`~.diffusion.render_clips`): the
    windows of many short events fill its batches instead of one under-filled batch each. Each
    window's noise comes from its own request's seed, so a request renders the same audio
    alone or in company (up to float rounding of a larger batch). ``engines``: what
    :func:`check_request` returned for each request, when the caller has checked them already."""
    engines = list(engines) if engines is not None else [check_request(r) for r in requests]
    out: list[Optional[Rendered]] = [None] * len(requests)
    groups: dict[tuple[str, DiffusionOptions], list[int]] = {}
    for i, (request, engine) in enumerate(zip(requests, engines)):
        if engine == "builtin":
            out[i] = _render_builtin(request, None)
        else:
            groups.setdefault((str(request.clap), request.diffusion), []).append(i)
    for members in groups.values():
        rendered = _render_diffusion([requests[i] for i in members], progress if len(requests) == 1 else None,
                                     cancel)
        for i, r in zip(members, rendered):
            out[i] = r
    return [r for r in out if r is not None]


def _render_diffusion(requests: Sequence[GenerationRequest], progress: Optional[Progress],
                      cancel: Optional[Cancel]) -> list[Rendered]:
    """Requests with one checkpoint and one set of sampling options, in one :func:`render_clips`."""
    from syncfoley.engine.generate.diffusion import Clip, load_diffusion, onset_samples, render_clips, require_checkpoint
    from syncfoley.engine.models.checkpoints import pick_device

    opts = requests[0].diffusion
    device = pick_device(opts.device)
    loaded = load_diffusion(require_checkpoint(opts.checkpoint), device)
    clips, sources = [], []
    for request in requests:
        embedding, source = sound_embedding(request, loaded.clap_state, device)
        total = int(round(request.duration * MODEL_RATE))
        positions = onset_samples([o.time for o in _onsets_in(request)], request.start, total)
        clips.append(Clip(tuple(positions), total, np.asarray(embedding, dtype=np.float32), request.seed))
        sources.append(source)
    outs = render_clips(loaded, clips, opts, progress, cancel)
    results = []
    for request, out, source in zip(requests, outs, sources):
        audio = out.audio
        if request.sample_rate != MODEL_RATE:
            from math import gcd

            from scipy.signal import resample_poly

            g = gcd(request.sample_rate, MODEL_RATE)
            audio = resample_poly(audio, request.sample_rate // g, MODEL_RATE // g).astype(np.float32)
            n = int(round(request.duration * request.sample_rate))
            audio = np.pad(audio, (0, max(0, n - len(audio))))[:n]
        if request.channels == 2:
            audio = np.ascontiguousarray(np.stack([audio, audio], axis=1))  # the model is mono
        info = {"device": out.device, "steps": out.steps, "guidance": out.guidance, "windows": len(out.windows),
                "embedding": source, "checkpoint": str(loaded.path), "batched_with": len(requests)}
        results.append(Rendered(audio, request.sample_rate, "diffusion", info))
    return results
