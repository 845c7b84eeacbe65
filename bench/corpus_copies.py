"""Copies of a corpus folder as editors and the web make them: scaled, compressed harder,
interlaced, or as ProRes proxies. The question each answers is how a detector does on another
copy of the same clips, whose truth is unchanged (the README's "Small pictures" and "Other copies
of the same footage"; docs/physics-detector.md, "Pictures under 512 across" and "Other copies of
the test clips").

Every clip with a ``NAME.truth.json`` is re-encoded by the ``ffmpeg`` command line (no sound: the
picture detectors read only the picture) and its truth files (``.truth.json``, ``.times.csv``,
``.ignore.csv``) are copied beside it:

- ``--width W``: scaled to W across, its aspect kept (without it, the clip's own size);
- ``--crf Q``, ``--preset P``: H.264 at that quality and libx264 speed preset (20 and medium by
  default; the corpora's clips were made at 16-29, so 32 or 35 is footage compressed harder than
  any the detectors learnt from, and veryfast spends its bits worse than medium at one CRF);
- ``--interlace``: each two frames become the two fields of one frame, top field first, coded
  as interlaced H.264 at half the frame rate (50p becomes 25i, 59.94p 29.97i): what a broadcast
  camera records, with no vertical filter (each field's own lines). Clips under 48 frames a second
  are skipped: interlaced at half their rate they would be no camera's;
- ``--codec prores-proxy``: ProRes 422 Proxy in a ``.mov``, as Resolve's and Premiere's proxy
  media are (with ``--width``, a half- or quarter-size proxy).

Each file is written under a temporary name and renamed (``syncfoley.core.atomic``); an existing
copy is left alone unless ``--overwrite``::

    python bench/corpus_copies.py C/val5 C/val5_320 --width 320 [--jobs 2]
    python bench/corpus_copies.py C/test C/test_crf35 --crf 35 [--preset veryfast]
    python bench/corpus_copies.py C/test C/test_1080i --width 1920 --interlace
    python bench/corpus_copies.py C/test C/test_proxy --width 480 --codec prores-proxy
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

TRUTH_SUFFIXES = (".truth.json", ".times.csv", ".ignore.csv")
# Narrower than the picture detectors' smallest picture (32) is of no use to them.
MIN_WIDTH = 32
CODECS = ("h264", "prores-proxy")
# libx264's speed presets: at one CRF a faster preset spends its bits less well, as encoders
# that must keep up in real time do.
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
# Interlacing halves the frame rate: 48p and up make 24i and up (50p: 25i, 59.94p: 29.97i).
MIN_INTERLACE_FPS = 48.0


@dataclass(frozen=True)
class CopySettings:
    """How every clip is copied (see the module's docstring)."""

    width: Optional[int] = None
    crf: int = 20
    preset: str = "medium"
    interlace: bool = False
    codec: str = "h264"

    @property
    def suffix(self) -> str:
        return ".mov" if self.codec == "prores-proxy" else ".mp4"

    def ffmpeg_args(self) -> list[str]:
        """The filters and encoder after ``-i``."""
        filters = [f"scale={self.width}:-2"] if self.width else []
        if self.interlace:
            # Two frames into one frame's two fields, top first (the broadcast HD order).
            filters.append("interlace=scan=tff:lowpass=off")
        vf = ["-vf", ",".join(filters)] if filters else []
        if self.codec == "prores-proxy":
            return [*vf, "-c:v", "prores_ks", "-profile:v", "0"]
        coded = ["-flags", "+ilme+ildct", "-x264-params", "tff=1"] if self.interlace else []
        return [*vf, "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf), *coded, "-pix_fmt", "yuv420p"]

    def describe(self) -> str:
        parts = [f"scaled to {self.width} across"] if self.width else []
        if self.interlace:
            parts.append("interlaced (top field first, half the frame rate)")
        parts.append("ProRes 422 Proxy" if self.codec == "prores-proxy" else f"H.264 CRF {self.crf} ({self.preset})")
        return ", ".join(parts)


def copy_clip(name: str, video: Path, src: Path, dst: Path, settings: CopySettings, overwrite: bool) -> str:
    """One clip's copy and truth files; returns what was done, for the log."""
    from syncfoley.core.atomic import atomic_path

    target = dst / f"{name}{settings.suffix}"
    if target.exists() and not overwrite:
        return f"{target.name}: exists, kept"
    if settings.interlace:
        from syncfoley.engine.media.video import probe

        fps = probe(video).fps
        if fps < MIN_INTERLACE_FPS:
            return f"{target.name}: skipped, {fps:.3f} fps (interlacing takes {MIN_INTERLACE_FPS:g} fps or more)"
    # The video is renamed into place last: a clip is complete once its video is there, and
    # truth files left by a run cut short before that are replaced.
    with atomic_path(target, overwrite) as tmp:
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(video), *settings.ffmpeg_args(), "-an",
               str(tmp)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg could not copy {video}: {done.stderr.strip()[-300:]}")
        for suffix in TRUTH_SUFFIXES:
            if (src / (name + suffix)).is_file():
                with atomic_path(dst / (name + suffix), overwrite=True) as part:
                    shutil.copyfile(src / (name + suffix), part)
    return f"{target.name}: {settings.describe()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="a corpus folder (NAME.truth.json beside each video)")
    parser.add_argument("dst", type=Path, help="folder for the copies (made if missing)")
    parser.add_argument("--width", type=int, help=f"picture width of the copies ({MIN_WIDTH} or more; "
                                                  "default: each clip's own)")
    parser.add_argument("--crf", type=int, default=20, help="H.264 quality, 0-51 (default 20; higher is smaller)")
    parser.add_argument("--preset", choices=PRESETS, default="medium", help="libx264's speed preset (default medium)")
    parser.add_argument("--interlace", action="store_true",
                        help="two frames into one frame's fields, top first, at half the frame rate")
    parser.add_argument("--codec", choices=CODECS, default="h264")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--overwrite", action="store_true", help="replace copies that exist")
    args = parser.parse_args(argv)
    if args.width is not None and args.width < MIN_WIDTH:
        parser.error(f"--width {args.width}: give {MIN_WIDTH} or more (the picture detectors' smallest picture)")
    if not 0 <= args.crf <= 51:
        parser.error(f"--crf {args.crf}: give 0 to 51 (H.264's quality scale)")
    if args.codec == "prores-proxy" and args.interlace:
        parser.error("--interlace makes interlaced H.264; give it without --codec prores-proxy")
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 or more")
    settings = CopySettings(args.width, args.crf, args.preset, args.interlace, args.codec)
    if shutil.which("ffmpeg") is None:
        print("corpus_copies: the ffmpeg command line is needed (apt-get install ffmpeg)", file=sys.stderr)
        return 2
    if not args.src.is_dir():
        print(f"corpus_copies: {args.src} is not a folder", file=sys.stderr)
        return 2
    if args.src.resolve() == args.dst.resolve():
        print("corpus_copies: the copies need a folder of their own, not the source", file=sys.stderr)
        return 2
    from corpus_clips import CorpusFolderError, corpus_clips

    try:
        clips = [(c.name, c.video) for c in corpus_clips(args.src)]
    except CorpusFolderError as e:
        print(f"corpus_copies: {e}", file=sys.stderr)
        return 2
    if not clips:
        print(f"corpus_copies: no clips under {args.src} (NAME.truth.json beside NAME.mp4 or another video)",
              file=sys.stderr)
        return 2
    if args.dst.exists() and not args.dst.is_dir():
        print(f"corpus_copies: {args.dst} is a file, not a folder", file=sys.stderr)
        return 2
    from syncfoley.core.errors import SyncfoleyError

    args.dst.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(copy_clip, name, video, args.src, args.dst, settings, args.overwrite)
                   for name, video in clips]
        for f in futures:
            try:
                print(f.result(), flush=True)
            except (RuntimeError, SyncfoleyError) as e:  # ffmpeg's refusal, a full disk, a clip probe refused
                print(f"corpus_copies: {e}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
