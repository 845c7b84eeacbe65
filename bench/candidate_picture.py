"""An experiment, not the product: does the picture around each candidate onset add to the
onset verifier's confidence?

Everything the detector reads is motion: the networks' block features, the verifier's
numbers around the frame, and (``candidate_path.py``) the object's path. None of it sees
what is there: an object resting on a surface, touching another, or hanging in the air. This
cuts the detector's own analysis frames (grey, as its flow sees them) around each candidate,
frames ``k - BEFORE`` .. ``k + AFTER`` in a window ``2 * HALF`` pixels across at the
candidate's place, and trains a small convolutional network on them alone (no motion number
goes in) to tell impacts from look-alikes.

The candidates are the scorer's at threshold 0, labelled as ``compare_scorers.py`` counts
(matched within 0.1 s: true; unmatched and not near a contact in the truth's band: false;
the rest neutral, left out of fits and counts). The network is trained on the ``--fit``
folders' candidates, its epoch chosen by candidate ROC AUC on the ``--choose`` folders'
(or loaded with ``--net``, trained by an earlier run's ``-o``). On the ``--judge`` folders:

- per candidate, ROC AUC and the most recall at precision 0.9 of the confidence, of the
  network alone, and of gradient-boosted trees fitted out of fold on the confidence alone
  (A) and beside the network's probability (B), as ``candidate_path.py`` fits them;
- per onset, the detector's own figures (best pooled F1 over ``compare_scorers.SWEEP`` and
  the most recall at pooled precision 0.9), with each candidate's confidence replaced by a
  logistic regression on the log-odds of the confidence (A) and of both (B), fitted out of
  fold (``candidate_path.out_of_fold``) on the judged clips (never on the verifier's own fitting clips, where its confidence
  is in-sample), five folds grouped by clip, five ways of dealing them.

Patches are kept in ``--patches`` (a file per clip; the video is decoded again once)::

    python bench/candidate_picture.py engine/detect/weights/motion_scorer.npz --fit C/train400 \\
        --choose C/val --judge C/val5 --cache C/features --patches C/patches -o C/picture.pt
    python bench/candidate_picture.py engine/detect/weights/motion_scorer.npz --net C/picture.pt \\
        --judge C/mjval2h --cache C/features --patches C/patches

docs/physics-detector.md (RULE35-42) has what it gave.
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_detection import auc  # noqa: E402
from candidate_path import FOLDS, REPEATS, out_of_fold, recall_at_precision  # noqa: E402

BEFORE, AFTER = 6, 3  # frames before and after the candidate's in the stack
HALF = 32  # analysis pixels: the window is twice this across (512 across the picture)
EPOCHS = 15
BATCH = 64


@dataclass
class Candidates:
    """One clip's candidates: every onset at threshold 0, the picture around each, whether
    each is true, and whether it counts neither way."""

    clip: Any  # compare_scorers.Clip
    onsets: list
    patches: np.ndarray  # (n, BEFORE + AFTER + 1, 2 * HALF, 2 * HALF) uint8
    label: np.ndarray
    neutral: np.ndarray


def cut(frames: np.ndarray, k: int, y: float, x: float) -> np.ndarray:
    """Frames ``k - BEFORE`` .. ``k + AFTER`` of ``frames`` (n, height, width), a window
    ``2 * HALF`` across centred on pixel (``y``, ``x``); past the clip's ends and the
    picture's edges the nearest frame and pixel stand in."""
    n, height, width = frames.shape
    cy = min(max(int(round(y)), 0), height - 1)
    cx = min(max(int(round(x)), 0), width - 1)
    idx = np.clip(np.arange(k - BEFORE, k + AFTER + 1), 0, n - 1)
    rows = np.clip(np.arange(cy - HALF, cy + HALF), 0, height - 1)
    cols = np.clip(np.arange(cx - HALF, cx + HALF), 0, width - 1)
    return frames[np.ix_(idx, rows, cols)]


def normalised(patches: np.ndarray) -> np.ndarray:
    """Each stack brought to zero mean and unit spread (its own: flicker and exposure out; the
    one grey level added keeps a flat stack from being blown up to noise)."""
    x = patches.astype(np.float32)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / (x.std(axis=(1, 2, 3), keepdims=True) + 1.0)


