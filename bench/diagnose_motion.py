"""Where the physics detector loses true impacts, on the physics corpus's test split.

Two measurements, each separating one stage of ``--detector physics`` (which scores
every block; an earlier design scored a shortlist of 16 per frame and lost a third of
the impacts there):

- ``scorer``: per true impact, the best calibrated probability among *all* blocks within
  0.08 picture widths of it (frames k-1..k+1), against the threshold; per frame with no
  impact near, the best anywhere (how often the threshold is crossed by nothing);
- ``flow``: per true impact, the largest velocity change the motion features measured near
  it, as a share of the true approach speed (in analysis pixels per frame), by camera
  kind and speed: is the impact in the measured motion at all?

    python bench/physics_corpus.py CORPUS/test --split test --count 48
    python bench/diagnose_motion.py CORPUS/test
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

NEAR = 0.08  # picture widths


def scorer_and_flow(items: list[tuple[str, Path, dict[str, Any]]]) -> None:
    from syncfoley.engine.detect import motion_features as mf
    from syncfoley.engine.detect.motion_scorer import resolve_scorer
    from syncfoley.engine.detect.physics import PhysicsDetectorConfig, physics_features_of
    from syncfoley.engine.media.video import probe
    from syncfoley.engine.types import TimeRange

    scorer = resolve_scorer(None)
    change = [mf.NAMES.index(n) for n in ("change0", "change1")]
    width = PhysicsDetectorConfig().motion.width
    near_p: list[float] = []
    far_p: list[float] = []
    seen: list[float] = []
    speed: list[float] = []
    camera: list[str] = []
    for _, path, truth in items:
        info = probe(path)
        _, feats = physics_features_of(path, info, TimeRange(0.0, info.duration))
        fps = float(info.fps)
        by = {f.index: f for f in feats}
        busy: set[int] = set()
        for imp in truth["impacts"]:
            k = int(round(imp["time"] * fps))
            best_p = best_change = 0.0
            for j in (k - 1, k, k + 1):
                f = by.get(j)
                if f is None:
                    continue
                sel = np.hypot(f.where[:, 0] - imp["x"], f.where[:, 1] - imp["y"]) < NEAR
                if sel.any():
                    best_p = max(best_p, float(scorer.probability(scorer.block_logits(f.values[sel]).max())))
                    best_change = max(best_change, float(np.expm1(f.values[sel][:, change]).max()))
                busy.update((j - 1, j, j + 1))
            near_p.append(best_p)
            seen.append(best_change / (imp["speed"] * width / fps))
            speed.append(imp["speed"])
            camera.append(truth["camera"])
        for b in truth["band"]:
            k = int(round(b["time"] * fps))
            busy.update(range(k - 3, k + 4))
        far_p += [float(scorer.probability(scorer.block_logits(f.values).max())) for f in feats
                  if f.index not in busy]
        print(f"  {path.name}", file=sys.stderr, flush=True)
    near, far, ratio, sp, cam = map(np.array, (near_p, far_p, seen, speed, camera))
    th = scorer.threshold
    print(f"scorer: impacts {len(near)}; a block near scores >= the threshold ({th:.2f}) for {np.mean(near >= th):.2f} "
          f"(median best {np.median(near):.3f}); frames with no impact near cross it {np.mean(far >= th):.3f} "
          f"of {len(far)}")
    auc = (np.sum(near[:, None] > far[None, :]) + 0.5 * np.sum(near[:, None] == far[None, :])) / (len(near) * len(far))
    print(f"scorer: frame AUC, best block near an impact vs best block of a frame with none: {auc:.3f}")
    print(f"flow: measured/true velocity loss near an impact, median {np.median(ratio):.2f}; "
          f"at least half seen for {np.mean(ratio >= 0.5):.2f}")
    for c in sorted(set(cam)):
        s = cam == c
        print(f"  camera {c:<8} n {s.sum():3d}  seen median {np.median(ratio[s]):.2f}  "
              f"half seen {np.mean(ratio[s] >= 0.5):.2f}  scorer finds {np.mean(near[s] >= th):.2f}")
    for lo, hi in ((0.2, 0.4), (0.4, 0.8), (0.8, 99.0)):
        s = (sp >= lo) & (sp < hi)
        print(f"  speed {lo}-{hi} w/s: n {s.sum():3d}  seen median {np.median(ratio[s]):.2f}  "
              f"scorer finds {np.mean(near[s] >= th):.2f}")


# What the diagnosis reads of a truth file beyond the impact times (a hand-written one has only those).
IMPACT_FIELDS = ("x", "y", "speed")
CLIP_FIELDS = ("camera", "band")


def _lacks(truth: dict[str, Any]) -> str:
    """The fields the diagnosis needs that ``truth`` lacks, named; '' when it has them all."""
    missing = [f for f in CLIP_FIELDS if f not in truth]
    missing += [f"impacts' {f}" for f in IMPACT_FIELDS if any(f not in i for i in truth["impacts"])]
    return ", ".join(missing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    args = parser.parse_args(argv)
    from corpus_clips import CorpusFolderError, corpus_clips

    try:
        clips = corpus_clips(args.corpus)
    except CorpusFolderError as e:
        print(f"diagnose_motion: {e}", file=sys.stderr)
        return 2
    if not clips:
        print(f"no *.truth.json in {args.corpus}: write a corpus with bench/physics_corpus.py", file=sys.stderr)
        return 2
    short = next((c for c in clips if _lacks(c.truth)), None)
    if short is not None:
        print(f"diagnose_motion: {short.video.with_name(short.name + '.truth.json')} lacks {_lacks(short.truth)}: "
              "this diagnosis needs a generator's truth (physics_corpus.py and mujoco_corpus.py write it)",
              file=sys.stderr)
        return 2
    scorer_and_flow([(c.family, c.video, c.truth) for c in clips])
    return 0


if __name__ == "__main__":
    sys.exit(main())
