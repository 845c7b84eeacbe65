"""Training the physics detector's motion scorer on videos with annotated impacts.

Data layout (the Greatest Hits one, as for ``train-onset``): per video a
``NAME.times.csv`` of impact times beside ``NAME.mp4`` (or ``NAME_denoised.mp4``);
optionally ``NAME.ignore.csv``, contacts too gentle to call either way (frames near them
are left out of the loss). Folders are searched recursively.

Where an impact happened helps a great deal: with only its time, the network must guess
which of a frame's blocks was hit. A ``NAME.truth.json`` beside the video (what
``bench/physics_corpus.py`` writes) may give it: ``{"impacts": [{"time": s, "x": 0..1,
"y": 0..1}, ...], "band": [...]}``, ``x``/``y`` across the picture from the top left;
``band`` holds the contacts of ``NAME.ignore.csv`` with their places.

Each clip's motion features (:mod:`motion_features`) are extracted once and cached, for
every block of every frame, as detection scores them. Frame ``k`` holds an impact when an annotated time falls in
``[t_k, t_k+1)``. Each frame gives the loss up to two bags of blocks, scored by their best
block as detection does:

- the *impact* bag (label 1): with places, the blocks of frame k within ``NEAR`` picture
  widths of the impact; without, all of frame k's blocks (the impact is somewhere);
- the *quiet* bag (label 0): every block with no impact near it; with places, that is also
  the rest of an impact's own frame (another thing moving while one is hit); without,
  only frames with no impact at k-1..k+1.

Blocks near an impact in the frames either side of it (motion blur, a late impact) and
near an ignored contact (two frames either way) are in neither bag. The loss is binary
cross-entropy, impact bags weighted by the quiet/impact ratio.

On the validation videos (``val_dir``, else a held-out share of the training videos):
Platt scaling makes the frame probability calibrated, and the threshold used at
sensitivity 0.5 is the one with the best F1 of picked onsets within +-0.1 s.
:func:`tune_motion` refits those two on other annotated videos, keeping the networks,
and fits the onset verifier there (:func:`fit_verifier`; the shipped weights' on 272
validation clips, seven times the ones that chose the networks' epoch).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from syncfoley.core.errors import FormatError, RequestError
from syncfoley.core.progress import Progress
from syncfoley.engine.detect.motion_features import FEATURES
from syncfoley.engine.detect.onset_training import TIMES_SUFFIX, Example, find_examples, read_times
from syncfoley.engine.types import Onset

IGNORE_SUFFIX = ".ignore.csv"
TRUTH_SUFFIX = ".truth.json"
# Blocks within NEAR picture widths of an impact are its bag; none within AROUND is quiet.
NEAR = 0.08
AROUND = 0.25


@dataclass(frozen=True)
class MotionTrainConfig:
    hidden: int = 64
    epochs: int = 60
    lr: float = 3e-3
    weight_decay: float = 1e-3
    val_fraction: float = 0.2
    seed: int = 0
    # Blocks of each quiet frame trained on (see bag_arrays); None for all. 256 of a 512-pixel
    # picture's 576 blocks: with 128, a few of the blocks that scored highest on clips where
    # only smooth things move were never among those trained on.
    quiet_blocks: Optional[int] = 256
    # Networks in the committee, each from its own seed (seed, seed + 1, ...); their mean
    # logit is the score. Three tied one on the validation clips (F1 0.755 against 0.751)
    # and beat it on validation clips at 720p/1080p (0.86 against 0.80). One network: 1.
    members: int = 3


@dataclass
class ClipFeatures:
    """One video's features and labels: ``values`` (frames, blocks, FEATURES),
    ``label`` 1/0/-1 (impact, none, left out) per scored frame, the bags (``impact``,
    ``quiet``: frames x blocks, see the module's doc); ``times`` of every frame."""

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
    impact: np.ndarray
    quiet: np.ndarray


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


@dataclass
class MotionTuneResult:
    weights: Path
    videos: int
    val_f1: float
    val_precision: float
    val_recall: float
    threshold: float


def sidecar(example: Example, suffix: str) -> Path:
    """The file beside an example's video that ends in ``suffix`` (``NAME_denoised.mp4``
    shares ``NAME``'s)."""
    stem = example.video.name.rsplit(".", 1)[0].removesuffix("_denoised")
    return example.video.with_name(stem + suffix)


def ignored_times(example: Example) -> tuple[float, ...]:
    path = sidecar(example, IGNORE_SUFFIX)
    return read_times(path) if path.is_file() else ()


Place = tuple[float, float, float]  # time (s), x, y (0..1 across the picture)


def impact_places(example: Example) -> Optional[tuple[list[Place], list[Place]]]:
    """(impacts, ignored contacts) with their places from ``NAME.truth.json``, or None
    when there is no such file. The impacts must be the times of ``NAME.times.csv``: a
    file that disagrees is an error, not a silent second truth."""
    import json

    path = sidecar(example, TRUTH_SUFFIX)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        lists = [[(float(i["time"]), float(i["x"]), float(i["y"])) for i in data.get(key, [])]
                 for key in ("impacts", "band")]
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise RequestError(f"{path}: not a truth file of impacts with places ({exc.__class__.__name__}: {exc}); "
                           'expected {"impacts": [{"time": s, "x": 0..1, "y": 0..1}, ...], "band": [...]}') from None
    impacts, band = lists
    if sorted(round(t, 3) for t, _, _ in impacts) != sorted(round(t, 3) for t in example.onsets):
        raise RequestError(f"{path}: its {len(impacts)} impacts are not the {len(example.onsets)} times of "
                           f"{path.name.removesuffix(TRUTH_SUFFIX)}.times.csv; write both from the same annotation")
    # Ignored contacts may lie outside the picture (a fast hit just out of frame); impacts may not.
    bad = [p for p in impacts if not (0.0 <= p[1] <= 1.0 and 0.0 <= p[2] <= 1.0)]
    if bad:
        raise RequestError(f"{path}: a place must be 0..1 across the picture; got x={bad[0][1]}, y={bad[0][2]}")
    return impacts, band


def clip_features(example: Example, cache: Optional[Path] = None) -> ClipFeatures:
    """Extract (or read from ``cache``) one video's features and label its frames."""
    from syncfoley.core.identity import file_identity
    from syncfoley.engine.detect.motion_features import NAMES
    from syncfoley.engine.detect.physics import PhysicsDetectorConfig, analysed_size, physics_features_of
    from syncfoley.engine.media.video import probe
    from syncfoley.engine.types import TimeRange

    info = probe(example.video)
    ignore = ignored_times(example)
    _check_within(example, ignore, info.duration, info.fps)
    cfg = PhysicsDetectorConfig()
    width, height = analysed_size(info, cfg)
    parts: tuple = (file_identity(example.video), NAMES, cfg)
    if width > info.width:
        # Scaled up since 2026-12-06: features cached before then were measured at the
        # picture's own size. Pictures scaled down keep their keys (nothing changed there).
        parts += ((width, height),)
    key = hashlib.sha256(repr(parts).encode()).hexdigest()[:20]
    cached = cache / f"{example.video.stem}-{key}.npz" if cache is not None else None
    stored = _cached_features(cached) if cached is not None and cached.is_file() else None
    if stored is not None:
        times, index, values, where, lost = stored
    else:
        t, feats = physics_features_of(example.video, info, TimeRange(0.0, info.duration), cfg)
        times = np.array(t, np.float64)
        index = np.array([f.index for f in feats], np.int64)
        values = np.stack([f.values for f in feats]) if feats else np.zeros((0, 0, FEATURES), np.float32)
        where = np.stack([f.where for f in feats]) if feats else np.zeros((0, 0, 2), np.float32)
        lost = np.stack([f.lost for f in feats]) if feats else np.zeros((0, 0), np.float32)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.npz")
            np.savez(tmp, times=times, index=index, values=values, where=where, lost=lost)
            tmp.replace(cached)
    label = frame_labels(times, index, example.onsets, ignore)
    places = impact_places(example)
    if places is None:
        impact, quiet = frame_bags(label, values.shape[1])
    else:
        impact, quiet = place_bags(times, index, where, places[0], places[1], height / width)
    return ClipFeatures(example.video.stem, times, index, values, where, lost, label, example.onsets, info.fps, width,
                        impact, quiet)


def _check_within(example: Example, ignore: Sequence[float], duration: float, fps: float) -> None:
    """Annotated times (the impacts and the ``ignore``d contacts) inside the video: times written
    in milliseconds or frames would otherwise all fall past the end and train the networks on
    no impact at all."""
    for suffix, times in ((TIMES_SUFFIX, example.onsets), (IGNORE_SUFFIX, ignore)):
        late = [t for t in times if t > duration + 1.0 / max(fps, 1.0)]
        if late:
            raise FormatError(f"{sidecar(example, suffix)}: time {late[0]:g} is past the end of {example.video.name} "
                              f"({duration:.3f} s); times are seconds from its first frame (valid: 0 to {duration:.3f})")


def _cached_features(cached: Path) -> Optional[tuple[np.ndarray, ...]]:
    """A cache entry's arrays; None for a damaged one (a cut-short copy, a full disk), which is
    then computed again, not trusted."""
    import zipfile

    try:
        with np.load(cached, allow_pickle=False) as d:
            return tuple(d[k] for k in ("times", "index", "values", "where", "lost"))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, MemoryError):
        return None


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


