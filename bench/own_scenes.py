"""Random scenes from the project's own scene generator, in the training layout
(``NAME.mp4`` + ``NAME.times.csv``), to train the physics detector's scorer beside the
physics corpus. Seeds 5000-5999 went into training and 6000+ into validation; the demo
catalogue the tests use is built by hand, not from these seeds.

    python bench/own_scenes.py OUT FIRST_SEED COUNT
"""
from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from syncfoley.engine.demo.scenes import BouncingBall, Mover, Scene, Striker
from syncfoley.engine.media.video import write_video


def random_scene(seed: int) -> Scene:
    rng = np.random.default_rng(seed)
    fps = [Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001), Fraction(30), Fraction(50)][seed % 5]
    hits = np.cumsum(rng.uniform(0.5, 1.2, 6)) + 0.3
    objects = [
        BouncingBall(x=float(rng.uniform(120, 260)), floor_y=float(rng.uniform(280, 345)),
                     drop_height=float(rng.uniform(100, 240)), drop_time=float(rng.uniform(0.2, 1.5)),
                     radius=float(rng.uniform(14, 34))),
        Striker(x=float(rng.uniform(360, 460)), contact_y=float(rng.uniform(200, 290)),
                hits=tuple(float(h) for h in hits if h < 5.5)),
    ]
    if rng.random() < 0.7:
        objects.append(Mover(x=float(rng.uniform(250, 400)), y=float(rng.uniform(40, 90)), sway=float(rng.uniform(30, 90)),
                             period=float(rng.uniform(1.5, 3.5))))
    keep = [o for o, k in zip(objects, rng.random(len(objects)) < 0.85) if k] or objects[:1]
    return Scene(duration=6.0, fps=fps, objects=tuple(keep), pan=float(rng.uniform(-25, 25)),
                 shake=float(rng.uniform(0, 3)), noise=float(rng.uniform(1, 4)), seed=seed)



def main(argv: list[str]) -> int:
    out, first, count = Path(argv[0]), int(argv[1]), int(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for seed in range(first, first + count):
        s = random_scene(seed)
        p = out / f"own_{seed}.mp4"
        write_video(p, s.frames(), s.fps)
        (out / f"own_{seed}.times.csv").write_text("".join(f"{t:.5f}\n" for t in s.impacts()))
        print(p.name, len(s.impacts()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
