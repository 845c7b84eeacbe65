"""Accuracy of the motion detector on the named scenes and the example clip.

Prints, per clip, the F1, precision and recall of detected onsets against the true
impact times (one-to-one matching within +-0.1 s), the median and worst timing error
of the matched onsets, and the detector's real-time factor.

    python bench/bench_detection.py [--tolerance 0.1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def match(detected: list[float], truth: list[float], tol: float) -> tuple[int, list[float]]:
    used: set[int] = set()
    errors = []
    for t in truth:
        near = [i for i, d in enumerate(detected) if i not in used and abs(d - t) <= tol]
        if near:
            i = min(near, key=lambda k: abs(detected[k] - t))
            used.add(i)
            errors.append(abs(detected[i] - t))
    return len(errors), errors


def random_scene(seed: int):  # type: ignore[no-untyped-def]
    """A ball, a striker and a distractor placed, timed and filmed at random."""
    from fractions import Fraction

    import numpy as np

    from syncfoley.engine.demo.scenes import BouncingBall, Mover, Scene, Striker

    rng = np.random.default_rng(1000 + seed)
    fps = [Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001), Fraction(30), Fraction(50)][seed % 5]
    hits = np.cumsum(rng.uniform(0.7, 1.2, 5)) + 0.3
    objects = (
        BouncingBall(x=float(rng.uniform(160, 250)), floor_y=float(rng.uniform(300, 345)),
                     drop_height=float(rng.uniform(120, 240)), drop_time=float(rng.uniform(0.2, 1.0)),
                     radius=float(rng.uniform(18, 32))),
        Striker(x=float(rng.uniform(380, 440)), contact_y=float(rng.uniform(220, 280)),
                hits=tuple(float(h) for h in hits if h < 5.5)),
        Mover(x=float(rng.uniform(250, 400)), y=float(rng.uniform(40, 90)), sway=float(rng.uniform(30, 90)),
              period=float(rng.uniform(1.5, 3.5))),
    )
    return Scene(duration=6.0, fps=fps, objects=objects, pan=float(rng.uniform(-20, 20)),
                 shake=float(rng.uniform(0, 3)), noise=float(rng.uniform(1, 4)), seed=seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=float, default=0.1)
    parser.add_argument("--random", type=int, default=0, metavar="N",
                        help="also N random scenes (seeded) that the detector was not tuned on")
    args = parser.parse_args(argv)

    from syncfoley.bridge import api
    from syncfoley.engine.demo.scenes import catalogue
    from syncfoley.engine.media.video import probe, write_video

    clips: list[tuple[str, Path, list[float]]] = []
    tmp = Path(tempfile.mkdtemp(prefix="syncfoley-bench-"))
    for name, scene in catalogue().items():
        path = tmp / f"{name}.mp4"
        write_video(path, scene.frames(), scene.fps)
        clips.append((name, path, scene.impacts()))
    for seed in range(args.random):
        scene = random_scene(seed)
        path = tmp / f"random{seed}.mp4"
        write_video(path, scene.frames(), scene.fps)
        clips.append((f"random{seed}", path, scene.impacts()))
    truth = json.loads((ROOT / "examples" / "hits.truth.json").read_text())
    clips.append(("example", ROOT / "examples" / "hits.mp4", [o["time"] for o in truth["onsets"]]))

    print(f"{'clip':<14}{'fps':>7}{'true':>6}{'found':>6}{'F1':>6}{'P':>6}{'R':>6}"
          f"{'med err ms':>12}{'max err ms':>12}{'x rt':>7}")
    for name, path, times in clips:
        info = probe(path)
        t0 = time.perf_counter()
        track = api.detect(path, detector="motion")
        secs = time.perf_counter() - t0
        found = track.times()
        hits, errors = match(found, times, args.tolerance)
        p = hits / len(found) if found else float(not times)
        r = hits / len(times) if times else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        errors.sort()
        med = errors[len(errors) // 2] * 1000 if errors else float("nan")
        worst = errors[-1] * 1000 if errors else float("nan")
        print(f"{name:<14}{info.fps:>7.3f}{len(times):>6}{len(found):>6}{f1:>6.2f}{p:>6.2f}{r:>6.2f}"
              f"{med:>12.1f}{worst:>12.1f}{info.duration / secs:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
