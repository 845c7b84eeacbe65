"""The diffusion engine: SyncFusion's model renders Foley on the requested onsets.

Checkpoint resolution (as for the onset network): an explicit path, then
``$SYNCFOLEY_DIFFUSION_CHECKPOINT``; nothing is downloaded. The file is the
released Lightning checkpoint (``state_dict`` with ``model.*``, ``onsets_encoder.*``
and, usually, ``clap.*``) or one written by :func:`save_diffusion_checkpoint`
(the same layout plus our config, so the ``tiny`` size loads too). It is read with
``torch.load(weights_only=True)`` and checked key by key, strictly, against the
architecture; ``clap.*`` weights are kept aside for the sound embedding.

A request of any length is cut into 2**18-sample windows (:mod:`.diffusion_windows`); each
window gets the onset impulse train of its span, its own seeded noise and the
sound embedding; windows go through the network ``batch`` at a time; the outputs
are cross-faded at seams that no hit touches. Cancellation is checked after every
step and progress is reported per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from syncfoley.core.errors import Cancelled, CheckpointError, RequestError
from syncfoley.core.fields import check_value
from syncfoley.core.progress import Cancel, Progress
from syncfoley.engine.generate.diffusion_windows import Window, plan_windows, stitch
from syncfoley.engine.generate.sound import DEFAULT_SOUND, SoundOptions
from syncfoley.engine.models.checkpoints import WeightsSource, check_keys, import_torch, read_state
from syncfoley.engine.models.warm import WarmModel

ENV_VAR = "SYNCFOLEY_DIFFUSION_CHECKPOINT"
FORMAT = "syncfoley.diffusion-checkpoint/1"
MODEL_RATE = 48000


@dataclass(frozen=True)
class DiffusionOptions:
    """How the diffusion engine samples (defaults: SyncFusion's published evaluation)."""

    checkpoint: Optional[str] = None
    steps: int = DEFAULT_SOUND.steps
    guidance: float = DEFAULT_SOUND.guidance
    batch: int = DEFAULT_SOUND.batch
    device: str = "auto"
    overlap: float = 1.0  # seconds shared by consecutive windows
    max_seconds: float = 1800.0
    cut_prefix: bool = True  # silence before the first onset, as the model was trained

    def validate(self) -> None:
        specs = SoundOptions.specs()
        for name in ("steps", "guidance", "batch"):  # ranged where the sound fields are defined
            check_value(name, specs[name][0], getattr(self, name))
        if not 0.0 <= self.overlap <= 2.5:
            raise RequestError(f"window overlap must be within 0..2.5 s, got {self.overlap}")
        if not self.max_seconds > 0:
            raise RequestError(f"max_seconds must be positive, got {self.max_seconds}")


WEIGHTS = WeightsSource(
    ENV_VAR, "--diffusion-checkpoint", "diffusion checkpoint", "give the .ckpt file",
    "the diffusion engine needs a SyncFusion diffusion checkpoint: give --diffusion-checkpoint PATH "
    f"or set {ENV_VAR}; or use --engine builtin")
resolve_checkpoint = WEIGHTS.resolve
require_checkpoint = WEIGHTS.require


@dataclass
class LoadedDiffusion:
    model: Any  # SyncFusionDiffusion
    device: str
    path: Path
    clap_state: dict[str, Any] = field(default_factory=dict)  # clap.* weights without the prefix


_WARM: WarmModel[LoadedDiffusion] = WarmModel()


def load_diffusion(path: str | Path, device: str = "cpu") -> LoadedDiffusion:
    """Load and check a checkpoint; kept in memory per (file, mtime, device) for the next request."""
    return _WARM.get(path, device, _load_diffusion)


def _load_diffusion(p: Path, device: str) -> LoadedDiffusion:
    from syncfoley.engine.generate.diffusion_net import CONFIGS, DiffusionNetConfig, SyncFusionDiffusion

    state, meta = read_state(p)
    cfg = CONFIGS["syncfusion"]
    if isinstance(meta.get("config"), dict):
        try:
            cfg = DiffusionNetConfig.from_dict(meta["config"])
            cfg.check()
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{p}: its syncfoley config does not read ({exc})") from None
    clap = {k[len("clap."):]: v for k, v in state.items() if k.startswith("clap.")}
    state = {k: v for k, v in state.items() if not k.startswith("clap.")}
    torch = import_torch()
    with torch.device("meta"):
        model = SyncFusionDiffusion(cfg)
    check_keys(state, model.state_dict(), p, what="SyncFusion's diffusion model")
    model.load_state_dict(state, strict=True, assign=True)
    # assign=True takes the file's tensors as they are; the aliases must stay one module.
    model.model.diffusion.net = model.model.net
    model.model.sampler.net = model.model.net
    model = model.float().to(device).eval()
    return LoadedDiffusion(model, device, p, clap)


def save_diffusion_checkpoint(model: Any, path: str | Path, clap_state: Optional[dict[str, Any]] = None,
                              **info: Any) -> Path:
    """Write ``model`` (a SyncFusionDiffusion) in the released layout plus our config, atomically."""
    from syncfoley.core.atomic import atomic_path

    torch = import_torch()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    for k, v in (clap_state or {}).items():
        state[f"clap.{k}"] = v
    payload = {"state_dict": state, "syncfoley": {"format": FORMAT, "config": model.cfg.to_dict(), **info}}
    with atomic_path(Path(path), overwrite=True) as tmp:
        torch.save(payload, str(tmp))
    return Path(path)


@dataclass(frozen=True)
class DiffusionRender:
    """The audio (mono float32 at 48 kHz) and the windows it was made of."""

    audio: np.ndarray
    windows: tuple[Window, ...]
    device: str
    steps: int
    guidance: float


def onset_samples(times: Sequence[float], start: float, total: int, sr: int = MODEL_RATE) -> list[int]:
    """Onset times (s) relative to ``start`` as sample indices within ``[0, total)``."""
    out = []
    for t in times:
        pos = int(round((t - start) * sr))
        if 0 <= pos < total:
            out.append(pos)
    return sorted(set(out))


@dataclass(frozen=True)
class Clip:
    """One thing to render: ``total`` samples at 48 kHz, hits at ``onsets`` (sample indices)."""

    onsets: tuple[int, ...]
    total: int
    embedding: np.ndarray
    seed: int = 0


def render(
    loaded: LoadedDiffusion,
    onsets: Sequence[int],
    total: int,
    embedding: np.ndarray,
    options: DiffusionOptions,
    seed: int = 0,
    progress: Optional[Progress] = None,
    cancel: Optional[Cancel] = None,
) -> DiffusionRender:
    """Render ``total`` samples at 48 kHz with hits at the given sample positions."""
    clip = Clip(tuple(onsets), total, np.asarray(embedding, dtype=np.float32), seed)
    return render_clips(loaded, [clip], options, progress, cancel)[0]


def render_clips(
    loaded: LoadedDiffusion,
    clips: Sequence[Clip],
    options: DiffusionOptions,
    progress: Optional[Progress] = None,
    cancel: Optional[Cancel] = None,
) -> list[DiffusionRender]:
    """Render several clips; their windows share the network's batches (many short events
    of an edit go through together instead of one under-filled batch each)."""
    torch = import_torch()
    from syncfoley.engine.generate.diffusion_sampler import sample

    options.validate()
    for clip in clips:
        if clip.total > options.max_seconds * MODEL_RATE:
            raise RequestError(
                f"request of {clip.total / MODEL_RATE:.1f} s is longer than the diffusion engine's maximum of "
                f"{options.max_seconds:g} s; split it or raise the maximum"
            )
    model = loaded.model
    cfg = model.cfg
    device = torch.device(loaded.device)
    plans = [plan_windows(c.onsets, c.total, cfg.window, int(options.overlap * MODEL_RATE), MODEL_RATE)
             for c in clips]
    work = [(k, w) for k, plan in enumerate(plans) for w in plan]  # (clip, window), in order
    outputs: list[list[np.ndarray]] = [[np.zeros(0)] * len(plan) for plan in plans]
    batches = [work[i: i + options.batch] for i in range(0, len(work), options.batch)]
    done_steps = 0
    all_steps = options.steps * len(batches)

    def on_step(step: int, steps: int) -> None:
        nonlocal done_steps
        done_steps += 1
        if progress is not None:
            progress(done_steps / all_steps, f"diffusion step {step}/{steps}")
        if cancel is not None and cancel():
            raise Cancelled("generation cancelled")

    for group in batches:
        if cancel is not None and cancel():
            raise Cancelled("generation cancelled")
        tracks = torch.as_tensor(np.stack([w.local_track() for _, w in group])[:, None, :]).to(device)
        # Noise per window from (seed, window index): the same audio whatever the batch or device.
        noise = torch.stack([
            torch.randn((1, cfg.window),
                        generator=torch.Generator().manual_seed(_window_seed(clips[k].seed, w.index)))
            for k, w in group
        ]).to(device)
        emb = torch.as_tensor(np.stack([np.asarray(clips[k].embedding, np.float32).reshape(1, -1)
                                        for k, _ in group])).to(device)
        out = sample(model, noise, tracks, emb, options.steps, options.guidance, on_step)
        for (k, w), y in zip(group, out[:, 0].float().cpu().numpy()):
            outputs[k][w.index] = y
    results = []
    for clip, plan, outs in zip(clips, plans, outputs):
        audio = stitch(plan, outs, clip.total)
        if options.cut_prefix:
            audio = _cut_prefix(audio, clip.onsets)
        results.append(DiffusionRender(np.clip(audio, -1.0, 1.0).astype(np.float32), tuple(plan), loaded.device,
                                       options.steps, options.guidance))
    return results


def _window_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed & 0xFFFFFFFF, index]).generate_state(1)[0])


def _cut_prefix(audio: np.ndarray, onsets: Sequence[int], fade: int = 240) -> np.ndarray:
    """Silence before the first hit (the model was trained on clips cut that way), with a 5 ms fade."""
    if not onsets:
        return audio * 0.0
    first = min(onsets)
    out = audio.copy()
    lo = max(0, first - fade)
    out[..., :lo] = 0.0
    out[..., lo:first] *= np.linspace(0.0, 1.0, first - lo, endpoint=False, dtype=np.float32)
    return out


def read_clap_state(path: str | Path) -> dict[str, Any]:
    """The ``clap.*`` weights of a SyncFusion checkpoint (prefix removed), without building the model."""
    state, _ = read_state(Path(path))
    return {k[len("clap."):]: v for k, v in state.items() if k.startswith("clap.")}
