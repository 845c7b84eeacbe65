"""Training SyncFusion's onset network on videos with annotated onsets.

Data layout (the Greatest Hits one): per video a ``NAME.times.csv`` whose lines
start with an onset time in seconds (``1.234,metal hit static``; anything after
the first field is ignored), beside the video ``NAME.mp4`` (any container FFmpeg
reads; ``NAME_denoised.mp4`` as Greatest Hits ships it is found too). Folders
are searched recursively.

As in SyncFusion: videos at 15 fps are cut into 2 s clips (a shorter tail is
dropped); frame ``k`` of a clip is labelled 1 when an onset falls in
``[k/15, (k+1)/15)``; the loss is binary cross-entropy with positives weighted
by the batch's negative/positive ratio; AdamW (lr 1e-4, betas 0.95/0.999, eps
1e-6, weight decay 1e-3). Training augmentation: shorter side resized to 128, a
random 112x112 crop, colour jitter (brightness 0.4, contrast 0.2, saturation
0.4, hue 0.1), ImageNet normalisation; evaluation uses the centre crop.

Decoded frames are cached as ``.npy`` files and memory-mapped, so the data set
may be far larger than memory.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from syncfoley.core.errors import FormatError, MediaError, RequestError, one_of
from syncfoley.core.progress import Progress

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mxf", ".mts")
TIMES_SUFFIX = ".times.csv"
RESIZE = 128


@dataclass(frozen=True)
class Example:
    video: Path
    onsets: tuple[float, ...]


@dataclass(frozen=True)
class TrainConfig:
    """Defaults are SyncFusion's published settings."""

    net: str = "syncfusion"  # a key of onset_net.CONFIGS
    epochs: int = 10
    steps: Optional[int] = None  # stop after this many optimiser steps
    batch_size: int = 16
    lr: float = 1e-4
    betas: tuple[float, float] = (0.95, 0.999)
    eps: float = 1e-6
    weight_decay: float = 1e-3
    val_fraction: float = 0.1  # share of the videos held out
    augment: bool = True
    seed: int = 0
    device: str = "auto"


@dataclass
class TrainResult:
    checkpoint: Path
    steps: int
    epochs: int
    losses: list[float] = field(default_factory=list)  # per optimiser step
    val_losses: list[float] = field(default_factory=list)  # before training, then per epoch (held-out videos)
    train_videos: int = 0
    val_videos: int = 0


def read_times(path: Path) -> tuple[float, ...]:
    """Onset times from a ``.times.csv``: the first field of each line; a header line is skipped."""
    times = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        first = text.replace(",", " ").split()[0]
        try:
            t = float(first)
        except ValueError:
            if number == 1:
                continue  # a header
            raise FormatError(f"{path}:{number}: {first!r} is not an onset time in seconds") from None
        if not math.isfinite(t) or t < 0:
            raise FormatError(f"{path}:{number}: onset time {first} must be a number >= 0")
        times.append(t)
    return tuple(sorted(times))


def find_examples(data_dir: str | Path) -> list[Example]:
    """Every annotated video under ``data_dir``; an annotation without a video is an error."""
    root = Path(data_dir)
    if not root.is_dir():
        raise RequestError(f"training data folder {root} does not exist or is not a folder")
    examples = []
    for times in sorted(root.rglob(f"*{TIMES_SUFFIX}")):
        name = times.name[: -len(TIMES_SUFFIX)]
        candidates = [times.with_name(name + s) for s in VIDEO_SUFFIXES]
        candidates += [times.with_name(f"{name}_denoised{s}") for s in VIDEO_SUFFIXES]
        video = next((c for c in candidates if c.is_file()), None)
        if video is None:
            raise MediaError(
                f"{times} has no video beside it: looked for {name}.* and {name}_denoised.* "
                f"with a suffix of {one_of(VIDEO_SUFFIXES)}"
            )
        examples.append(Example(video, read_times(times)))
    if not examples:
        raise RequestError(
            f"no training examples under {root}: each video needs a NAME{TIMES_SUFFIX} of onset times beside NAME.mp4"
        )
    return examples


