"""Copies of a corpus folder with every picture scaled to a given width, as an editor's proxy
or a small web video is: the question it answers is how a detector does on a smaller copy of
the same clips (the README's "Small pictures"; docs/physics-detector.md, "Pictures under 512 across").

Every clip with a ``NAME.truth.json`` is re-encoded by the ``ffmpeg`` command line (H.264,
CRF 20, 4:2:0, no sound: the picture detectors read only the picture) scaled to ``--width``
across with its aspect kept, and its truth files (``.truth.json``, ``.times.csv``,
``.ignore.csv``) are copied beside it. Each file is written under a temporary name and
renamed (``syncfoley.core.atomic``); an existing copy is left alone unless ``--overwrite``::

    python bench/scaled_copies.py C/val5 C/val5_320 --width 320 [--jobs 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TRUTH_SUFFIXES = (".truth.json", ".times.csv", ".ignore.csv")
# Narrower than the picture detectors' smallest picture (32) is of no use to them.
MIN_WIDTH = 32


def scale_clip(name: str, video: Path, src: Path, dst: Path, width: int, overwrite: bool) -> str:
    """One clip's scaled copy and truth files; returns what was done, for the log."""
    from syncfoley.core.atomic import atomic_path

    target = dst / f"{name}.mp4"
    if target.exists() and not overwrite:
        return f"{target.name}: exists, kept"
    # The video is renamed into place last: a clip is complete once its video is there, and
    # truth files left by a run cut short before that are replaced.
    with atomic_path(target, overwrite) as tmp:
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(video), "-vf", f"scale={width}:-2",
               "-c:v", "libx264", "-crf", "20", "-pix_fmt", "yuv420p", "-an", str(tmp)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg could not scale {video}: {done.stderr.strip()[-300:]}")
        for suffix in TRUTH_SUFFIXES:
            if (src / (name + suffix)).is_file():
                with atomic_path(dst / (name + suffix), overwrite=True) as part:
                    shutil.copyfile(src / (name + suffix), part)
    return f"{target.name}: scaled to {width} across"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="a corpus folder (NAME.truth.json beside each video)")
    parser.add_argument("dst", type=Path, help="folder for the copies (made if missing)")
    parser.add_argument("--width", type=int, required=True, help=f"picture width of the copies ({MIN_WIDTH} or more)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--overwrite", action="store_true", help="replace copies that exist")
    args = parser.parse_args(argv)
    if args.width < MIN_WIDTH:
        parser.error(f"--width {args.width}: give {MIN_WIDTH} or more (the picture detectors' smallest picture)")
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 or more")
    if shutil.which("ffmpeg") is None:
        print("scaled_copies: the ffmpeg command line is needed (apt-get install ffmpeg)", file=sys.stderr)
        return 2
    if not args.src.is_dir():
        print(f"scaled_copies: {args.src} is not a folder", file=sys.stderr)
        return 2
    if args.src.resolve() == args.dst.resolve():
        print("scaled_copies: the copies need a folder of their own, not the source", file=sys.stderr)
        return 2
    from corpus_clips import CorpusFolderError, corpus_clips

    try:
        clips = [(c.name, c.video) for c in corpus_clips(args.src)]
    except CorpusFolderError as e:
        print(f"scaled_copies: {e}", file=sys.stderr)
        return 2
    if not clips:
        print(f"scaled_copies: no clips under {args.src} (NAME.truth.json beside NAME.mp4 or another video)", file=sys.stderr)
        return 2
    if args.dst.exists() and not args.dst.is_dir():
        print(f"scaled_copies: {args.dst} is a file, not a folder", file=sys.stderr)
        return 2
    from syncfoley.core.errors import SyncfoleyError

    args.dst.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(scale_clip, name, video, args.src, args.dst, args.width, args.overwrite)
                   for name, video in clips]
        for f in futures:
            try:
                print(f.result(), flush=True)
            except (RuntimeError, SyncfoleyError) as e:  # ffmpeg's refusal, a full disk
                print(f"scaled_copies: {e}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