def clip_patches(video: Path, onsets: list, keep: Path) -> np.ndarray:
    """The stacks around ``onsets`` in ``video``, from ``keep`` (a folder) when it holds them for
    these very onsets, cut and kept there when not. The clip's analysis frames are held at once
    (about 150 KB each): meant for corpus clips of seconds, not for reels."""
    from syncfoley.engine.detect.physics import PhysicsDetectorConfig, analysis_frames
    from syncfoley.engine.media.video import probe
    from syncfoley.engine.types import TimeRange

    places = np.array([[o.time, o.y, o.x] for o in onsets], np.float64).reshape(-1, 3)
    dest = keep / f"{video.stem}.npz"
    if dest.is_file():
        with np.load(dest) as d:
            if d["places"].shape == places.shape and np.array_equal(d["places"], places):
                return d["patches"]
    info = probe(video)
    times, frames = [], []
    for t, img in analysis_frames(video, info, TimeRange(0.0, info.duration), PhysicsDetectorConfig()):
        times.append(t)
        frames.append(img)
    if not frames:
        raise ValueError(f"{video}: no frames")
    stack, at = np.stack(frames), np.array(times)
    size = 2 * HALF
    patches = np.zeros((len(onsets), BEFORE + AFTER + 1, size, size), np.uint8)
    for i, (t, y, x) in enumerate(places):
        patches[i] = cut(stack, int(np.argmin(np.abs(at - t))), y * stack.shape[1], x * stack.shape[2])
    keep.mkdir(parents=True, exist_ok=True)
    tmp = keep / f"{video.stem}.tmp.npz"
    np.savez(tmp, places=places, patches=patches)
    tmp.replace(dest)
    return patches


def candidates(scorer, folders: list[Path], cache: Optional[Path], keep: Path) -> list[Candidates]:
    import compare_scorers as cs

    out = []
    for clip in cs.load_clips(folders, [scorer], cache):
        every = cs.every_onset(scorer, clip, clip.summaries[0], clip.blocks[0])
        _, ok, neutral = cs.judged(clip, [o.time for o in every])
        out.append(Candidates(clip, every, clip_patches(clip.video, every, keep), np.array(ok, bool).reshape(-1),
                              np.array(neutral, bool).reshape(-1)))
    return out


