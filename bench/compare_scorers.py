"""Motion scorers compared on annotated clips from cached features: how candidates are chosen.

For each scorer file, per folder and pooled over them: F1 within +-0.1 s at the scorer's own
threshold (with precision, recall, F1 within one frame of the clip's rate, onsets on
smooth-only clips and the confidence ROC AUC) and the best F1 over thresholds, which says
how good the networks are whatever the operating point (F1 is flat near its best, so a
threshold set on a few dozen clips can hide or flatter a candidate), and the most recall any
of those thresholds gives at precision 0.9 or more (``R@P.9``; the product's target is 0.9
for both). Below the table, per scorer, the recall at its best-F1 threshold (over all clips)
by the impacts' approach speed, where the truth gives it: slow impacts are where recall is
lost, so a candidate meant to find them is judged there. ``--by KEY`` breaks the figures at
the own threshold down by a field of the clips' ``NAME.truth.json`` (``family``, ``size``,
``camera``, ``codec``; ``flicker`` and ``noise`` as none / some).

One-member networks of one recipe differ by seed about as much as recipes differ (RULE47,
RULE52), so a recipe is best judged by the mean of several trainings: files joined by ``+``
(``A0.npz+A1.npz``) are listed one by one and then as one more row per set of clips, the
mean of each figure over them (its threshold, each file's own, left blank).

Counting is ``bench_detection.py``'s: one-to-one matching, onsets near a contact in the
truth's band count neither way, every onset on a smooth-only clip is false (those counted as
such are the ones that match none of the clip's impacts: a set-down in the smooth family can
land fast enough to be one). At a scorer's own threshold these are the figures
``bench_detection.py`` prints for detection with it, without decoding a clip twice: features
are extracted once into ``--cache`` (the folder ``train-motion`` and ``tune-motion`` keep
them in) and each scorer's frame summaries (the best block's logit and what its onset
verifier reads) are worked out once per clip.
Keep the test split out of it: it is for choosing.

    python bench/compare_scorers.py SHIPPED.npz CANDIDATE.npz --data C/val2 C/valhd --cache C/features [--by flicker]
    python bench/compare_scorers.py A0.npz+A1.npz B0.npz+B1.npz --data C/val11 --cache C/features
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

if TYPE_CHECKING:
    from syncfoley.engine.detect.motion_training import ClipFeatures

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_detection import auc, false_onsets, judge, prf, recall_by_speed  # noqa: E402

# Thresholds swept for the best F1 (each scorer's own is added).
SWEEP = tuple(float(t) for t in np.linspace(0.05, 0.95, 37))
PRECISION_TARGET = 0.9  # the most recall at this precision or more (over the thresholds swept) is printed


@dataclass
class Clip:
    """One annotated clip: the folder it came from, its truth, its frames (features without
    the blocks) and each scorer's frame summaries and strong blocks
    (``motion_training.frame_summaries``, ``frame_blocks``)."""

    folder: str
    video: Path
    truth: dict
    features: "ClipFeatures"
    summaries: list[np.ndarray]
    blocks: list[dict[int, np.ndarray]] = field(default_factory=list)


@dataclass
class Tally:
    hits: int = 0
    false: int = 0
    truth: int = 0
    smooth: int = 0
    hits_frame: int = 0  # within one frame of the clip, not 0.1 s
    false_frame: int = 0
    unframed: int = 0  # clips counted without a frame rate (no features): F1 within a frame is then NaN
    conf: list[float] = field(default_factory=list)
    labels: list[bool] = field(default_factory=list)

    def add(self, other: "Tally") -> None:
        self.hits, self.false, self.truth = self.hits + other.hits, self.false + other.false, self.truth + other.truth
        self.smooth += other.smooth
        self.hits_frame, self.false_frame = self.hits_frame + other.hits_frame, self.false_frame + other.false_frame
        self.unframed += other.unframed
        self.conf += other.conf
        self.labels += other.labels

    @property
    def scores(self) -> tuple[float, float, float]:
        """Precision, recall, F1."""
        return prf(self.hits, self.false, self.truth)

    @property
    def f1_frame(self) -> float:
        """F1 within one frame (NaN where a clip had no frame rate)."""
        return float("nan") if self.unframed else prf(self.hits_frame, self.false_frame, self.truth)[2]


def load_clips(folders: list[Path], scorers: list, cache: Optional[Path]) -> list[Clip]:
    """Every annotated clip under ``folders`` with each scorer's frame summaries (features from
    ``cache`` where they are, extracted and kept there where not)."""
    from corpus_clips import TRUTH_SUFFIX, read_truth, times_truth

    from syncfoley.engine.detect.motion_training import (
        clip_features,
        find_examples,
        frame_blocks,
        frame_summaries,
        sidecar,
        without_blocks,
    )

    clips = []
    for folder in folders:
        for example in find_examples(folder):
            path = sidecar(example, TRUTH_SUFFIX)
            truth = read_truth(path) if path.is_file() else times_truth(example)
            features = clip_features(example, cache)
            summaries = [frame_summaries(s, features) for s in scorers]
            blocks = [frame_blocks(s, features, m) for s, m in zip(scorers, summaries)]
            clips.append(Clip(folder.name, example.video, truth, without_blocks(features), summaries, blocks))
            print(f"  {example.video.name}", file=sys.stderr, flush=True)
    return clips


def from_features(scorer):
    """``scorer`` as features alone can apply it: without a picture check (cached features hold
    no pictures), said on stderr; ``bench_detection.py`` judges the whole detector."""
    if scorer.picture is None:
        return scorer
    print(f"note: {scorer.source} is judged without its picture check (features hold no pictures; "
          "bench_detection.py judges the whole detector)", file=sys.stderr)
    return dataclasses.replace(scorer, picture=None)


def every_onset(scorer, clip: Clip, summaries: np.ndarray, blocks: Optional[dict[int, np.ndarray]] = None) -> list:
    """The onsets detection with ``scorer`` gives on ``clip`` at threshold 0: those at a
    threshold are the ones whose confidence reaches it (peaks and candidates do not depend
    on it), so each clip is picked and verified once, not once per threshold."""
    from syncfoley.engine.detect.motion_training import picked_onsets

    return picked_onsets(scorer, clip.features, 0.0, summaries, blocks)


def judged(clip: Clip, found: list[float], tol: float = 0.1) -> tuple[dict[int, int], list[bool], list[bool]]:
    """Onset times ``found`` on ``clip`` against its truth, within ``tol`` seconds, as
    ``bench_detection.judge`` judges them (impact index to onset index, matched, neutral)."""
    return judge(found, [i["time"] for i in clip.truth["impacts"]], [b["time"] for b in clip.truth.get("band", [])],
                 tol, clip.truth.get("family") == "smooth")


def tally(clip: Clip, every: list, threshold: float) -> Tally:
    """One clip's onsets at ``threshold`` (of ``every``, from :func:`every_onset`) counted
    against its truth."""
    onsets = [o for o in every if o.confidence >= threshold]
    taken, ok, neutral = judged(clip, [o.time for o in onsets])
    smooth = clip.truth.get("family") == "smooth"
    out = Tally(len(taken), false_onsets(ok, neutral), len(clip.truth["impacts"]), sum(1 for o in ok if not o) if smooth else 0)
    for o, m, onset in zip(ok, neutral, onsets):
        if not m:
            out.conf.append(onset.confidence)
            out.labels.append(o)
    if clip.features is None:  # a clip built from onsets alone (the candidate benches' tests)
        out.unframed = 1
        return out
    taken, ok, neutral = judged(clip, [o.time for o in onsets], 1.0 / clip.features.fps)
    out.hits_frame, out.false_frame = len(taken), false_onsets(ok, neutral)
    return out


def speed_recall(clips: list[Clip], every: list[list], threshold: float) -> list[tuple[str, int, float]]:
    """Recall at ``threshold`` by approach speed (``bench_detection.recall_by_speed``'s bins),
    over the impacts whose truth gives a ``speed``; matched as :func:`tally` matches."""
    speeds: list[float] = []
    caught: list[bool] = []
    for clip, onsets in zip(clips, every):
        taken, _, _ = judged(clip, [o.time for o in onsets if o.confidence >= threshold])
        for j, impact in enumerate(clip.truth["impacts"]):
            if "speed" in impact:
                speeds.append(float(impact["speed"]))
                caught.append(j in taken)
    return recall_by_speed(speeds, caught)


def pooled(tallies: list[Tally]) -> Tally:
    out = Tally()
    for t in tallies:
        out.add(t)
    return out


def group_of(truth: dict, key: str) -> str:
    value = truth.get(key, "?")
    if key in ("flicker", "noise"):
        return "none" if not value else "some"
    return "x".join(str(v) for v in value) if isinstance(value, list) else str(value)


def compare(scorers: list, names: list[str], clips: list[Clip], by: Optional[str] = None) -> list[dict]:
    """Per scorer and set of clips (each folder, then all; then each ``by`` group): the
    figures the module's doc lists. Each clip is counted once per threshold, for every set
    it is in. The row of all clips (the last set) also has ``by_speed``: :func:`speed_recall`
    at its best-F1 threshold."""
    folders = list(dict.fromkeys(c.folder for c in clips))
    sets = [(f, [i for i, c in enumerate(clips) if c.folder == f]) for f in folders]
    if len(folders) > 1:
        sets.append(("pooled", list(range(len(clips)))))
    groups: dict[str, list[int]] = {}
    if by is not None:
        for i, c in enumerate(clips):
            groups.setdefault(group_of(c.truth, by), []).append(i)
    rows = []
    for k, (scorer, name) in enumerate(zip(scorers, names)):
        every = [every_onset(scorer, c, c.summaries[k], c.blocks[k] if c.blocks else None) for c in clips]
        own = [tally(c, e, scorer.threshold) for c, e in zip(clips, every)]
        at_own = [pooled([own[i] for i in members]).scores for _, members in sets]
        best = [(f1, scorer.threshold) for _, _, f1 in at_own]
        # The product's target is precision and recall both 0.9: the most recall any threshold
        # gives at that precision says how far the networks are from it, whatever the operating point.
        reach = [r if p >= PRECISION_TARGET else 0.0 for p, r, _ in at_own]
        for t in SWEEP:
            swept = [tally(c, e, t) for c, e in zip(clips, every)]
            for j, (_, members) in enumerate(sets):
                p, r, f1 = pooled([swept[i] for i in members]).scores
                if f1 > best[j][0]:
                    best[j] = (f1, t)
                if p >= PRECISION_TARGET:
                    reach[j] = max(reach[j], r)
        labelled = [(label, members, b, rr) for (label, members), b, rr in zip(sets, best, reach)]
        labelled += [(f"{by}={g}", members, (None, None), None) for g, members in sorted(groups.items())]
        for j, (label, members, (best_f1, best_t), recall_at) in enumerate(labelled):
            total = pooled([own[i] for i in members])
            p, r, f = total.scores
            rows.append(dict(scorer=name, clips=label, n=len(members), threshold=scorer.threshold, f1=f, precision=p,
                             recall=r, f1_frame=total.f1_frame, smooth=total.smooth, auc=auc(total.conf, total.labels),
                             best_f1=best_f1, best_threshold=best_t, recall_at_precision=recall_at))
            if j == len(sets) - 1:
                rows[-1]["by_speed"] = speed_recall(clips, every, best_t)
    return rows


# The figures a recipe's row averages over its trainings.
MEANS = ("f1", "precision", "recall", "f1_frame", "smooth", "auc", "best_f1", "recall_at_precision")


def recipe_means(rows: list[dict], recipes: list[list[str]]) -> list[dict]:
    """One row per recipe of more than one file and set of clips, each figure in MEANS the mean
    over the recipe's files (their rows, as :func:`compare` gives them, in the same order of
    sets); the threshold and best-F1 threshold are NaN (each file has its own)."""
    out = []
    for files in (r for r in recipes if len(r) > 1):
        mine = [[row for row in rows if row["scorer"] == f] for f in files]
        for same in zip(*mine):
            mean = dict(same[0], scorer="+".join(files), threshold=float("nan"), best_threshold=float("nan"))
            mean.pop("by_speed", None)
            for key in MEANS:
                values = [row[key] for row in same]
                mean[key] = None if None in values else float(np.mean(values))
            out.append(mean)
    return out


def _recipes(args: list[str]) -> list[list[str]]:
    """Each argument's files: ``A.npz+B.npz`` is two, unless a file has that very name."""
    return [[a] if Path(a).is_file() or "+" not in a else a.split("+") for a in args]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scorers", nargs="+",
                        help="motion-scorer .npz files (train-motion, tune-motion); A.npz+B.npz: also their mean")
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="annotated folders (not the test split)")
    parser.add_argument("--cache", type=Path, help="motion features kept between runs")
    parser.add_argument("--by", help="also break down by this field of NAME.truth.json (e.g. family, size, flicker)")
    args = parser.parse_args(argv)
    from corpus_clips import CorpusFolderError

    from syncfoley.core.errors import SyncfoleyError
    from syncfoley.engine.detect.motion_scorer import load_scorer

    try:
        missing = [str(d) for d in args.data if not d.is_dir()]
        if missing:
            print(f"error: not a folder: {', '.join(missing)}", file=sys.stderr)
            return 2
        recipes = _recipes(args.scorers)
        if any(not f for r in recipes for f in r):
            print(f"error: an empty file name in {' '.join(args.scorers)}: join files as A.npz+B.npz",
                  file=sys.stderr)
            return 2
        files = [Path(f) for f in dict.fromkeys(f for r in recipes for f in r)]
        names = [f.name for f in files]
        if len(set(names)) < len(names):
            print(f"error: two scorer files share a name ({', '.join(names)}); rows are labelled by it, so give "
                  "each file its own name", file=sys.stderr)
            return 2
        scorers = [from_features(load_scorer(p)) for p in files]
        clips = load_clips(args.data, scorers, args.cache)
    except (SyncfoleyError, CorpusFolderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an unreadable clip, a cache folder that cannot be written
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if not clips:
        print(f"error: no annotated clips (NAME.times.csv beside a video) under {', '.join(map(str, args.data))}",
              file=sys.stderr)
        return 2
    print(f"{'scorer':<24}{'clips':<18}{'n':>4}{'thr':>7}{'F1':>7}{'P':>6}{'R':>6}{'F1@1f':>7}{'smooth':>7}{'AUC':>7}"
          f"{'best F1':>9}{'at':>7}{'R@P.9':>7}")
    rows = compare(scorers, names, clips, args.by)
    means = recipe_means(rows, [[Path(f).name for f in r] for r in recipes])
    for row in rows + means:
        print(_line(row))
    for row in rows:
        bins = [(label, n, r) for label, n, r in row.get("by_speed", []) if n]
        if bins:
            print(f"{row['scorer']}: recall at {row['best_threshold']:.3f} by approach speed (picture widths/s): "
                  + ", ".join(f"{label} {r:.2f} ({n})" for label, n, r in bins))
    return 0


def _line(row: dict) -> str:
    def number(value: float, width: int, digits: int) -> str:
        return f"{'':>{width}}" if np.isnan(value) else f"{value:>{width}.{digits}f}"

    smooth = row["smooth"] if isinstance(row["smooth"], int) else f"{row['smooth']:.1f}"
    # R@P.9 with three digits: rules read differences of 0.02 in it.
    best = (f"{row['best_f1']:>9.3f}{number(row['best_threshold'], 7, 3)}{row['recall_at_precision']:>7.3f}"
            if row["best_f1"] is not None else "")
    return (f"{row['scorer']:<24}{row['clips']:<18}{row['n']:>4}{number(row['threshold'], 7, 3)}{row['f1']:>7.3f}"
            f"{row['precision']:>6.2f}{row['recall']:>6.2f}{row['f1_frame']:>7.3f}{smooth:>7}{row['auc']:>7.3f}{best}")


if __name__ == "__main__":
    sys.exit(main())
