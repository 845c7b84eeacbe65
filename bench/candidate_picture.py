"""Does the picture around each candidate onset add to the onset verifier's confidence, and
at what operating point? Makes the picture check (``syncfoley.engine.detect.picture_check``)
a scorer file can carry.

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
folders' candidates and on look-alikes from other scorers (``--more SCORER FOLDER...``: the
candidates of networks that never saw those clips, RULE39), its epoch chosen by candidate
ROC AUC on the ``--choose`` folders' (or loaded with ``--net``, trained by an earlier run's
``-o``). On the ``--judge`` folders:

- per candidate, ROC AUC and the most recall at precision 0.9 of the confidence, of the
  network alone, and of gradient-boosted trees fitted out of fold on the confidence alone
  (A) and beside the network's probability (B), as ``candidate_path.py`` fits them;
- per onset, the detector's own figures (best pooled F1 over ``compare_scorers.SWEEP`` and
  the most recall at pooled precision 0.9), with each candidate's confidence replaced by a
  logistic regression on the log-odds of the confidence (A) and of both (B), fitted out of
  fold (``candidate_path.out_of_fold``) on the judged clips (never on the verifier's own fitting clips, where its confidence
  is in-sample), five folds grouped by clip, five ways of dealing them;
- B's operating point (:func:`operating_point`): the best F1 where no judged folder gets more
  onsets on its smooth-only clips than the detector as it is at its own threshold, and each
  folder's figures there.

``--write`` then writes the scorer with the picture check: the network, the combination fitted
on every judged candidate, and that operating point as its threshold (format /4; detection
uses it with ``--motion-weights``). Patches are kept in ``--patches`` (a file per clip; the
video is decoded again once)::

    python bench/candidate_picture.py engine/detect/weights/motion_scorer.npz --fit C/train400 C/mjpicture \\
        --more C/r31/train100.npz C/train_100_399 --choose C/val C/mjpicchoose --judge C/val5 C/mjval2h \\
        --cache C/features --patches C/patches -o C/picture.pt --write C/scorer_with_picture.npz
    python bench/candidate_picture.py engine/detect/weights/motion_scorer.npz --net C/picture.pt \\
        --judge C/mjval2h --cache C/features --patches C/patches

docs/physics-detector.md (RULE35-45) has what it gave: no picture check ships yet.
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

from syncfoley.engine.detect.picture_check import AFTER, BEFORE, HALF, cut, normalised  # noqa: E402
from syncfoley.engine.detect.picture_check import log_odds as logit  # noqa: E402
from syncfoley.engine.detect.picture_check import torch_net as picture_net  # noqa: E402

EPOCHS = 15
LOOKALIKE = 0.05  # confidence another scorer's candidates need to be learnt from (RULE39)
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


def candidates(scorer, folders: list[Path], cache: Optional[Path], keep: Path, floor: float = 0.0) -> list[Candidates]:
    """Every clip's candidates under ``folders`` (those whose confidence reaches ``floor``)."""
    import compare_scorers as cs

    out = []
    for clip in cs.load_clips(folders, [scorer], cache):
        every = cs.every_onset(scorer, clip, clip.summaries[0], clip.blocks[0])
        # Cut for all of them, so that the kept pictures serve any floor.
        patches = clip_patches(clip.video, every, keep)
        kept = np.array([o.confidence >= floor for o in every], bool)
        every = [o for o, k in zip(every, kept) if k]
        _, ok, neutral = cs.judged(clip, [o.time for o in every])
        out.append(Candidates(clip, every, patches[kept], np.array(ok, bool).reshape(-1),
                              np.array(neutral, bool).reshape(-1)))
    return out


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


