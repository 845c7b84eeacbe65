"""Conform with worker processes: ``--jobs N`` against one process, on the same cut.

    python bench/bench_conform_jobs.py [--events 50] [--jobs 2] [--rate 25] [--detector motion]

Generates a cut of ``--events`` events over three sources with known impacts
(:mod:`syncfoley.bridge.demo`), conforms a 3-event cut first to warm up this
process (imports, compiled kernels), then conforms the full cut with ``jobs=1``
and with ``jobs=N``, each into its own empty cache. The pool's time includes
starting its workers, which a user pays too. Prints both wall times, their ratio,
how many cores each kept busy on average (CPU time / wall time), and the stem's
onset accuracy for both (they should agree: the work is the same).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=50)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--rate", default="25")
    p.add_argument("--detector", default="motion")
    args = p.parse_args(argv)

    from syncfoley.bridge import api
    from syncfoley.bridge import demo as demo_cut
    from syncfoley.bridge.conform.options import ConformOptions

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cut = demo_cut.make(root / "media", rate=args.rate, events=args.events, sources=3, source_seconds=30.0)
        edl = cut.write_edl(root / "cut.edl")
        warm = cut.write_edl(root / "warm.edl", cut.events[:3])
        options = ConformOptions(detector=args.detector)
        api.conform(warm, root / "warm", [root / "media"], options, cache=root / "warm-cache")
        track = cut.truth_track()

        times = {}
        for jobs in (1, args.jobs):
            cpu0, start = _cpu(), time.perf_counter()
            result = api.conform(edl, root / f"out{jobs}", [root / "media"], options, cache=root / f"cache{jobs}",
                                 jobs=jobs)
            times[jobs] = time.perf_counter() - start
            busy = (_cpu() - cpu0) / times[jobs]
            acc = api.evaluate(result.stem, track, offset=0.0).onset_accuracy
            print(f"jobs={jobs:<3} {times[jobs]:7.2f} s  cores busy {busy:4.2f}  computed {result.computed:3d}, "
                  f"onset accuracy {acc:.3f}")
        print(f"cores {os.cpu_count()}; ratio jobs={args.jobs} / jobs=1: {times[args.jobs] / times[1]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