def frame_bags(label: np.ndarray, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Bags without places: an impact frame's blocks are its impact bag, a frame with no
    impact near is all quiet."""
    impact = np.repeat((label == 1)[:, None], blocks, axis=1)
    quiet = np.repeat((label == 0)[:, None], blocks, axis=1)
    return impact, quiet


def place_bags(times: np.ndarray, index: np.ndarray, where: np.ndarray, impacts: list[Place], band: list[Place],
               aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """Bags with places (see the module's doc). ``where``: (frames, blocks, 2) block
    centres; ``aspect``: picture height / width, so that distances are in picture widths."""
    impact = np.zeros(where.shape[:2], bool)
    quiet = np.ones(where.shape[:2], bool)
    if len(times) == 0 or len(index) == 0:
        return impact, quiet
    row = {int(k): i for i, k in enumerate(index)}

    def distance(i: int, x: float, y: float) -> np.ndarray:
        return np.hypot(where[i, :, 0] - x, (where[i, :, 1] - y) * aspect)

    for t, x, y in band:
        k = int(np.searchsorted(times, t, side="right")) - 1
        for j in range(k - 2, k + 3):
            if j in row:
                quiet[row[j]] &= distance(row[j], x, y) >= AROUND
    for t, x, y in impacts:
        k = int(np.searchsorted(times, t, side="right")) - 1
        for j in (k - 1, k, k + 1):
            if j in row:
                d = distance(row[j], x, y)
                quiet[row[j]] &= d >= AROUND
                if j == k:
                    impact[row[j]] |= d < NEAR
    return impact, quiet


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


def without_blocks(clip: ClipFeatures) -> ClipFeatures:
    """``clip`` without its blocks' features, for when only its labels, bags or frame
    summaries are needed: every block of every frame of a few hundred clips is several GB.
    A fresh empty array, as a slice would keep the whole buffer alive."""
    return replace(clip, values=np.zeros((0, *clip.values.shape[1:]), np.float32))


def frame_summaries(scorer, clip: ClipFeatures) -> np.ndarray:
    """Each scored frame's summary for the onset verifier (column 0: its best block's
    logit, uncalibrated; see :func:`~syncfoley.engine.detect.onset_verifier.frame_summary`),
    worked out once per clip: it is all that calibration, the threshold and the verifier need."""
    from syncfoley.engine.detect.onset_verifier import SUMMARY, frame_summary

    if not len(clip.index):
        return np.zeros((0, SUMMARY), np.float32)
    out = [frame_summary(scorer.block_logits(clip.values[i:i + 256]), clip.values[i:i + 256],
                         clip.where[i:i + 256], clip.lost[i:i + 256]) for i in range(0, len(clip.index), 256)]
    return np.concatenate(out)


def frame_blocks(scorer, clip: ClipFeatures, summaries: np.ndarray) -> dict[int, np.ndarray]:
    """The strong blocks detection keeps of each frame that may be a candidate
    (:func:`~syncfoley.engine.detect.place_peaks.strong_blocks`), for impacts at a second
    place; ``clip`` must still have its blocks' features."""
    from syncfoley.engine.detect.onset_verifier import CANDIDATE
    from syncfoley.engine.detect.place_peaks import LOST, strong_blocks

    out = {}
    for j in np.flatnonzero(scorer.probability(summaries[:, 0]) >= CANDIDATE) if len(summaries) else []:
        logits = scorer.block_logits(clip.values[j])
        rows = strong_blocks(logits, clip.where[j], clip.lost[j], scorer.probability(logits) >= CANDIDATE)
        rows[:, LOST] *= clip.fps / clip.width
        out[int(clip.index[j])] = rows
    return out


def clip_analysis(scorer, clip: ClipFeatures, summaries: np.ndarray, blocks: Optional[dict[int, np.ndarray]] = None):
    """What detection's analysis holds for ``clip``: with ``blocks`` (:func:`frame_blocks`),
    the candidate frames' places and impacts at a second place; without, no places."""
    from syncfoley.engine.detect.onset_verifier import CANDIDATE, UNSCORED
    from syncfoley.engine.detect.physics import MotionAnalysis
    from syncfoley.engine.detect.place_peaks import X, Y

    n = len(clip.times)
    logit = np.full(n, UNSCORED)
    logit[clip.index] = summaries[:, 0]
    prob = np.zeros(n)  # a frame that cannot be scored has none
    prob[clip.index] = scorer.probability(summaries[:, 0])
    rows = {int(k): summaries[j] for j, k in enumerate(clip.index) if prob[k] >= CANDIDATE}
    where = np.full((n, 2), 0.5)
    for k, b in (blocks or {}).items():
        where[k] = b[0, [X, Y]]  # the strongest block is the frame's best
    return MotionAnalysis(list(clip.times), prob, where, np.zeros(n), [], logit, rows, dict(blocks or {}))


def picked_onsets(scorer, clip: ClipFeatures, threshold: float, summaries: Optional[np.ndarray] = None,
                  blocks: Optional[dict[int, np.ndarray]] = None) -> list[Onset]:
    """The onsets detection with ``scorer`` at ``threshold`` gives on ``clip`` (times and
    confidences); ``summaries`` from :func:`frame_summaries`, when already known. Without
    ``blocks`` (:func:`frame_blocks`) there are no places, and no impacts at a second
    place: the threshold and the verifier are fitted on the verifier's candidates alone."""
    from syncfoley.engine.detect.physics import PhysicsDetectorConfig, pick_onsets

    summaries = frame_summaries(scorer, clip) if summaries is None else summaries
    return pick_onsets(clip_analysis(scorer, clip, summaries, blocks), scorer, threshold,
                       PhysicsDetectorConfig().min_gap, clip.fps)


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


def examples_under(data_dirs: str | Path | Sequence[str | Path]) -> list[Example]:
    """The annotated videos under one folder or several, each once (a video reached twice, by a
    link or a folder inside another, counts once), folder by folder in the order given: that
    order is the order training and the verifier's folds draw from, so it is part of the recipe."""
    dirs = [data_dirs] if isinstance(data_dirs, (str, Path)) else list(data_dirs)
    if not dirs:
        raise RequestError("give at least one folder of annotated videos")
    seen: dict[Path, Example] = {}
    for d in dirs:
        for e in find_examples(d):
            seen.setdefault(e.video.resolve(), e)
    return list(seen.values())


def train_motion(
    data_dir: str | Path | Sequence[str | Path],
    output: str | Path,
    config: MotionTrainConfig = MotionTrainConfig(),
    val_dir: Optional[str | Path] = None,
    cache: Optional[str | Path] = None,
    overwrite: bool = False,
    progress: Optional[Progress] = None,
) -> MotionTrainResult:
    """Train a motion scorer on the annotated videos under ``data_dir`` (a folder, or several);
    write it to ``output``."""
    from syncfoley.core.atomic import check_writable
    from syncfoley.engine.detect.motion_scorer import MotionScorer, committee
    from syncfoley.engine.models.checkpoints import import_torch

    for name in ("hidden", "epochs", "members"):
        if getattr(config, name) < 1:
            raise RequestError(f"{name} must be 1 or more; got {getattr(config, name)}")
    check_writable([Path(output)], overwrite)
    torch = import_torch()
    examples = examples_under(data_dir)
    if val_dir is not None:
        train_ex, val_ex = examples, find_examples(val_dir)
        both = {e.video.resolve() for e in train_ex} & {e.video.resolve() for e in val_ex}
        if both:
            raise RequestError(f"{len(both)} videos are both training and validation videos (e.g. "
                               f"{sorted(both)[0]}): validation must be videos the networks do not train on")
    else:
        train_ex, val_ex = split_examples(examples, config.val_fraction, config.seed)
    cache_dir = Path(cache) if cache is not None else None
    clips: list[ClipFeatures] = []
    train_bags: list[Bags] = []
    rng = np.random.default_rng(config.seed)
    total = len(train_ex) + len(val_ex)
    for i, e in enumerate(train_ex + val_ex):
        if progress is not None:
            progress(i / total * 0.8, f"motion features of {e.video.name}")
        clip = clip_features(e, cache_dir)
        if i < len(train_ex):
            # A training clip's blocks are needed only in its bags: keeping every block of
            # every frame would hold several GB for a few hundred clips.
            train_bags.append(clip_bags(clip, config.quiet_blocks, rng))
            clip = without_blocks(clip)
        clips.append(clip)
    train, val = clips[: len(train_ex)], clips[len(train_ex):]
    impact_x, quiet_x = stack_bags(train_bags)
    del train_bags
    if len(impact_x) == 0:
        raise RequestError(f"no annotated impact falls on a scored frame of the {len(train)} training videos")
    mean, std = masked_moments([impact_x, quiet_x])
    mean, scale = mean.astype(np.float32), (std + 1e-3).astype(np.float32)

    def tensors(bags: tuple[np.ndarray, np.ndarray]):
        values, mask = bags
        values -= mean  # in place: the training bags are the largest arrays held
        values /= scale
        return torch.from_numpy(values).float(), torch.from_numpy(mask)

    pos, neg = tensors(impact_x), tensors(quiet_x)
    val_bags = tuple(tensors(b) for b in bag_arrays(val, config.quiet_blocks, config.seed))
    members, member_losses = [], []
    for m in range(config.members):
        def report(epoch: int, loss: float, m: int = m) -> None:
            if progress is not None:
                done = (m * config.epochs + epoch + 1) / (config.members * config.epochs)
                progress(0.8 + 0.15 * done, f"network {m + 1} of {config.members}, epoch {epoch + 1}: loss {loss:.4f}")

        layers_m, losses_m = _fit_network(torch, config, config.seed + m, pos, neg, val_bags, report)
        members.append(layers_m)
        member_losses.append(losses_m)
    losses = [float(x) for x in np.mean(member_losses, axis=0)]
    layers = committee(members) if config.members > 1 else members[0]
    hit_lost = np.concatenate([np.where(c.impact, c.lost, 0.0).max(axis=1)[c.impact.any(axis=1)] * c.fps / c.width
                               for c in train])
    scorer = MotionScorer(mean=mean.astype(np.float32), scale=scale.astype(np.float32), layers=layers,
                          calibration=(1.0, 0.0), threshold=0.5, offset=_offset(train),
                          full_strength=float(np.quantile(hit_lost, 0.9)) if hit_lost.size else 1.0)
    val_summaries = [frame_summaries(scorer, c) for c in val]
    scorer = _calibrate(scorer, val, [s[:, 0] for s in val_summaries])
    threshold, (f1, p, r) = _tune_threshold(scorer, val, val_ex, val_summaries)
    out = _write_scorer(replace(scorer, threshold=threshold, source=str(output)), output, overwrite)
    return MotionTrainResult(out, len(train), len(val), losses, f1, p, r, threshold)


def tune_motion(
    data_dirs: Sequence[str | Path],
    output: str | Path,
    weights: Optional[str | Path] = None,
    cache: Optional[str | Path] = None,
    overwrite: bool = False,
    progress: Optional[Progress] = None,
    verifier: bool = True,
    seed: int = 0,
) -> MotionTuneResult:
    """Refit a trained scorer's calibration and its sensitivity-0.5 threshold on the
    annotated videos under ``data_dirs``, keeping its networks, and (``verifier``) fit the
    onset verifier on them (:func:`fit_verifier`); write it to ``output``.

    The scorer is ``weights``, else $SYNCFOLEY_MOTION_WEIGHTS, else the bundled one. The
    operating point is the one thing that depends most on how many validation clips there
    are: F1 flattens near its best, so a few dozen clips put the threshold anywhere along
    a broad ridge. This sets it on as many clips as are given (the networks' epoch still
    chosen on ``train-motion``'s ``--val``), or on a user's own footage.
    """
    from syncfoley.core.atomic import check_writable
    from syncfoley.engine.detect.motion_scorer import BUNDLED, WEIGHTS, load_scorer

    check_writable([Path(output)], overwrite)
    scorer = load_scorer(WEIGHTS.resolve(weights) or BUNDLED)
    examples = examples_under(data_dirs)  # refuses an empty list, as train_motion's
    cache_dir = Path(cache) if cache is not None else None
    if verifier:
        _import_sklearn()
    clips: list[ClipFeatures] = []
    summaries: list[np.ndarray] = []
    for i, e in enumerate(examples):
        if progress is not None:
            progress(0.8 * i / len(examples), f"scoring {e.video.name}")
        clip = clip_features(e, cache_dir)
        summaries.append(frame_summaries(scorer, clip))
        # Only the frame summaries are needed from here on.
        clips.append(without_blocks(clip))
    if not any(c.truth for c in clips):
        raise RequestError(f"none of the {len(clips)} videos under {', '.join(str(d) for d in data_dirs)} has an "
                           "impact in its NAME.times.csv: the threshold needs impacts to find")
    # A picture check was fitted with the verifier being replaced: it goes with it.
    scorer = _calibrate(replace(scorer, verifier=None, picture=None), clips, [s[:, 0] for s in summaries])
    if verifier:
        if progress is not None:
            progress(0.85, "fitting the onset verifier")
        scorer, threshold, (f1, p, r) = fit_verifier(scorer, clips, examples, summaries, seed)
    else:
        threshold, (f1, p, r) = _tune_threshold(scorer, clips, examples, summaries)
    out = _write_scorer(replace(scorer, threshold=threshold, source=str(output)), output, overwrite)
    return MotionTuneResult(out, len(clips), f1, p, r, threshold)


def _write_scorer(scorer, output: str | Path, overwrite: bool) -> Path:
    from syncfoley.core.atomic import atomic_path

    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, overwrite) as tmp:
        arrays: dict[str, Any] = scorer.to_arrays()
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return out


