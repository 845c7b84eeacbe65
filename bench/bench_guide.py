"""Accuracy of the guide-track (sound) detector over room tones, in AAC/MP4 and PCM/MOV.

Per room tone: hits, onsets found, precision and recall within +-0.1 s, F1 within +-20 ms,
and how many false onsets fell in the first 50 ms (where the room tone starts). Clips come
from tests/room_tones.py with seeds the tests do not use.

    python bench/bench_guide.py [--clips 4] [--seed 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4, help="clips per room tone and container")
    parser.add_argument("--seed", type=int, default=1000, help="first seed (1000; others give clips never looked at)")
    args = parser.parse_args(argv)
    from bench_detection import match
    from room_tones import TONES, guide_clip

    from syncfoley.bridge import api

    tmp = Path(tempfile.mkdtemp(prefix="syncfoley-guide-"))
    print(f"{'tone':<8}{'hits':>6}{'found':>6}{'P':>6}{'R':>6}{'F1@20ms':>9}{'early':>7}")
    total = [0, 0, 0, 0, 0, 0]
    for tone in TONES:
        row = [0, 0, 0, 0, 0, 0]  # hits, found, tp@0.1, tp@20ms, fp@20ms, early
        for i in range(args.clips):
            for container in ("mp4", "mov"):
                clip = guide_clip(tmp, tone, args.seed + 10 * i + (container == "mov"), container)
                found = api.detect(clip.path, detector="audio").times()
                ok, hits = match(found, clip.hits, 0.1)
                ok20, hits20 = match(found, clip.hits, 0.02)
                row[0] += len(clip.hits)
                row[1] += len(found)
                row[2] += hits
                row[3] += hits20
                row[4] += len(found) - hits20
                row[5] += sum(1 for d, o in zip(found, ok) if not o and d < 0.05)
                for d, o in zip(found, ok):
                    if not o:
                        print(f"  false onset at {d:.3f} s in {clip.path.name}", file=sys.stderr)
        total = [a + b for a, b in zip(total, row)]
        _print(tone, row)
    _print("pooled", total)
    return 0


def _print(name: str, row: list[int]) -> None:
    from bench_detection import prf

    p, r, _ = prf(row[2], row[1] - row[2], row[0])
    _, _, f20 = prf(row[3], row[4], row[0])
    print(f"{name:<8}{row[0]:>6}{row[1]:>6}{p:>6.2f}{r:>6.2f}{f20:>9.2f}{row[5]:>7}")


if __name__ == "__main__":
    sys.exit(main())
