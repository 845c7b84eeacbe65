"""Training the physics detector's motion scorer on videos with annotated impacts.

Data layout (the Greatest Hits one, as for ``train-onset``): per video a
``NAME.times.csv`` of impact times beside ``NAME.mp4`` (or ``NAME_denoised.mp4``);
optionally ``NAME.ignore.csv``, contacts too gentle to call either way (frames near them
are left out of the loss). Folders are searched recursively.

Each clip's motion features (:mod:`motion_features`) are extracted once and cached.
Frame ``k`` is labelled an impact when an annotated time falls in ``[t_k, t_k+1)``; the
frames either side of it are left out (motion blur and a late impact spread the evidence
over two frames), as are those within two frames of an ignored contact. The network
scores every candidate block; a frame's score is its best block's (an impact happens
somewhere in the picture, the annotation does not say where), and the loss is binary
cross-entropy on that, positives weighted by the negative/positive ratio.

On the validation videos (``val_dir``, else a held-out share of the training videos):
Platt scaling makes the frame probability calibrated, and the threshold used at
sensitivity 0.5 is the one with the best F1 of picked onsets within +-0.1 s.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from syncfoley.core.errors import RequestError
from syncfoley.core.progress import Progress
from syncfoley.engine.detect.motion_features import FEATURES, TOP
from syncfoley.engine.detect.onset_training import Example, find_examples, read_times

IGNORE_SUFFIX = ".ignore.csv"


@dataclass(frozen=True)
class MotionTrainConfig:
    hidden: int = 24
    epochs: int = 60
    lr: float = 3e-3
    weight_decay: float = 1e-3
    val_fraction: float = 0.2
    seed: int = 0


@dataclass
class ClipFeatures:
    """One video's features and labels: ``values`` (frames, TOP, FEATURES), ``label``
    1/0/-1 (impact, none, left out) per scored frame; ``times`` of every frame."""

    name: str
    times: np.ndarray
    index: np.ndarray
    values: np.ndarray
    where: np.ndarray
    lost: np.ndarray
    label: np.ndarray
    truth: tuple[float, ...]
    fps: float
    width: int


@dataclass
class MotionTrainResult:
    weights: Path
    train_videos: int
    val_videos: int
    losses: list[float] = field(default_factory=list)
    val_f1: float = 0.0
    val_precision: float = 0.0
    val_recall: float = 0.0
    threshold: float = 0.0


def ignored_times(example: Example) -> tuple[float, ...]:
    stem = example.video.name.rsplit(".", 1)[0].removesuffix("_denoised")
    path = example.video.with_name(stem + IGNORE_SUFFIX)
    return read_times(path) if path.is_file() else ()


def clip_features(example: Example, cache: Optional[Path] = None) -> ClipFeatures:
    """Extract (or read from ``cache``) one video's features and label its frames."""
    from syncfoley.core.identity import file_identity
    from syncfoley.engine.detect.motion_features import NAMES
    from syncfoley.engine.detect.physics import PhysicsDetectorConfig, physics_features_of
    from syncfoley.engine.media.video import analysis_size, probe
    from syncfoley.engine.types import TimeRange

    info = probe(example.video)
    width, _ = analysis_size(info.width, info.height, PhysicsDetectorConfig().motion.width)
    key = hashlib.sha256(repr((file_identity(example.video), NAMES, PhysicsDetectorConfig())).encode()).hexdigest()[:20]
    cached = cache / f"{example.video.stem}-{key}.npz" if cache is not None else None
    if cached is not None and cached.is_file():
        with np.load(cached, allow_pickle=False) as d:
            times, index, values, where, lost = d["times"], d["index"], d["values"], d["where"], d["lost"]
    else:
        t, feats = physics_features_of(example.video, info, TimeRange(0.0, info.duration))
        times = np.array(t, np.float64)
        index = np.array([f.index for f in feats], np.int64)
        values = np.stack([f.values for f in feats]) if feats else np.zeros((0, TOP, FEATURES), np.float32)
        where = np.stack([f.where for f in feats]) if feats else np.zeros((0, TOP, 2), np.float32)
        lost = np.stack([f.lost for f in feats]) if feats else np.zeros((0, TOP), np.float32)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.npz")
            np.savez(tmp, times=times, index=index, values=values, where=where, lost=lost)
            tmp.replace(cached)
    label = frame_labels(times, index, example.onsets, ignored_times(example))
    return ClipFeatures(example.video.stem, times, index, values, where, lost, label, example.onsets, info.fps, width)


