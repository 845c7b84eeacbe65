"""An experiment, not the product: does the history of the object at each candidate onset,
followed along its path, add to the onset verifier's confidence?

The networks' features follow a block's path two frames either way; the verifier reads
numbers around the candidate frame. A falling object speeds up along one path for many
frames before it stops, and stays stopped; a block that slows by the same amount for any
other reason (camera shake the fit leaves, noise, a turning pendulum) does not. This
follows the object from the candidate's place through the detector's own camera-free block
motion (:class:`~syncfoley.engine.detect.flow_field.FlowMatcher`), ``BACK`` frames back
(each step the position less the block motion sampled bilinearly there) and ``ON`` on (plus
it), and keeps per step the speed and the signed vertical and horizontal velocity.

The candidates are the scorer's at threshold 0 (every one the verifier judges), labelled as
``compare_scorers.py`` counts (matched within 0.1 s: true; unmatched and not near a contact
in the truth's band: false; the rest left out). Gradient-boosted trees (scikit-learn's
``HistGradientBoostingClassifier``) are fitted out of fold, five folds grouped by clip (five
ways of dealing the clips into folds), on the confidence alone, on the confidence with the
path and on the path alone; printed per fit are the candidate ROC AUC and the most candidate
recall at candidate precision 0.9, the mean over the five and their range (and for the
confidence itself, unfitted). The motion is kept in ``--fields`` (a file per clip; the video is decoded
again once)::

    python bench/candidate_path.py engine/detect/weights/motion_scorer.npz --data C/val5 \\
        --cache C/features --fields C/fields

docs/physics-detector.md (RULE34) has what it gave on ``val5``: inconclusive.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_detection import auc  # noqa: E402

BACK, ON = 12, 6  # frames followed back from the candidate's, and on
FOLDS = 5
# Trees fitted on a thousand candidates move by a hundredth of recall with the rounding of their
# inputs (numbers 2e-5 apart gave 0.828 against 0.839): each fit is repeated with the clips dealt
# into folds differently, and the mean and the range printed.
REPEATS = 5
PRECISION = 0.9


def sample(field: np.ndarray, y: float, x: float, block: int) -> np.ndarray:
    """The block motion (dy, dx) of ``field`` (rows, cols, 2) at pixel (``y``, ``x``),
    bilinear between block centres, held at the edge blocks."""
    rows, cols = field.shape[:2]
    fy = float(np.clip((y - block / 2) / block, 0, rows - 1))
    fx = float(np.clip((x - block / 2) / block, 0, cols - 1))
    y0, x0 = int(fy), int(fx)
    y1, x1 = min(y0 + 1, rows - 1), min(x0 + 1, cols - 1)
    ay, ax = fy - y0, fx - x0
    return ((1 - ay) * (1 - ax) * field[y0, x0] + (1 - ay) * ax * field[y0, x1]
            + ay * (1 - ax) * field[y1, x0] + ay * ax * field[y1, x1])


def follow(fields: np.ndarray, k: int, y: float, x: float, block: int) -> np.ndarray:
    """The object at (``y``, ``x``) in frame ``k``, followed through ``fields`` (frame i to
    i + 1 at index i): its motion into frames k - BACK + 1 .. k, then out of frames k ..
    k + ON - 1, as (BACK + ON, 2) rows of (dy, dx); zero beyond the clip's ends."""
    steps = []
    py, px = y, x
    for j in range(k, k - BACK, -1):
        v = sample(fields[j - 1], py, px, block) if 1 <= j <= len(fields) else np.zeros(2)
        steps.append(v)
        py, px = py - v[0], px - v[1]
    steps.reverse()
    py, px = y, x
    for j in range(k, k + ON):
        v = sample(fields[j], py, px, block) if 0 <= j < len(fields) else np.zeros(2)
        steps.append(v)
        py, px = py + v[0], px + v[1]
    return np.array(steps, np.float64)


def path_numbers(steps: np.ndarray) -> np.ndarray:
    """Per step the speed (log(1 + px/frame)) and the signed velocity, log-compressed by sign."""
    def signed(v: np.ndarray) -> np.ndarray:
        return np.sign(v) * np.log1p(np.abs(v))

    return np.concatenate([np.log1p(np.hypot(steps[:, 0], steps[:, 1])), signed(steps[:, 0]), signed(steps[:, 1])])


def clip_fields(video: Path, out: Path) -> tuple[np.ndarray, np.ndarray, tuple[int, int], int]:
    """(frame times, camera-free block motion of each frame pair, analysed (height, width),
    block size) of ``video``, from ``out`` where it is kept, computed and kept there where not."""
    from syncfoley.engine.detect.flow_field import FlowMatcher
    from syncfoley.engine.detect.physics import PhysicsDetectorConfig, analysis_frames
    from syncfoley.engine.media.video import probe
    from syncfoley.engine.types import TimeRange

    dest = out / f"{video.stem}.npz"
    if not dest.is_file():
        cfg = PhysicsDetectorConfig()
        info = probe(video)
        matcher: Optional[FlowMatcher] = None
        prev = None
        times, fields = [], []
        for t, img in analysis_frames(video, info, TimeRange(0.0, info.duration), cfg):
            if matcher is None:
                matcher = FlowMatcher(img.shape, cfg.motion)
            if prev is not None:
                fields.append(matcher.field(prev, img).vectors.astype(np.float32))
            prev = img
            times.append(t)
        if prev is None or not fields:
            raise ValueError(f"{video}: fewer than two frames")
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f"{video.stem}.tmp.npz"
        np.savez(tmp, times=np.array(times), fields=np.stack(fields), size=np.array(prev.shape),
                 block=np.array(cfg.motion.block))
        tmp.replace(dest)
    with np.load(dest) as d:
        size = (int(d["size"][0]), int(d["size"][1]))
        return d["times"], d["fields"], size, int(d["block"])


