"""Make the example clip: ``examples/hits.mp4`` and its true onsets, ``hits.truth.json``.

A textured floor seen by a slowly panning camera: a ball dropped and bouncing to
rest, a stick striking a block six times, and a disc swaying smoothly across the
top (a distractor that must not produce onsets). The true impact times are
computed from the scene's physics, not measured.

    python examples/make_example.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent), help="output folder")
    args = parser.parse_args(argv)

    from syncfoley.engine.demo.scenes import demo_scene
    from syncfoley.engine.media.video import write_video

    scene = demo_scene()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    video = out / "hits.mp4"
    write_video(video, scene.frames(), scene.fps)
    truth = {
        "schema": "syncfoley.onsets/1",
        "source": video.name,
        "fps": float(scene.fps),
        "duration": scene.duration,
        "detector": "truth",
        "range": {"start": 0.0, "end": scene.duration},
        "onsets": [{"time": round(t, 6), "strength": 1.0, "confidence": 1.0} for t in scene.impacts()],
    }
    (out / "hits.truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    print(video)
    print(out / "hits.truth.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