def decode_clip_frames(video: Path, fps: float, cache: Path) -> np.ndarray:
    """All frames of ``video`` at ``fps``, shorter side 128, uint8 (N, H, W, 3), memory-mapped."""
    from syncfoley.engine.detect.neural import resample_frames
    from syncfoley.engine.media.video import iter_frames, probe
    from syncfoley.engine.types import TimeRange

    stat = video.stat()
    key = hashlib.sha1(f"{video.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{fps}|{RESIZE}".encode()).hexdigest()[:16]
    target = cache / f"{video.stem}.{key}.npy"
    if not target.exists():
        info = probe(video)
        if info.width >= info.height:
            w, h = int(round(RESIZE * info.width / info.height)), RESIZE
        else:
            w, h = RESIZE, int(round(RESIZE * info.height / info.width))
        span = TimeRange(0.0, info.duration)
        frames = [img for _, img in resample_frames(iter_frames(video, span, w, h, "rgb24"), span, fps)]
        if not frames:
            raise MediaError(f"{video}: no frames could be decoded")
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial.npy")
        np.save(tmp, np.stack(frames))
        tmp.replace(target)
    return np.load(target, mmap_mode="r")


class ClipSet:
    """2 s clips of annotated videos, with their per-frame onset labels."""

    def __init__(self, examples: list[Example], fps: float, window: int, cache: Path) -> None:
        self.clips: list[tuple[np.ndarray, int, np.ndarray]] = []
        for ex in examples:
            frames = decode_clip_frames(ex.video, fps, cache)
            for c in range(len(frames) // window):
                labels = np.zeros(window, dtype=np.float32)
                for t in ex.onsets:
                    k = int(math.floor(t * fps)) - c * window
                    if 0 <= k < window:
                        labels[k] = 1.0
                self.clips.append((frames, c * window, labels))
        self.window = window

    def __len__(self) -> int:
        return len(self.clips)

    def item(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        frames, start, labels = self.clips[i]
        return np.array(frames[start : start + self.window]), labels  # a copy: torch wants writable memory


def augment_clip(torch, clip, size: int, rng: np.random.Generator, train: bool):
    """(T, H, W, 3) uint8 -> (3, T, size, size) float in 0..1, one crop and jitter per clip."""
    x = torch.from_numpy(clip).permute(3, 0, 1, 2).float().div_(255.0)
    _, _, h, w = x.shape
    if train:
        top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    else:
        top, left = (h - size) // 2, (w - size) // 2
    x = x[:, :, top : top + size, left : left + size]
    if not train:
        return x
    luma = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1, 1)
    for op in rng.permutation(4):
        if op == 0:
            x = x * float(rng.uniform(0.6, 1.4))
        elif op == 1:
            grey_mean = (x * luma).sum(0, keepdim=True).mean(dim=(2, 3), keepdim=True)
            x = (x - grey_mean) * float(rng.uniform(0.8, 1.2)) + grey_mean
        elif op == 2:
            grey = (x * luma).sum(0, keepdim=True)
            x = (x - grey) * float(rng.uniform(0.6, 1.4)) + grey
        else:
            x = _rotate_hue(torch, x, float(rng.uniform(-0.1, 0.1)))
        x = x.clamp_(0.0, 1.0)
    return x


def _rotate_hue(torch, x, turn: float):
    """Rotate hue by ``turn`` of a full circle, in YIQ space (chroma turned about the grey axis)."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    a = 2 * math.pi * turn
    rot = torch.tensor([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]], dtype=torch.float32)
    m = torch.linalg.inv(to_yiq) @ rot @ to_yiq
    return torch.einsum("ij,jthw->ithw", m, x)


def onset_loss(torch, logits, labels):
    """BCE with positives weighted by the negative/positive ratio of the batch."""
    pos = labels.sum()
    weight = (labels.numel() - pos) / pos if float(pos) > 0 else torch.ones((), device=labels.device)
    return torch.nn.functional.binary_cross_entropy_with_logits(logits.flatten(), labels.flatten(), pos_weight=weight)


def train_onset(
    data_dir: str | Path,
    output: str | Path,
    config: TrainConfig = TrainConfig(),
    *,
    init: Optional[str | Path] = None,
    cache: Optional[str | Path] = None,
    overwrite: bool = False,
    progress: Optional[Progress] = None,
) -> TrainResult:
    """Train (or, from ``init``, fine-tune) the onset network; write ``output``.

    The checkpoint is rewritten (atomically) after every epoch, so stopping a
    long run loses at most one epoch.
    """
    from syncfoley.core.atomic import check_writable
    from syncfoley.engine.detect.onset_checkpoint import load_onset_model, save_onset_checkpoint
    from syncfoley.engine.detect.onset_net import CONFIGS, VideoOnsetNet
    from syncfoley.engine.models.checkpoints import import_torch, pick_device

    torch = import_torch()
    if config.net not in CONFIGS:
        raise RequestError(f"unknown network size {config.net!r}; choose {one_of(CONFIGS)}")
    for name in ("epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise RequestError(f"{name.replace('_', '-')} must be at least 1, got {getattr(config, name)}")
    if config.steps is not None and config.steps < 1:
        raise RequestError(f"steps must be at least 1, got {config.steps}")
    if not 0.0 <= config.val_fraction < 1.0:
        raise RequestError(f"validation share must be within 0..1 (exclusive of 1), got {config.val_fraction}")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise RequestError(f"learning rate must be a positive number, got {config.lr}")
    out = Path(output)
    check_writable([out], overwrite)
    examples = find_examples(data_dir)
    device = pick_device(config.device)

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    net = load_onset_model(init, device) if init is not None else VideoOnsetNet(CONFIGS[config.net]).to(device)
    cfg = net.cfg
    order = rng.permutation(len(examples))
    n_val = int(round(len(examples) * config.val_fraction)) if len(examples) > 1 else 0
    val_ex = [examples[i] for i in order[:n_val]]
    train_ex = [examples[i] for i in order[n_val:]]

    with tempfile.TemporaryDirectory(prefix="syncfoley-frames-") as scratch:
        frames_dir = Path(cache) if cache is not None else Path(scratch)
        train_set = ClipSet(train_ex, cfg.fps, cfg.window, frames_dir)
        val_set = ClipSet(val_ex, cfg.fps, cfg.window, frames_dir)
        if len(train_set) == 0:
            raise RequestError(f"the training videos under {data_dir} are all shorter than one {cfg.window}-frame clip")
        mean = torch.tensor(cfg.mean, device=device).view(1, 3, 1, 1, 1)
        std = torch.tensor(cfg.std, device=device).view(1, 3, 1, 1, 1)

        def batch(clip_set: ClipSet, idx: list[int], train: bool):
            xs, ys = [], []
            for i in idx:
                clip, labels = clip_set.item(i)
                xs.append(augment_clip(torch, clip, cfg.size, rng, train and config.augment))
                ys.append(torch.from_numpy(labels))
            x = (torch.stack(xs).to(device) - mean) / std
            return x, torch.stack(ys).to(device)

        opt = torch.optim.AdamW(net.parameters(), lr=config.lr, betas=config.betas, eps=config.eps,
                                weight_decay=config.weight_decay)
        result = TrainResult(out, 0, 0, train_videos=len(train_ex), val_videos=len(val_ex))
        if len(val_set):
            result.val_losses.append(evaluate_loss(torch, net, val_set, batch, config.batch_size))
        per_epoch = math.ceil(len(train_set) / config.batch_size)
        total = per_epoch * config.epochs if config.steps is None else min(config.steps, per_epoch * config.epochs)
        for epoch in range(config.epochs):
            net.train()
            perm = rng.permutation(len(train_set))
            for b in range(0, len(perm), config.batch_size):
                x, y = batch(train_set, [int(i) for i in perm[b : b + config.batch_size]], True)
                loss = onset_loss(torch, net(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                result.losses.append(float(loss.detach()))
                result.steps += 1
                if progress is not None:
                    progress(result.steps / total, f"epoch {epoch + 1} loss {result.losses[-1]:.4f}")
                if result.steps >= total:
                    break
            result.epochs = epoch + 1
            if len(val_set):
                result.val_losses.append(evaluate_loss(torch, net, val_set, batch, config.batch_size))
            save_onset_checkpoint(net, out, epoch=result.epochs, steps=result.steps,
                                  train_videos=result.train_videos, val_videos=result.val_videos,
                                  val_loss=result.val_losses[-1] if result.val_losses else None)
            if result.steps >= total:
                break
    return result


def evaluate_loss(torch, net, clip_set: ClipSet, batch, batch_size: int) -> float:
    """Mean loss over a clip set without augmentation, in eval mode."""
    was_training = net.training
    net.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for b in range(0, len(clip_set), batch_size):
            idx = list(range(b, min(b + batch_size, len(clip_set))))
            x, y = batch(clip_set, idx, False)
            total += float(onset_loss(torch, net(x), y)) * len(idx)
            count += len(idx)
    net.train(was_training)
    return total / max(1, count)
