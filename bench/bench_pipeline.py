"""Time each stage of ``syncfoley run`` on the example clip.

The decode baseline is what the motion detector itself needs from the file: every
frame decoded and scaled to the analysis size, nothing else.

Prints, per stage, the best of N wall-clock times, the real-time factor (media
seconds per second of work; above 1 is faster than real time) and the ratio to the
plain decode of the same clip in the same run (the baseline: machines are noisy, a
ratio survives that better than seconds do).

    python bench/bench_pipeline.py [VIDEO] [--repeat N] [--preset NAME]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]


def best_of(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", default=str(ROOT / "examples" / "hits.mp4"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--preset", default="wood")
    args = parser.parse_args(argv)

    from syncfoley.bridge import api
    from syncfoley.engine.detect.motion import MotionDetectorConfig
    from syncfoley.engine.media import video as media

    info = media.probe(args.video)
    span = media.check_range(info, None, None)
    width = MotionDetectorConfig().motion.width

    def decode() -> None:
        for _ in media.iter_gray_frames(args.video, span, width):
            pass

    track = api.detect(args.video, detector="motion")
    request = api.generation_request(track, preset=args.preset)
    stages = {
        "decode": decode,
        "detect (incl. decode)": lambda: api.detect(args.video, detector="motion"),
        "generate": lambda: api.generate(request),
    }
    results = {name: best_of(args.repeat, fn) for name, fn in stages.items()}
    base = results["decode"]
    print(f"clip: {args.video} ({info.duration:.2f} s, {info.width}x{info.height} @ {info.fps:.3f} fps, "
          f"{len(track.onsets)} onsets)")
    print(f"{'stage':<24}{'seconds':>10}{'x realtime':>12}{'/ decode':>10}")
    for name, secs in results.items():
        print(f"{name:<24}{secs:>10.3f}{info.duration / secs:>12.1f}{secs / base:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
