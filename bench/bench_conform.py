"""Re-conform: how long a changed cut takes against the first conform of the same reel.

    python bench/bench_conform.py [--events 50] [--rate 25] [--detector motion] [--keep DIR]

Generates a cut of ``--events`` events over three sources with known impacts
(:mod:`syncfoley.bridge.demo`), conforms it with an empty cache, then slips
one event's source window by ten frames (a re-cut of one shot) and conforms the
new list. Both conforms run in this process after the same imports, so the ratio
compares the work, not Python's start-up. Prints both wall times, their ratio,
how many events each computed, and the stem's onset accuracy against the
impacts (SyncFusion's protocol) for both.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=50)
    p.add_argument("--rate", default="25", help="23.976, 25, 29.97 (drop frame) ...")
    p.add_argument("--detector", default="motion")
    p.add_argument("--event", type=int, default=17, help="the event to change (1-based)")
    p.add_argument("--keep", metavar="DIR", help="work here and keep the files (default: a temporary folder)")
    args = p.parse_args(argv)

    from syncfoley.bridge import api
    from syncfoley.bridge import demo as demo_cut
    from syncfoley.bridge.conform.options import ConformOptions
    from syncfoley.bridge.conform.outputs import ConformResult

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        t = time.perf_counter()
        cut = demo_cut.make(root / "media", rate=args.rate, events=args.events, sources=3, source_seconds=30.0)
        print(f"generated {len(cut.events)} events over {len(cut.sources)} sources in "
              f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
        v1 = cut.write_edl(root / "cut_v1.edl")
        changed = cut.moved(args.event - 1, 10)
        v2 = cut.write_edl(root / "cut_v2.edl", changed)
        options = ConformOptions(detector=args.detector)

        def conform(edl: Path, out: str) -> tuple[float, ConformResult]:
            start = time.perf_counter()
            result = api.conform(edl, root / out, [root / "media"], options, cache=root / "cache")
            return time.perf_counter() - start, result

        first_s, first = conform(v1, "out_v1")
        second_s, second = conform(v2, "out_v2")

        def accuracy(result: ConformResult, events: tuple[demo_cut.DemoEvent, ...]) -> float:
            return api.evaluate(result.stem, cut.truth_track(events), offset=0.0).onset_accuracy

        for label, seconds, result, events in (("first conform:", first_s, first, cut.events),
                                               ("re-conform:", second_s, second, changed)):
            print(f"{label:<15} {seconds:7.2f} s  computed {result.computed:3d}, reused {result.reused:3d}, "
                  f"onset accuracy {accuracy(result, events):.3f}")
        print(f"ratio re-conform / first: {second_s / first_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