def _fit_network(torch, config: MotionTrainConfig, seed: int, pos, neg, val, report):
    """One network trained on the (impact, quiet) bags from ``seed``; the epoch that ranks the
    validation bags best. Returns its layers as NumPy (weights (in, out), bias) and the losses."""
    pos_x, pos_m = pos
    neg_x, neg_m = neg
    (val_pos, val_neg) = val
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, config.hidden), torch.nn.ReLU(),
        torch.nn.Linear(config.hidden, config.hidden), torch.nn.ReLU(),
        torch.nn.Linear(config.hidden, 1),
    )
    pos_weight = float(len(neg_x)) / max(1, len(pos_x))
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    losses: list[float] = []
    gen = torch.Generator().manual_seed(seed)
    batch = 512
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def bag_logits(x, mask):
        return net(x).squeeze(-1).masked_fill(~mask, -1e4).max(dim=1).values

    best_auc, best_state = -1.0, None
    steps = max(1, (len(neg_x) + batch - 1) // batch)
    pos_batch = max(1, (len(pos_x) + steps - 1) // steps)
    for epoch in range(config.epochs):
        neg_order = torch.randperm(len(neg_x), generator=gen)
        pos_order = torch.randperm(len(pos_x), generator=gen)
        total_loss = 0.0
        for step in range(steps):
            ni = neg_order[step * batch:(step + 1) * batch]
            pi = pos_order[step * pos_batch:(step + 1) * pos_batch]
            loss = bce(bag_logits(neg_x[ni], neg_m[ni]), torch.zeros(len(ni)), reduction="sum")
            if len(pi):
                loss = loss + pos_weight * bce(bag_logits(pos_x[pi], pos_m[pi]), torch.ones(len(pi)), reduction="sum")
            loss = loss / (len(ni) + pos_weight * len(pi))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += float(loss.detach())
        losses.append(total_loss / steps)
        # Early stopping on the validation videos: the epoch that ranks their bags best.
        with torch.no_grad():
            score = np.concatenate([bag_logits(*val_pos).numpy(), bag_logits(*val_neg).numpy()])
        auc = rank_auc(score, np.concatenate([np.ones(len(val_pos[0])), np.zeros(len(val_neg[0]))]))
        if auc > best_auc:
            best_auc, best_state = auc, {k: v.clone() for k, v in net.state_dict().items()}
        report(epoch, losses[-1])
    if best_state is not None:
        net.load_state_dict(best_state)
    layers = tuple((m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
                   for m in net if isinstance(m, torch.nn.Linear))
    return layers, losses


Bags = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def bag_arrays(clips: list[ClipFeatures], keep: Optional[int] = None, seed: int = 0) -> Bags:
    """(values, mask) of every impact bag and every quiet bag of ``clips``, each bag
    padded (mask False) to one size.

    ``keep``: each bag is cut to this many blocks, the three quarters of its own that
    moved most (which decide the bag's best score) and a random rest (so that still blocks
    are seen too); memory and time then no longer grow with the picture's size."""
    rng = np.random.default_rng(seed)
    return stack_bags([clip_bags(c, keep, rng) for c in clips])


def clip_bags(clip: ClipFeatures, keep: Optional[int], rng: np.random.Generator) -> Bags:
    """One clip's (impact, quiet) bags as ``bag_arrays`` cuts them, unpadded."""
    from syncfoley.engine.detect.motion_features import MOTION

    out = []
    for which in ("impact", "quiet"):
        mask = getattr(clip, which)
        rows = np.flatnonzero(mask.any(axis=1))
        v, m = clip.values[rows], mask[rows]
        if keep is not None and v.shape[1] > keep:
            key = np.where(m, v[..., :MOTION].sum(axis=-1), -np.inf)
            top = np.argsort(-key, axis=1, kind="stable")
            most, others = top[:, : keep * 3 // 4], top[:, keep * 3 // 4:]
            rest = np.take_along_axis(others, rng.random(others.shape).argsort(axis=1)[:, : keep - most.shape[1]],
                                      axis=1)
            pick = np.concatenate([most, rest], axis=1)
            v = np.take_along_axis(v, pick[..., None], axis=1)
            m = np.take_along_axis(m, pick, axis=1)
        out.append((v, m))
    return out[0], out[1]


def stack_bags(bags: list[Bags]) -> Bags:
    """Clips' bags (``clip_bags``) as one array per kind, padded (mask False) to one size.
    Filled in place: padding each clip's and then joining them would hold three copies."""
    out = []
    for kind in (0, 1):
        parts = [b[kind] for b in bags]
        n = max((v.shape[1] for v, _ in parts), default=0)
        rows = sum(len(v) for v, _ in parts)
        values = np.zeros((rows, n, FEATURES), np.float32)
        masks = np.zeros((rows, n), bool)
        at = 0
        for v, m in parts:
            values[at: at + len(v), : v.shape[1]] = v
            masks[at: at + len(v), : m.shape[1]] = m
            at += len(v)
        out.append((values, masks))
    return out[0], out[1]


def masked_moments(bags: list[tuple[np.ndarray, np.ndarray]], chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of every feature over the blocks the masks keep, a
    chunk of bags at a time (a flat copy of every block would double the memory)."""
    total = np.zeros(FEATURES, np.float64)
    square = np.zeros(FEATURES, np.float64)
    count = 0
    for values, mask in bags:
        for i in range(0, len(values), chunk):
            v = values[i: i + chunk][mask[i: i + chunk]].astype(np.float64)
            total += v.sum(axis=0)
            square += np.square(v).sum(axis=0)
            count += len(v)
    mean = total / max(count, 1)
    return mean, np.sqrt(np.maximum(square / max(count, 1) - np.square(mean), 0.0))


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


def _calibrate(scorer, val: list[ClipFeatures], frame_logits: list[np.ndarray]):
    """Platt scaling of the frame logit on the validation frames (labels 0/1)."""
    logits = np.concatenate([f[c.label >= 0] for c, f in zip(val, frame_logits)])
    labels = np.concatenate([c.label[c.label >= 0] for c in val]).astype(np.float64)
    if labels.sum() == 0 or labels.sum() == len(labels):
        return scorer
    return replace(scorer, calibration=_platt(logits, labels))


def _platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(a, b) of the calibrated probability sigmoid(a * logit + b) that fits ``labels`` best."""
    from scipy.special import expit

    if labels.sum() == 0 or labels.sum() == len(labels):
        return 1.0, 0.0

    def loss(a: float, b: float) -> float:
        z = a * logits + b
        return float((np.logaddexp(0.0, z) - labels * z).sum())

    # Newton's method on the logistic log-likelihood, each step halved until the likelihood
    # rises. Full steps alone diverged (a = 3e7: a step function, every threshold alike) on
    # networks whose logits spread over -75..19, far from the start at (1, 0); where full steps
    # converge they are all taken, and the fit is the same to the bit.
    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(50):
        p = expit(a * logits + b)
        g = np.array([((p - labels) * logits).sum(), (p - labels).sum()])
        w = p * (1 - p) + 1e-9
        h = np.array([[(w * logits * logits).sum(), (w * logits).sum()], [(w * logits).sum(), w.sum()]])
        step = np.linalg.solve(h + 1e-6 * np.eye(2), g)
        t = 1.0
        while t > 1e-12:
            trial = loss(a - t * step[0], b - t * step[1])
            # (Float noise at the minimum is no rise: the last, tiny full steps are taken too.)
            if trial <= current - 1e-4 * t * float(g @ step) + 1e-12 * abs(current):
                break
            t /= 2
        else:
            break  # no step lowers the loss: at its minimum as far as float arithmetic can tell
        a, b, current = a - t * step[0], b - t * step[1], trial
        if np.abs(t * step).max() < 1e-8:
            break
    return float(a), float(b)


def _tune_threshold(scorer, val: list[ClipFeatures], examples: list[Example],
                    summaries: list[np.ndarray]) -> tuple[float, tuple[float, float, float]]:
    """The probability threshold with the best pooled F1 within +-0.1 s on validation."""
    ignores = [ignored_times(e) for e in examples]
    return _best_threshold([[(o.time, o.confidence) for o in picked_onsets(scorer, clip, 0.0, s)]
                            for clip, s in zip(val, summaries)], val, ignores)


def _best_threshold(onsets: list[list[tuple[float, float]]], clips: list[ClipFeatures],
                    ignores: list[tuple[float, ...]]) -> tuple[float, tuple[float, float, float]]:
    """Of 0.05 .. 0.95, the threshold on the onsets' (time, probability) with the best pooled
    F1 within +-0.1 s, and its (F1, precision, recall)."""
    best = (0.5, (-1.0, 0.0, 0.0))
    for thr in np.linspace(0.05, 0.95, 37):
        hits = false = truth = 0
        for found, clip, ignore in zip(onsets, clips, ignores):
            h, f = match_count([t for t, p in found if p >= thr], clip.truth, ignore, 0.1)
            hits, false, truth = hits + h, false + f, truth + len(clip.truth)
        p = hits / (hits + false) if hits + false else 1.0
        r = hits / truth if truth else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best[1][0]:
            best = (float(thr), (f1, p, r))
    return best


# The verifier's trees (chosen by cross-validation on the 160 validation clips of seeds
# 0-159; see docs/physics-detector.md): shallow, slowly learned, on four fifths of the candidates each.
VERIFIER_TREES = dict(n_estimators=300, learning_rate=0.03, max_depth=3, subsample=0.8, min_samples_leaf=10)
FOLDS = 5


def _import_sklearn():
    try:
        import sklearn.ensemble
    except ImportError:
        raise RequestError("fitting the onset verifier needs scikit-learn: pip install 'syncfoley[train]' "
                           "(or tune-motion --no-verifier)") from None
    return sklearn.ensemble


def verifier_candidates(scorer, clip: ClipFeatures, summaries: np.ndarray, ignore: Sequence[float]):
    """Every candidate of ``clip`` (see :mod:`onset_verifier`): its time, its features and
    its label (1: the nearest within 0.1 s of an impact; -1: else within 0.1 s of an ignored
    contact; else 0)."""
    from syncfoley.engine.detect.physics import PhysicsDetectorConfig, candidate_inputs, onset_time

    analysis = clip_analysis(scorer, clip, summaries)
    ks, x = candidate_inputs(analysis, PhysicsDetectorConfig().min_gap, clip.fps)
    times = [onset_time(analysis, k, scorer.offset, clip.fps) for k in ks]
    # One onset per impact, as detection is judged: the candidate nearest each impact is
    # true, a second one near it false (left true, the verifier learnt to pass both).
    label = np.array([-1 if any(abs(t - g) <= 0.1 for g in ignore) else 0 for t in times], np.int64)
    for g in clip.truth:
        near = [i for i, t in enumerate(times) if abs(t - g) <= 0.1 and label[i] != 1]
        if near:
            label[min(near, key=lambda i: abs(times[i] - g))] = 1
    return times, x, label


def fit_verifier(scorer, clips: list[ClipFeatures], examples: list[Example], summaries: list[np.ndarray],
                 seed: int = 0):
    """Fit the onset verifier on the candidates of ``clips`` (videos the networks were not
    trained on): gradient-boosted trees, calibrated (Platt) and thresholded (best F1 within
    +-0.1 s) on out-of-fold predictions, the folds splitting clips, not candidates, then
    refitted on all. Returns the scorer with it, the threshold and (F1, precision, recall)
    out of fold."""
    ensemble = _import_sklearn()
    ignores = [ignored_times(e) for e in examples]
    found = [verifier_candidates(scorer, c, s, ig) for c, s, ig in zip(clips, summaries, ignores)]
    x = np.concatenate([f[1] for f in found])
    y = np.concatenate([f[2] for f in found])
    clip_of = np.concatenate([np.full(len(f[2]), i) for i, f in enumerate(found)])
    fold = np.random.default_rng(seed).permutation(len(clips))[clip_of] % FOLDS if len(y) else clip_of
    # Every fold must be judged by trees that saw both kinds of candidate.
    short = [k for k in range(FOLDS) if len(set(y[(fold != k) & (y >= 0)].tolist())) < 2 or not (fold == k).any()]
    if len(clips) < FOLDS or short:
        raise RequestError(f"the onset verifier is fitted and judged on {FOLDS} folds of the videos and needs "
                           f"impacts and look-alikes in each: the {len(clips)} videos give {int((y == 1).sum())} "
                           f"true and {int((y == 0).sum())} false candidates; give more annotated videos (a few "
                           "dozen), or tune with --no-verifier")

    def fit(rows: np.ndarray):
        keep = rows[y[rows] >= 0]
        model = ensemble.GradientBoostingClassifier(**VERIFIER_TREES, init="zero", random_state=seed)
        return verifier_of(model.fit(x[keep], y[keep]))

    raw = np.zeros(len(y))
    for k in range(FOLDS):
        raw[fold == k] = fit(np.flatnonzero(fold != k)).raw(x[fold == k])
    a, b = _platt(raw[y >= 0], (y[y >= 0] == 1).astype(np.float64))
    from scipy.special import expit

    prob = expit(a * raw + b)
    onsets = [list(zip(f[0], prob[clip_of == i])) for i, f in enumerate(found)]
    threshold, figures = _best_threshold(onsets, clips, ignores)
    verifier = replace(fit(np.arange(len(y))), calibration=(a, b))
    return replace(scorer, verifier=verifier, threshold=threshold), threshold, figures


def verifier_of(model):
    """A fitted scikit-learn GradientBoostingClassifier (``init="zero"``, two classes) as
    plain arrays (:class:`~syncfoley.engine.detect.onset_verifier.Verifier`)."""
    from syncfoley.engine.detect.onset_verifier import Verifier

    feature: list[np.ndarray] = []
    split: list[np.ndarray] = []
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    value: list[np.ndarray] = []
    roots: list[int] = []
    base = 0
    for est in model.estimators_[:, 0]:
        tree = est.tree_
        roots.append(base)
        inner = tree.children_left >= 0
        feature.append(np.where(inner, tree.feature, -1))
        split.append(np.where(inner, tree.threshold, 0.0))
        left.append(np.where(inner, tree.children_left + base, 0))
        right.append(np.where(inner, tree.children_right + base, 0))
        value.append(np.where(inner, 0.0, tree.value[:, 0, 0] * model.learning_rate))
        base += len(inner)
    return Verifier(np.concatenate(feature), np.concatenate(split), np.concatenate(left), np.concatenate(right),
                    np.concatenate(value), np.array(roots), (1.0, 0.0))
