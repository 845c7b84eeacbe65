"""An experiment, not the product: does a finer, local second look at each candidate onset
help the onset verifier?

The physics detector's flow (DIS at its ultrafast preset) stops a quarter of the way up the
analysis picture's pyramid, where a patch is 32 pixels across: a small or slow object's
motion is averaged with its background's. At each candidate (the shipped networks' peaks the
verifier judges) this measures the flow at full analysis resolution in a window of
``2 * HALF`` pixels around the best block, over the pairs of frames ``PAIRS`` around it, the
window's brightness matched (flicker) and the camera's motion there taken off (the
detector's own camera fit). Per pair: the speed of the window's fastest tenth, the velocity
of what moves along and across its approach (the pair into the candidate frame), the
grey-level change the flow leaves and the raw change (each over the window's texture); and
the velocity change from pair to pair: ``LOOK`` numbers.

Then verifiers are fitted as ``tune-motion`` fits them (the same trees, folds, calibration
and threshold), once on the verifier's own numbers and once with the look's beside them, on
``--fit`` folders, and judged on each ``--judge`` folder as ``compare_scorers.py`` counts.
Features are read from (or extracted into) ``--cache``; the look is kept in ``--looks``
(about a second a clip: the video is decoded again)::

    python bench/candidate_look.py --fit C/val C/val2 C/val3 --judge C/valhd C/valhd2 --judge C/val4 \\
        --cache C/features --looks C/looks

docs/physics-detector.md has what it gave (refused: more impacts found, and more onsets on smooth-only
clips at 720p/1080p).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_detection import auc, prf  # noqa: E402
from compare_scorers import SWEEP, pooled, tally  # noqa: E402

HALF = 48  # analysis pixels: the window is twice this across
PAIRS = tuple(range(-3, 4))  # the motion into frames k-3 .. k+3 (known when frame k is scored)
LOOK = 5 * len(PAIRS) + len(PAIRS) - 1


@dataclass
class Candidates:
    """One clip's candidates: their times, the verifier's numbers, the look, labels
    (1 impact, 0 none, -1 near a contact in the band) and the clip's truth."""

    folder: str
    times: np.ndarray
    verifier: np.ndarray
    look: np.ndarray
    label: np.ndarray
    truth: dict[str, Any]