def operating_point(found: list[Candidates], runs: list[np.ndarray], own: float) -> float:
    """The threshold for the combined confidence (each of ``runs`` one dealing's out-of-fold
    probabilities): per dealing, of ``compare_scorers.SWEEP``, the best F1 pooled over the
    judged folders among the thresholds where no folder has more onsets on smooth-only clips
    than the detector as it is at its own threshold ``own`` (RULE43: the picture rightly sees
    gentle contacts, which the issue wants no onset on); the median of the dealings'. Prints
    each folder's figures there."""
    from compare_scorers import SWEEP, Tally, pooled, tally

    folders = list(dict.fromkeys(c.clip.folder for c in found))

    def per_folder(every: list[list], t: float) -> dict[str, Tally]:
        return {f: pooled([tally(c.clip, e, t) for c, e in zip(found, every) if c.clip.folder == f]) for f in folders}

    shipped = per_folder([c.onsets for c in found], own)
    chosen = []
    for p in runs:
        every = with_confidence(found, p)
        allowed = []
        for th in SWEEP:
            tallies = per_folder(every, th)
            if all(v.smooth <= shipped[f].smooth for f, v in tallies.items()):
                allowed.append((pooled(list(tallies.values())).scores[2], th))
        # Of equal F1, the lowest threshold: as compare_scorers' best F1 takes it. Where none keeps
        # the smooth-only clips as they were, the highest is the nearest to it.
        chosen.append(max(allowed, key=lambda a: (a[0], -a[1]))[1] if allowed else SWEEP[-1])
        if not allowed:
            print(f"  no threshold up to {SWEEP[-1]:.3f} keeps every folder's smooth-only onsets as they were; "
                  f"{SWEEP[-1]:.3f} is taken")
    threshold = float(np.median(chosen))
    print(f"operating point: no folder with more smooth-only onsets than at the detector's own {own:.3f}; chosen per "
          f"dealing {' '.join(f'{t:.3f}' for t in chosen)}, median {threshold:.3f}")
    at = [per_folder(with_confidence(found, p), threshold) for p in runs]
    for f in folders:
        scores = np.array([[*a[f].scores, a[f].smooth] for a in at])
        p, r, f1 = shipped[f].scores
        print(f"  {f:<14} as it is: P {p:.3f} R {r:.3f} F1 {f1:.3f} smooth {shipped[f].smooth}   with the picture: "
              f"P {scores[:, 0].mean():.3f} R {scores[:, 1].mean():.3f} F1 {scores[:, 2].mean():.3f} "
              f"(F1 {scores[:, 2].min():.3f}-{scores[:, 2].max():.3f}) smooth {scores[:, 3].mean():.1f}")
    return threshold


def report(found: list[Candidates], flattened: tuple[np.ndarray, ...], q: np.ndarray, own: float) -> float:
    """The tables, from ``found``, its :func:`flat` arrays and the network's probability ``q``;
    the operating point (:func:`operating_point`) for the detector's own threshold ``own``."""
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
        dealt = [out_of_fold(x, y, groups, seed, LogisticRegression, ~neutral) for seed in range(REPEATS)]
        runs = [onset_figures(clips, with_confidence(found, p)) for p in dealt]
        f1s, reaches = [r[0] for r in runs], [r[2] for r in runs]
        print(f"{name:<34}{np.mean(f1s):>8.3f}{np.mean(reaches):>8.3f}  {' '.join(str(r[3]) for r in runs)}   "
              f"best F1 {min(f1s):.3f}-{max(f1s):.3f}, R@P.9 {min(reaches):.3f}-{max(reaches):.3f}")
    return operating_point(found, dealt, own)