def candidates(scorer, folders: list[Path], cache: Optional[Path], fields_dir: Path):
    """Per candidate: the path's numbers, whether it is true, its clip's number, its confidence."""
    import compare_scorers as cs

    rows, labels, groups, conf = [], [], [], []
    for n, clip in enumerate(cs.load_clips(folders, [scorer], cache)):
        times, fields, (height, width), block = clip_fields(clip.video, fields_dir)
        every = cs.every_onset(scorer, clip, clip.summaries[0], clip.blocks[0])
        _, ok, neutral = cs.judged(clip, [o.time for o in every])
        for onset, good, left_out in zip(every, ok, neutral):
            if left_out:
                continue
            k = int(np.argmin(np.abs(times - onset.time)))
            rows.append(path_numbers(follow(fields, k, onset.y * height, onset.x * width, block)))
            labels.append(bool(good))
            groups.append(n)
            conf.append(onset.confidence)
    return np.array(rows), np.array(labels), np.array(groups), np.array(conf)


def out_of_fold(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int, make: Optional[Callable[[], Any]] = None,
                counted: Optional[np.ndarray] = None) -> np.ndarray:
    """Each candidate's probability from a classifier fitted without its clip (clips dealt into
    ``FOLDS`` folds by ``seed``): ``make()`` (gradient-boosted trees when not given), fitted on
    the other folds' candidates that are ``counted`` (all when not given)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GroupKFold

    p = np.zeros(len(y))
    for fit, held in GroupKFold(FOLDS, shuffle=True, random_state=seed).split(x, y, groups):
        if counted is not None:
            fit = fit[counted[fit]]
        model = make() if make is not None else HistGradientBoostingClassifier(random_state=0)
        p[held] = model.fit(x[fit], y[fit]).predict_proba(x[held])[:, 1]
    return p


def recall_at_precision(p: np.ndarray, y: np.ndarray, precision: float = PRECISION) -> float:
    """The most of the true candidates kept by any threshold on ``p`` whose kept candidates
    are at least ``precision`` true."""
    order = np.argsort(-p, kind="stable")
    kept_true = np.cumsum(y[order])
    # Only where the next score differs is a threshold: tied candidates are kept together.
    ends = np.r_[np.nonzero(np.diff(p[order]))[0], len(p) - 1]
    ok = kept_true[ends] / (ends + 1) >= precision
    return float(kept_true[ends][ok].max() / y.sum()) if ok.any() and y.sum() else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scorer", type=Path, help="motion-scorer .npz (with its verifier)")
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="annotated folders (not the test split)")
    parser.add_argument("--cache", type=Path, help="motion features kept between runs")
    parser.add_argument("--fields", type=Path, required=True, help="folder the block motion is kept in")
    args = parser.parse_args(argv)
    import compare_scorers as cs

    from syncfoley.core.errors import SyncfoleyError
    from syncfoley.engine.detect.motion_scorer import load_scorer

    missing = [str(d) for d in args.data if not d.is_dir()]
    if missing:
        print(f"error: not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        scorer = cs.from_features(load_scorer(args.scorer))
        x, y, groups, conf = candidates(scorer, args.data, args.cache, args.fields)
    except SyncfoleyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an unreadable clip, a --fields or --cache that cannot be written
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    with_candidates = len(set(groups.tolist()))
    if with_candidates < FOLDS or y.all() or not y.any():
        print(f"error: the fits need true and false candidates from {FOLDS} clips or more; "
              f"these folders give {len(y)} candidates from {with_candidates} clips", file=sys.stderr)
        return 2
    print(f"{len(y)} candidates, {int(y.sum())} true, {with_candidates} clips")
    print(f"{'':<30}{'AUC':>7}{'R@P.9':>8}   (mean of {REPEATS} ways of dealing the folds; range)")
    print(f"{'the confidence itself':<30}{auc(list(conf), list(y)):>7.3f}{recall_at_precision(conf, y):>8.3f}")
    for name, features in (("the confidence, fitted", conf[:, None]),
                           ("the confidence and the path", np.column_stack([conf, x])),
                           ("the path alone", x)):
        runs = [out_of_fold(features, y, groups, seed) for seed in range(REPEATS)]
        a = [auc(list(p), list(y)) for p in runs]
        r = [recall_at_precision(p, y) for p in runs]
        print(f"{name:<30}{np.mean(a):>7.3f}{np.mean(r):>8.3f}   AUC {min(a):.3f}-{max(a):.3f}, "
              f"R@P.9 {min(r):.3f}-{max(r):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