def window_look(frames: list[np.ndarray], camera: Callable[[int, int, int], np.ndarray], k: int, x: float, y: float,
                dis) -> np.ndarray:
    """The look at candidate frame ``k`` around (``x``, ``y``) (0..1 across the picture);
    ``camera(i, cx, cy)`` is the camera's motion (dx, dy) into frame i at that pixel."""
    import cv2

    h, w = frames[0].shape
    cx, cy = int(round(x * w)), int(round(y * h))
    x0, y0 = min(max(cx - HALF, 0), max(w - 2 * HALF, 0)), min(max(cy - HALF, 0), max(h - 2 * HALF, 0))
    vel, fast, left, raw = {}, {}, {}, {}
    for j in PAIRS:
        i = k + j
        vel[j], fast[j], left[j], raw[j] = np.zeros(2), 0.0, 0.0, 0.0
        if i - 1 < 0 or i >= len(frames):
            continue
        a = np.ascontiguousarray(frames[i - 1][y0:y0 + 2 * HALF, x0:x0 + 2 * HALF])
        b = frames[i][y0:y0 + 2 * HALF, x0:x0 + 2 * HALF].astype(np.float32)
        b = np.clip(b * (a.mean() + 1.0) / (b.mean() + 1.0), 0, 255).astype(np.uint8)
        flow = dis.calc(a, b, np.empty(0, np.float32))
        moved = flow - camera(i, cx, cy).astype(np.float32)
        speed = np.hypot(moved[..., 0], moved[..., 1])
        fast[j] = float(np.quantile(speed[HALF // 2: HALF // 2 + HALF, HALF // 2: HALF // 2 + HALF], 0.9))
        body = speed >= max(0.5 * fast[j], 0.3)
        vel[j] = moved[body].mean(axis=0) if body.any() else np.zeros(2)
        gy, gx = np.mgrid[0:a.shape[0], 0:a.shape[1]].astype(np.float32)
        warped = cv2.remap(b, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        texture = float(np.abs(np.diff(a.astype(np.float32), axis=1)).mean() + 1.0)
        left[j] = float(cv2.absdiff(warped, a).mean()) / texture
        raw[j] = float(cv2.absdiff(b, a).mean()) / texture
    approach = vel[0] / (float(np.hypot(*vel[0])) + 1e-3)
    along = [float(vel[j] @ approach) for j in PAIRS]
    across = [abs(float(vel[j][0] * approach[1] - vel[j][1] * approach[0])) for j in PAIRS]
    change = [float(np.hypot(*(vel[j + 1] - vel[j]))) for j in PAIRS[:-1]]
    out = [np.log1p(fast[j]) for j in PAIRS] + [np.sign(v) * np.log1p(abs(v)) for v in along]
    out += [np.log1p(v) for v in across] + [np.log1p(left[j]) for j in PAIRS] + [np.log1p(raw[j]) for j in PAIRS]
    return np.array(out + [np.log1p(v) for v in change], np.float32)


def clip_candidates(example, scorer, cache: Path | None, looks: Path) -> Candidates:
    """The candidates of one annotated clip, with the look (from ``looks`` where it is)."""
    import cv2

    from syncfoley.engine.detect.flow_field import FlowMatcher
    from syncfoley.engine.detect.motion_training import (
        clip_features,
        frame_summaries,
        ignored_times,
        verifier_candidates,
        without_blocks,
    )
    from syncfoley.engine.detect.onset_verifier import SUMMARY_NAMES
    from syncfoley.engine.detect.physics import PhysicsDetectorConfig
    from syncfoley.engine.media.video import iter_frames, probe
    from syncfoley.engine.types import TimeRange

    clip = clip_features(example, cache)
    summaries = frame_summaries(scorer, clip)
    clip = without_blocks(clip)
    times, x, label = verifier_candidates(scorer, clip, summaries, ignored_times(example))
    truth = json.loads(example.video.with_name(example.video.stem + ".truth.json").read_text())
    kept = looks / example.video.parent.name / f"{example.video.stem}.npy"
    if kept.is_file():
        look = np.load(kept)
    else:
        # The candidate frames, as detection finds them (verifier_candidates keeps their order).
        from syncfoley.engine.detect.motion_training import clip_analysis
        from syncfoley.engine.detect.physics import candidate_peaks

        ks = candidate_peaks(clip_analysis(scorer, clip, summaries), PhysicsDetectorConfig().min_gap, clip.fps)
        info = probe(example.video)
        cfg = PhysicsDetectorConfig().motion
        frames = [img for _, img in iter_frames(example.video, TimeRange(0.0, info.duration), cfg.width, None, "gray",
                                                None)]
        matcher = FlowMatcher(frames[0].shape, cfg)
        fields: dict[int, np.ndarray] = {}

        def camera(i: int, cx: int, cy: int) -> np.ndarray:
            if i not in fields:
                fields[i] = matcher.field(frames[i - 1], frames[i]).camera
            cam = fields[i]
            r, c = min(max(cy // cfg.block, 0), cam.shape[0] - 1), min(max(cx // cfg.block, 0), cam.shape[1] - 1)
            return cam[r, c][::-1]

        dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        dis.setFinestScale(0)
        xi, yi = SUMMARY_NAMES.index("x"), SUMMARY_NAMES.index("y")
        look = np.array([window_look(frames, camera, k, float(row[xi]), float(row[yi]), dis)
                         for k, row in zip(ks, x)], np.float32).reshape(len(ks), LOOK)
        kept.parent.mkdir(parents=True, exist_ok=True)
        np.save(kept, look)
    return Candidates(example.video.parent.name, np.array(times), x, look, label, truth)


def fit(clips: list[Candidates], columns: Callable[[Candidates], np.ndarray], seed: int = 0):
    """Trees fitted as ``tune-motion`` fits the verifier: (model, calibration, threshold)."""
    from scipy.special import expit
    from sklearn.ensemble import GradientBoostingClassifier

    from syncfoley.engine.detect.motion_training import FOLDS, VERIFIER_TREES, _best_threshold, _platt

    x = np.concatenate([columns(c) for c in clips])
    y = np.concatenate([c.label for c in clips])
    clip_of = np.concatenate([np.full(len(c.label), i) for i, c in enumerate(clips)])
    fold = np.random.default_rng(seed).permutation(len(clips))[clip_of] % FOLDS

    def trees(rows: np.ndarray):
        keep = rows[y[rows] >= 0]
        return GradientBoostingClassifier(**VERIFIER_TREES, init="zero", random_state=seed).fit(x[keep], y[keep])

    raw = np.zeros(len(y))
    for k in range(FOLDS):
        raw[fold == k] = trees(np.flatnonzero(fold != k)).decision_function(x[fold == k])
    a, b = _platt(raw[y >= 0], (y[y >= 0] == 1).astype(np.float64))
    prob = expit(a * raw + b)
    # The threshold tune-motion would choose from these out-of-fold probabilities.
    threshold, _ = _best_threshold([list(zip(c.times, prob[clip_of == i])) for i, c in enumerate(clips)],
                                   [SimpleNamespace(truth=[i["time"] for i in c.truth["impacts"]]) for c in clips],
                                   [[b["time"] for b in c.truth.get("band", [])] for c in clips])
    return trees(np.arange(len(y))), (a, b), threshold


def count(scored: list[tuple[Candidates, np.ndarray]], threshold: float) -> dict[str, float]:
    """Pooled figures at ``threshold``, counted by ``compare_scorers.py``'s own tally."""
    from syncfoley.engine.types import Onset

    total = pooled([tally(c, [Onset(float(t), confidence=float(p)) for t, p in zip(c.times, prob)], threshold)
                    for c, prob in scored])
    precision, recall, f1 = prf(total.hits, total.false, total.truth)
    return dict(f1=f1, precision=precision, recall=recall, smooth=total.smooth, auc=auc(total.conf, total.labels))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", type=Path, nargs="+", required=True, help="folders the verifiers are fitted on")
    parser.add_argument("--judge", type=Path, nargs="+", action="append", required=True,
                        help="folders judged together (give --judge again for another set)")
    parser.add_argument("--cache", type=Path, help="motion features kept between runs")
    parser.add_argument("--looks", type=Path, required=True, help="where the looks are kept")
    args = parser.parse_args(argv)

    from scipy.special import expit

    from syncfoley.core.errors import SyncfoleyError
    from syncfoley.engine.detect.motion_scorer import resolve_scorer
    from syncfoley.engine.detect.motion_training import FOLDS, find_examples

    missing = [str(d) for folders in [args.fit, *args.judge] for d in folders if not d.is_dir()]
    if missing:
        print(f"error: not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        scorer = resolve_scorer(None)

        def load(folders: list[Path]) -> list[Candidates]:
            return [clip_candidates(e, scorer, args.cache, args.looks) for f in folders for e in find_examples(f)]

        fitting = load(args.fit)
        judged = [(" ".join(f.name for f in folders), load(folders)) for folders in args.judge]
    except SyncfoleyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an unreadable clip, a missing NAME.truth.json, a folder that cannot be written
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    kinds = {int(v) for c in fitting for v in c.label if v >= 0}
    if len(fitting) < FOLDS or kinds != {0, 1}:
        print(f"error: the verifiers are fitted on {FOLDS} folds and need impacts and look-alikes: the --fit folders "
              f"hold {len(fitting)} annotated clips with candidates of kinds {sorted(kinds)}; give a few dozen",
              file=sys.stderr)
        return 2
    variants: dict[str, Callable[[Candidates], np.ndarray]] = {
        "verifier": lambda c: c.verifier,
        "verifier and look": lambda c: np.concatenate([c.verifier, c.look], axis=1),
    }
    print(f"{'reads':<20}{'clips':<16}{'thr':>6}{'F1':>7}{'P':>6}{'R':>6}{'smooth':>7}{'AUC':>7}{'best F1':>9}")
    for name, columns in variants.items():
        model, (a, b), threshold = fit(fitting, columns)
        for label, clips in judged:
            scored = [(c, expit(a * model.decision_function(columns(c)) + b) if len(c.label) else np.zeros(0))
                      for c in clips]
            own = count(scored, threshold)
            best = max(count(scored, t)["f1"] for t in SWEEP)
            print(f"{name:<20}{label:<16}{threshold:>6.3f}{own['f1']:>7.3f}{own['precision']:>6.2f}"
                  f"{own['recall']:>6.2f}{own['smooth']:>7}{own['auc']:>7.3f}{best:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
