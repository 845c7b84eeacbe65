"""Time and peak memory of decoding vs detecting on a long clip (default: 10 min, 1080p).

Makes the clip once (a 10-second synthetic scene looped, H.264) unless given one,
then runs each stage in a fresh process and prints its wall time and peak resident
memory, and the ratio of detection to the bare decode of the same file.

    python bench/bench_long.py [--video FILE] [--minutes 10] [--size 1920x1080]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

STAGE = r"""
import json, resource, sys, time
from syncfoley.engine.media import video as media
from syncfoley.engine.detect.motion import MotionDetectorConfig, detect_motion
path, stage = sys.argv[1], sys.argv[2]
info = media.probe(path)
span = media.check_range(info, None, None)
t0 = time.perf_counter()
if stage == "decode":
    n = sum(1 for _ in media.iter_gray_frames(path, span, MotionDetectorConfig().motion.width))
else:
    n = len(detect_motion(path, info, span).onsets)
secs = time.perf_counter() - t0
print(json.dumps({"seconds": secs, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "count": n, "duration": info.duration}))
"""


# The clip is made in a child process too: a child forked from a parent holding the looped
# frames (1.7 GB at 1080p) reports that parent's peak as its own (ru_maxrss survives exec),
# which is what this bench printed as the peak of both stages before.
MAKE = r"""
import sys
from pathlib import Path
from syncfoley.engine.demo.scenes import reel_scene
from syncfoley.engine.media.video import write_video
path, minutes, width, height = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
scene = reel_scene(width, height)
loop = list(scene.frames())
repeats = max(1, int(round(minutes * 60 / scene.duration)))
write_video(path, (f for _ in range(repeats) for f in loop), scene.fps)
"""


def make_clip(path: Path, minutes: float, width: int, height: int) -> None:
    _child(MAKE, str(path), str(minutes), str(width), str(height))


class StageError(Exception):
    """A child process failed; the message is its last line of output."""


def _child(code: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode:
        lines = (out.stderr or out.stdout).strip().splitlines()
        raise StageError(lines[-1] if lines else f"exit status {out.returncode}")
    return out.stdout


def run_stage(video: Path, stage: str) -> dict[str, float]:
    return json.loads(_child(STAGE, str(video), stage).strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", help="an existing clip (else one is made)")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args(argv)
    if args.video and not Path(args.video).is_file():
        parser.error(f"--video {args.video}: no such file")
    if not 0 < args.minutes <= 600:
        parser.error(f"--minutes {args.minutes:g}: give more than 0 and at most 600")
    size = re.fullmatch(r"(\d+)x(\d+)", args.size)
    if size is None or not all(64 <= int(v) <= 7680 and int(v) % 2 == 0 for v in size.groups()):
        parser.error(f"--size {args.size}: give WIDTHxHEIGHT, even numbers of pixels from 64 to 7680 (1920x1080)")
    try:
        if args.video:
            video = Path(args.video)
        else:
            width, height = (int(v) for v in size.groups())
            video = Path(tempfile.mkdtemp(prefix="syncfoley-long-")) / f"long_{args.size}.mp4"
            make_clip(video, args.minutes, width, height)
        decode = run_stage(video, "decode")
        detect = run_stage(video, "detect")
    except StageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"clip: {video} ({decode['duration']:.0f} s)")
    print(f"{'stage':<10}{'seconds':>10}{'x realtime':>12}{'peak MB':>10}")
    for name, r in (("decode", decode), ("detect", detect)):
        print(f"{name:<10}{r['seconds']:>10.1f}{r['duration'] / r['seconds']:>12.1f}{r['peak_mb']:>10.0f}")
    print(f"detect / decode: {detect['seconds'] / decode['seconds']:.2f}  ({detect['count']} onsets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
