"""Speed of the built-in engine on one core: real-time factor per preset.

    python bench/bench_builtin.py [--seconds 60] [--rate 4]

Renders a track of ``--rate`` hits per second (strengths varied) plus two regions,
mono and stereo, after one warm-up render (numba's cache). The baseline in the same
run is the cost of writing the same number of samples with NumPy (np.zeros + add),
printed so the ratio is read against this machine's speed at the time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--rate", type=float, default=4.0, help="hits per second")
    p.add_argument("--presets", default="", help="comma-separated (default: all)")
    args = p.parse_args(argv)

    import numpy as np

    from syncfoley import presets
    from syncfoley.engine.generate.synth import render_onsets
    from syncfoley.engine.types import Onset, Region

    rng = np.random.default_rng(0)
    n = int(args.seconds * args.rate)
    times = np.sort(rng.uniform(0.1, args.seconds - 0.5, n))
    onsets = [Onset(float(t), float(s)) for t, s in zip(times, rng.uniform(0.3, 1.0, n))]
    regions = [Region(args.seconds * 0.2, args.seconds * 0.2 + 3.0, 0.8),
               Region(args.seconds * 0.6, args.seconds * 0.6 + 5.0, 0.6)]
    names = [s for s in args.presets.split(",") if s] or presets.names()
    sr = 48000
    t0 = time.perf_counter()
    base = np.zeros(int(args.seconds * sr), dtype=np.float32)
    base += 1.0
    baseline = time.perf_counter() - t0
    print(f"{args.seconds:g} s, {len(onsets)} hits ({args.rate:g}/s), 2 regions; one core")
    print(f"baseline (np.zeros + add of the same samples): {baseline * 1000:.1f} ms")
    print(f"{'preset':<10} {'mono x RT':>10} {'stereo x RT':>12}")
    worst = float("inf")
    for name in names:
        preset = presets.load(name)
        render_onsets(preset, onsets[:4], 0.0, 2.0, sr, 0, regions=regions[:0])  # warm-up
        row = []
        for ch in (1, 2):
            t = time.perf_counter()
            render_onsets(preset, onsets, 0.0, args.seconds, sr, 0, regions=regions, channels=ch)
            el = time.perf_counter() - t
            row.append(args.seconds / el)
        worst = min(worst, *row)
        print(f"{name:<10} {row[0]:>10.0f} {row[1]:>12.0f}")
    print(f"slowest: {worst:.0f}x real time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