def frame_labels(times: np.ndarray, index: np.ndarray, truth, ignore) -> np.ndarray:
    """1 where an impact falls between frame k and k+1, -1 for the frames either side of it
    and within two frames of an ignored contact, else 0; for the scored frames ``index``."""
    full = np.zeros(len(times), np.int8)
    if len(times) == 0:
        return full[index]
    for t in ignore:
        k = int(np.searchsorted(times, t, side="right")) - 1
        full[max(0, k - 2): k + 3] = -1
    for t in truth:
        k = int(np.searchsorted(times, t, side="right")) - 1
        if k < 0:
            continue
        for j in (k - 1, k + 1):
            if 0 <= j < len(full) and full[j] != 1:
                full[j] = -1
        full[k] = 1
    return full[index]


def split_examples(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A stable share of videos held out by a hash of their names (not their order)."""
    def draw(e: Example) -> float:
        h = hashlib.sha256(f"{seed}:{e.video.name}".encode()).digest()
        return int.from_bytes(h[:8], "big") / 2**64
    val = [e for e in examples if draw(e) < fraction]
    train = [e for e in examples if draw(e) >= fraction]
    if not train or not val:
        raise RequestError(f"{len(examples)} annotated videos cannot be split into training and validation; "
                           "give more videos or a separate validation folder (--val DIR)")
    return train, val


def frame_scores(scorer, clip: ClipFeatures) -> np.ndarray:
    """Calibrated probability for every frame of ``clip`` (0 where it cannot be scored)."""
    prob = np.zeros(len(clip.times))
    if len(clip.index):
        logits = scorer.block_logits(clip.values).max(axis=1)
        prob[clip.index] = scorer.probability(logits)
    return prob


def picked_onsets(scorer, clip: ClipFeatures, threshold: float) -> list[float]:
    from syncfoley.engine.detect.physics import MotionAnalysis, PhysicsDetectorConfig, pick_onsets

    prob = frame_scores(scorer, clip)
    n = len(clip.times)
    analysis = MotionAnalysis(list(clip.times), prob, np.full((n, 2), 0.5), np.zeros(n), [])
    return [o.time for o in pick_onsets(analysis, scorer, threshold, PhysicsDetectorConfig().min_gap, clip.fps)]


def match_count(found: list[float], truth, ignore, tol: float) -> tuple[int, int]:
    """(true positives, false positives) for one clip; onsets near ignored contacts count neither way."""
    used: set[int] = set()
    hits = 0
    for t in truth:
        near = [i for i, d in enumerate(found) if i not in used and abs(d - t) <= tol]
        if near:
            used.add(min(near, key=lambda i: abs(found[i] - t)))
            hits += 1
    false = sum(1 for i, d in enumerate(found) if i not in used and not any(abs(d - g) <= tol for g in ignore))
    return hits, false


def train_motion(
    data_dir: str | Path,
    output: str | Path,
    config: MotionTrainConfig = MotionTrainConfig(),
    val_dir: Optional[str | Path] = None,
    cache: Optional[str | Path] = None,
    overwrite: bool = False,
    progress: Optional[Progress] = None,
) -> MotionTrainResult:
    """Train a motion scorer on the annotated videos under ``data_dir``; write it to ``output``."""
    from syncfoley.core.atomic import atomic_path, check_writable
    from syncfoley.engine.detect.motion_scorer import MotionScorer
    from syncfoley.engine.models.checkpoints import import_torch

    check_writable([Path(output)], overwrite)
    torch = import_torch()
    examples = find_examples(data_dir)
    if val_dir is not None:
        train_ex, val_ex = examples, find_examples(val_dir)
    else:
        train_ex, val_ex = split_examples(examples, config.val_fraction, config.seed)
    cache_dir = Path(cache) if cache is not None else None
    clips: list[ClipFeatures] = []
    total = len(train_ex) + len(val_ex)
    for i, e in enumerate(train_ex + val_ex):
        if progress is not None:
            progress(i / total * 0.8, f"motion features of {e.video.name}")
        clips.append(clip_features(e, cache_dir))
    train, val = clips[: len(train_ex)], clips[len(train_ex):]
    x = np.concatenate([c.values[c.label >= 0] for c in train])
    y = np.concatenate([c.label[c.label >= 0] for c in train]).astype(np.float32)
    if y.sum() == 0:
        raise RequestError(f"no annotated impact falls on a scored frame of the {len(train)} training videos")
    flat = x.reshape(-1, FEATURES)
    mean = flat.mean(axis=0)
    scale = flat.std(axis=0) + 1e-3

    torch.manual_seed(config.seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, config.hidden), torch.nn.ReLU(),
        torch.nn.Linear(config.hidden, config.hidden), torch.nn.ReLU(),
        torch.nn.Linear(config.hidden, 1),
    )
    xt = torch.from_numpy((x - mean) / scale).float()
    yt = torch.from_numpy(y)
    pos_weight = torch.tensor(float((y == 0).sum() / max(1.0, y.sum())))
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    losses: list[float] = []
    gen = torch.Generator().manual_seed(config.seed)
    batch = 512
    vx = torch.from_numpy((np.concatenate([c.values[c.label >= 0] for c in val]) - mean) / scale).float()
    vy = np.concatenate([c.label[c.label >= 0] for c in val])
    best_auc, best_state = -1.0, None
    for epoch in range(config.epochs):
        order = torch.randperm(len(yt), generator=gen)
        total_loss = 0.0
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            logits = net(xt[idx]).squeeze(-1).max(dim=1).values
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt[idx], pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += float(loss) * len(idx)
        losses.append(total_loss / len(yt))
        # Early stopping on the validation videos: the epoch that ranks their frames best.
        with torch.no_grad():
            score = net(vx).squeeze(-1).max(dim=1).values.numpy()
        auc = rank_auc(score, vy)
        if auc > best_auc:
            best_auc, best_state = auc, {k: v.clone() for k, v in net.state_dict().items()}
        if progress is not None:
            progress(0.8 + 0.15 * (epoch + 1) / config.epochs, f"epoch {epoch + 1}: loss {losses[-1]:.4f}")

    if best_state is not None:
        net.load_state_dict(best_state)
    layers = tuple((m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
                   for m in net if isinstance(m, torch.nn.Linear))
    pos = np.concatenate([c.lost[c.label == 1].max(axis=1) * c.fps / c.width for c in train])
    scorer = MotionScorer(mean=mean.astype(np.float32), scale=scale.astype(np.float32), layers=layers,
                          calibration=(1.0, 0.0), threshold=0.5, offset=_offset(train),
                          full_strength=float(np.quantile(pos, 0.9)) if pos.size else 1.0)
    scorer = _calibrate(scorer, val)
    threshold, (f1, p, r) = _tune_threshold(scorer, val, val_ex)
    scorer = MotionScorer(**{**scorer.__dict__, "threshold": threshold, "source": str(output)})
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, overwrite) as tmp:
        arrays: dict[str, Any] = scorer.to_arrays()
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return MotionTrainResult(out, len(train), len(val), losses, f1, p, r, threshold)


def rank_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive outranks a random negative."""
    pos, neg = int((label == 1).sum()), int((label == 0).sum())
    if pos == 0 or neg == 0:
        return 0.5
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    return float((ranks[label == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _offset(train: list[ClipFeatures]) -> float:
    """Mean position of the annotated impacts within their labelled frame, in frames."""
    fractions = []
    for c in train:
        for t in c.truth:
            k = int(np.searchsorted(c.times, t, side="right")) - 1
            if 0 <= k < len(c.times) - 1:
                fractions.append((t - c.times[k]) / (c.times[k + 1] - c.times[k]))
    return float(np.mean(fractions)) if fractions else 0.5


def _calibrate(scorer, val: list[ClipFeatures]):
    """Platt scaling of the frame logit on the validation frames (labels 0/1)."""
    from syncfoley.engine.detect.motion_scorer import MotionScorer

    logits = np.concatenate([scorer.block_logits(c.values[c.label >= 0]).max(axis=1) for c in val])
    labels = np.concatenate([c.label[c.label >= 0] for c in val]).astype(np.float64)
    if labels.sum() == 0 or labels.sum() == len(labels):
        return scorer
    a, b = 1.0, 0.0
    for _ in range(50):  # Newton's method on the logistic log-likelihood
        p = 1.0 / (1.0 + np.exp(-(a * logits + b)))
        g = np.array([((p - labels) * logits).sum(), (p - labels).sum()])
        w = p * (1 - p) + 1e-9
        h = np.array([[(w * logits * logits).sum(), (w * logits).sum()], [(w * logits).sum(), w.sum()]])
        step = np.linalg.solve(h + 1e-6 * np.eye(2), g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return MotionScorer(**{**scorer.__dict__, "calibration": (float(a), float(b))})


def _tune_threshold(scorer, val: list[ClipFeatures], examples: list[Example]) -> tuple[float, tuple[float, float, float]]:
    """The probability threshold with the best pooled F1 within +-0.1 s on validation."""
    ignores = [ignored_times(e) for e in examples]
    best = (0.5, (-1.0, 0.0, 0.0))
    for thr in np.linspace(0.05, 0.95, 37):
        hits = false = truth = 0
        for clip, ignore in zip(val, ignores):
            found = picked_onsets(scorer, clip, float(thr))
            h, f = match_count(found, clip.truth, ignore, 0.1)
            hits, false, truth = hits + h, false + f, truth + len(clip.truth)
        p = hits / (hits + false) if hits + false else 1.0
        r = hits / truth if truth else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best[1][0]:
            best = (float(thr), (f1, p, r))
    return best