def with_picture(scorer, model, found: list[Candidates], flattened: tuple[np.ndarray, ...], q: np.ndarray,
                 threshold: float):
    """``scorer`` with the picture check: ``model``, and the combination fitted on every counted
    candidate of ``found``; onsets need ``threshold``."""
    from sklearn.linear_model import LogisticRegression

    from syncfoley.engine.detect.picture_check import picture_check_from_torch

    _, y, neutral, _, conf = flattened
    x = np.column_stack([logit(conf), logit(q)])
    fit = LogisticRegression().fit(x[~neutral], y[~neutral])
    combination = (float(fit.coef_[0][0]), float(fit.coef_[0][1]), float(fit.intercept_[0]))
    print(f"the combination on all of them: {combination[0]:.3f} logit c + {combination[1]:.3f} logit q "
          f"{combination[2]:+.3f}, threshold {threshold:.3f}")
    check = picture_check_from_torch(model.state_dict(), combination)
    return dataclasses.replace(scorer, picture=check, threshold=threshold, source="")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scorer", type=Path, help="motion-scorer .npz (with its verifier)")
    parser.add_argument("--fit", type=Path, nargs="+", help="annotated folders the picture network learns from")
    parser.add_argument("--more", type=Path, nargs="+", action="append", metavar=("SCORER", "FOLDER"),
                        help="look-alikes it also learns from: the candidates of another scorer (one whose networks "
                             f"never saw these folders) reaching {LOOKALIKE}, their pictures kept under "
                             "--patches/SCORER's name (repeatable)")
    parser.add_argument("--choose", type=Path, nargs="+", help="annotated folders that choose its epoch")
    parser.add_argument("--net", type=Path, help="a picture network kept by an earlier run's -o, instead of --fit")
    parser.add_argument("--judge", type=Path, nargs="+", required=True, help="annotated folders judged (not the test split)")
    parser.add_argument("--cache", type=Path, help="motion features kept between runs")
    parser.add_argument("--patches", type=Path, required=True, help="folder the pictures around candidates are kept in")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"training epochs (default {EPOCHS})")
    parser.add_argument("-o", "--output", type=Path, help="keep the trained picture network here (a new file)")
    parser.add_argument("--write", type=Path, help="write the scorer with the picture check here (a new file): the "
                        "combination fitted on every --judge candidate, the threshold the operating point's")
    args = parser.parse_args(argv)
    more = args.more or []
    if any(len(m) < 2 for m in more):
        parser.error("--more takes a scorer and one or more folders")
    if more and args.fit is None:
        parser.error("--more adds to what --fit trains on")
    if (args.net is None) == (args.fit is None):
        parser.error("give either --fit (with --choose) or --net")
    if args.net is not None and args.output is not None:
        parser.error("-o keeps a network trained by this run; with --net nothing is trained")
    if args.fit is not None and args.choose is None:
        parser.error("--fit needs --choose: the folders whose candidates choose the epoch")
    if args.epochs < 1:
        parser.error(f"--epochs must be 1 or more, not {args.epochs}")
    missing = [str(d) for d in (args.fit or []) + (args.choose or []) + args.judge + [f for m in more for f in m[1:]]
               if not d.is_dir()]
    missing += [str(f) for f in [args.net] + [m[0] for m in more] if f is not None and not f.is_file()]
    if missing:
        print(f"error: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    for flag, path in (("-o", args.output), ("--write", args.write)):
        if path is not None and path.exists():
            print(f"error: {path} exists; name a new file for {flag}", file=sys.stderr)
            return 2
    import compare_scorers as cs
    import torch

    from syncfoley.core.errors import SyncfoleyError
    from syncfoley.engine.detect.motion_scorer import load_scorer

    torch.set_num_threads(2)
    try:
        # Its candidates' confidence is the verifier's: that is what a picture check is combined with.
        scorer = cs.from_features(load_scorer(args.scorer))
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
            fit = candidates(scorer, args.fit, args.cache, args.patches)
            for other, *folders in more:
                fit += candidates(cs.from_features(load_scorer(other)), folders, args.cache,
                                  args.patches / other.stem, LOOKALIKE)
            x, y, neutral, _, _ = flat(fit)
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
    q = predict(model, normalised(judged[0]))
    threshold = report(found, judged, q, scorer.threshold)
    if args.write is not None:
        try:
            checked = with_picture(scorer, model, found, judged, q, threshold)
            tmp = args.write.with_name(args.write.name + ".tmp")
            with open(tmp, "wb") as fh:
                np.savez(fh, **checked.to_arrays())
            tmp.replace(args.write)
        except SyncfoleyError as exc:  # a combination that lowers the confidence where the verifier is surer
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # a --write folder that is not there or cannot be written
            print(f"error: {exc.filename or args.write}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