def picture_net():
    """Three 3 x 3 convolutions (32, 64, 64 channels), each pooled by two; averaged over the
    window; one logit."""
    from torch import nn

    def stage(inp: int, out: int) -> list:
        return [nn.Conv2d(inp, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(*stage(BEFORE + AFTER + 1, 32), *stage(32, 64), *stage(64, 64),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 1))


def predict(model, x: np.ndarray) -> np.ndarray:
    """The network's probability per normalised stack."""
    import torch

    model.eval()
    out = [np.zeros(0, np.float32)]
    with torch.no_grad():
        for i in range(0, len(x), 256):
            out.append(torch.sigmoid(model(torch.from_numpy(x[i:i + 256]))).squeeze(1).numpy())
    return np.concatenate(out)


def train(x: np.ndarray, y: np.ndarray, x_choose: np.ndarray, y_choose: np.ndarray, epochs: int = EPOCHS,
          seed: int = 0, log=print):
    """The network trained on (``x``, ``y``) (stacks mirrored left and right at random; gravity
    keeps up and down), at the epoch whose ROC AUC on (``x_choose``, ``y_choose``) is best."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = picture_net()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    target = torch.from_numpy(y.astype(np.float32))
    best, state = -1.0, None
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(y))
        for i in range(0, len(order), BATCH):
            b = order[i:i + BATCH]
            batch = x[b]
            flip = rng.random(len(b)) < 0.5
            batch[flip] = batch[flip][..., ::-1]
            opt.zero_grad()
            loss = loss_fn(model(torch.from_numpy(batch)).squeeze(1), target[b])
            loss.backward()
            opt.step()
        score = auc(list(predict(model, x_choose)), list(y_choose))
        log(f"  epoch {epoch + 1}: choosing AUC {score:.3f}")
        if score > best:
            best, state = score, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    return model


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def with_confidence(found: list[Candidates], p: np.ndarray) -> list[list]:
    """Every clip's onsets with their confidences replaced by ``p`` (in the order of ``found``)."""
    every, i = [], 0
    for c in found:
        every.append([dataclasses.replace(o, confidence=float(p[i + j])) for j, o in enumerate(c.onsets)])
        i += len(c.onsets)
    return every


def onset_figures(clips: list, every: list[list]) -> tuple[float, float, float, int]:
    """(best pooled F1, its threshold, most recall at pooled precision 0.9, onsets on
    smooth-only clips at that threshold) over ``compare_scorers.SWEEP``."""
    from compare_scorers import PRECISION_TARGET, SWEEP, pooled, tally

    best, best_t, reach, smooth = 0.0, SWEEP[0], 0.0, 0
    for t in SWEEP:
        total = pooled([tally(c, e, t) for c, e in zip(clips, every)])
        p, r, f = total.scores
        if f > best:
            best, best_t, smooth = f, t, total.smooth
        if p >= PRECISION_TARGET:
            reach = max(reach, r)
    return best, best_t, reach, smooth


def flat(found: list[Candidates]) -> tuple[np.ndarray, ...]:
    """Stacks, labels, neutral flags, clip numbers and confidences of every candidate."""
    size = 2 * HALF
    patches = np.concatenate([c.patches for c in found] + [np.zeros((0, BEFORE + AFTER + 1, size, size), np.uint8)])
    label = np.concatenate([c.label for c in found] + [np.zeros(0, bool)])
    neutral = np.concatenate([c.neutral for c in found] + [np.zeros(0, bool)])
    groups = np.concatenate([np.full(len(c.onsets), n) for n, c in enumerate(found)] + [np.zeros(0, int)])
    conf = np.array([o.confidence for c in found for o in c.onsets], np.float64)
    return patches, label, neutral, groups, conf


def report(found: list[Candidates], flattened: tuple[np.ndarray, ...], q: np.ndarray) -> None:
    """The tables, from ``found``, its :func:`flat` arrays and the network's probability ``q``."""
    from sklearn.linear_model import LogisticRegression

    _, y, neutral, groups, conf = flattened
    counted = ~neutral
    yc, cc, qc, gc = y[counted], conf[counted], q[counted], groups[counted]
    print(f"{len(yc)} candidates ({int(neutral.sum())} more neutral), {int(yc.sum())} true, "
          f"{len(set(gc.tolist()))} clips")
    print(f"{'per candidate':<34}{'AUC':>7}{'R@P.9':>8}   (fits: mean of {REPEATS} ways of dealing the folds; range)")
    for name, s in (("the confidence itself", cc), ("the picture network alone", qc)):
        print(f"{name:<34}{auc(list(s), list(yc)):>7.3f}{recall_at_precision(s, yc):>8.3f}")
    for name, x in (("A trees on the confidence", cc[:, None]), ("B trees on it and the network", np.column_stack([cc, qc]))):
        runs = [out_of_fold(x, yc, gc, seed) for seed in range(REPEATS)]
        a = [auc(list(p), list(yc)) for p in runs]
        r = [recall_at_precision(p, yc) for p in runs]
        print(f"{name:<34}{np.mean(a):>7.3f}{np.mean(r):>8.3f}   AUC {min(a):.3f}-{max(a):.3f}, "
              f"R@P.9 {min(r):.3f}-{max(r):.3f}")
    clips = [c.clip for c in found]
    best, t, reach, smooth = onset_figures(clips, [c.onsets for c in found])
    print(f"{'per onset':<34}{'best F1':>8}{'R@P.9':>8}  smooth-only onsets at the best-F1 threshold")
    print(f"{'the detector as it is':<34}{best:>8.3f}{reach:>8.3f}  {smooth} (threshold {t:.3f})")
    for name, x in (("A logistic on the confidence", logit(conf)[:, None]),
                    ("B logistic on it and the network", np.column_stack([logit(conf), logit(q)]))):
        runs = [onset_figures(clips, with_confidence(found, out_of_fold(x, y, groups, seed, LogisticRegression, ~neutral)))
                for seed in range(REPEATS)]
        f1s, reaches = [r[0] for r in runs], [r[2] for r in runs]
        print(f"{name:<34}{np.mean(f1s):>8.3f}{np.mean(reaches):>8.3f}  {' '.join(str(r[3]) for r in runs)}   "
              f"best F1 {min(f1s):.3f}-{max(f1s):.3f}, R@P.9 {min(reaches):.3f}-{max(reaches):.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scorer", type=Path, help="motion-scorer .npz (with its verifier)")
    parser.add_argument("--fit", type=Path, nargs="+", help="annotated folders the picture network learns from")
    parser.add_argument("--choose", type=Path, nargs="+", help="annotated folders that choose its epoch")
    parser.add_argument("--net", type=Path, help="a picture network kept by an earlier run's -o, instead of --fit")
    parser.add_argument("--judge", type=Path, nargs="+", required=True, help="annotated folders judged (not the test split)")
    parser.add_argument("--cache", type=Path, help="motion features kept between runs")
    parser.add_argument("--patches", type=Path, required=True, help="folder the pictures around candidates are kept in")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"training epochs (default {EPOCHS})")
    parser.add_argument("-o", "--output", type=Path, help="keep the trained picture network here (a new file)")
    args = parser.parse_args(argv)
    if (args.net is None) == (args.fit is None):
        parser.error("give either --fit (with --choose) or --net")
    if args.net is not None and args.output is not None:
        parser.error("-o keeps a network trained by this run; with --net nothing is trained")
    if args.fit is not None and args.choose is None:
        parser.error("--fit needs --choose: the folders whose candidates choose the epoch")
    if args.epochs < 1:
        parser.error(f"--epochs must be 1 or more, not {args.epochs}")
    missing = [str(d) for d in (args.fit or []) + (args.choose or []) + args.judge if not d.is_dir()]
    if args.net is not None and not args.net.is_file():
        missing.append(str(args.net))
    if missing:
        print(f"error: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.output is not None and args.output.exists():
        print(f"error: {args.output} exists; name a new file for -o", file=sys.stderr)
        return 2
    import torch

    from syncfoley.core.errors import SyncfoleyError
    from syncfoley.engine.detect.motion_scorer import load_scorer

    torch.set_num_threads(2)
    try:
        scorer = load_scorer(args.scorer)
        model = picture_net()
        if args.net is not None:
            try:
                model.load_state_dict(torch.load(args.net, weights_only=True))
            except (RuntimeError, ValueError, KeyError, TypeError, AttributeError, EOFError,
                    pickle.UnpicklingError) as exc:  # not a picture network's weights
                why = (str(exc) or type(exc).__name__).splitlines()[0]
                print(f"error: {args.net} is not a picture network kept by -o: {why}", file=sys.stderr)
                return 2
        else:
            x, y, neutral, _, _ = flat(candidates(scorer, args.fit, args.cache, args.patches))
            xc, yc, nc, _, _ = flat(candidates(scorer, args.choose, args.cache, args.patches))
            if y[~neutral].all() or not y[~neutral].any() or yc[~nc].all() or not yc[~nc].any():
                print("error: --fit and --choose each need true and false candidates", file=sys.stderr)
                return 2
            print(f"fit {int((~neutral).sum())} candidates ({int(y[~neutral].sum())} true), "
                  f"choose {int((~nc).sum())} ({int(yc[~nc].sum())} true)")
            model = train(normalised(x[~neutral]), y[~neutral], normalised(xc[~nc]), yc[~nc], args.epochs)
            if args.output is not None:
                tmp = args.output.with_name(args.output.name + ".tmp")
                torch.save(model.state_dict(), tmp)
                tmp.replace(args.output)
        found = candidates(scorer, args.judge, args.cache, args.patches)
    except SyncfoleyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an unreadable clip, a --patches, --cache or -o that cannot be written
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a clip with no frames
        print(f"error: {exc}", file=sys.stderr)
        return 2
    judged = flat(found)
    _, y, neutral, groups, _ = judged
    with_candidates = len(set(groups[~neutral].tolist()))
    if with_candidates < FOLDS or y[~neutral].all() or not y[~neutral].any():
        print(f"error: the fits need true and false candidates from {FOLDS} clips or more; "
              f"--judge gives {int((~neutral).sum())} from {with_candidates} clips", file=sys.stderr)
        return 2
    report(found, judged, predict(model, normalised(judged[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
