"""Where conform's events run: serial, the process pool and Ray, on the same cut.

    python bench/bench_conform_executors.py [--events 50] [--jobs 2] [--engine builtin|diffusion]
        [--ray-address ADDR] [--device cpu|cuda] [--steps 8]

Generates a cut of ``--events`` events over three sources with known impacts
(:mod:`syncfoley.bridge.demo`), conforms a 3-event cut first to warm up this process
(imports, compiled kernels), then conforms the full cut with each executor, each into its
own empty cache: ``serial`` (one after another, here), ``pool`` (``--jobs`` processes) and
``ray`` (a Ray started here for the conform, or the cluster at ``--ray-address``). Each time
includes what a user pays too: the pool's and Ray's start-up, their workers' imports and
model loads. Prints per executor the wall time, events per second, the ratio to serial, how
many cores this machine kept busy (CPU seconds / wall, Ray's processes included) and the
stem's onset accuracy (they should agree: the work is the same), then the per-event cost
that the README's feature plan is worked out from.

``--engine diffusion`` renders with a tiny random SyncFusion-shaped model (no weights
needed): the cost of the real one is measured by bench_diffusion.py; this run shows what
batching events into the network's batches and spreading them over workers does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def _cpu_all() -> float:
    """CPU seconds of every process on this machine (Ray's workers are not our children)."""
    with open("/proc/stat") as fh:
        fields = fh.readline().split()[1:]
    user, nice, system = (int(x) for x in fields[:3])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=50)
    p.add_argument("--jobs", type=int, default=2, help="the pool's size")
    p.add_argument("--rate", default="25")
    p.add_argument("--detector", default="motion")
    p.add_argument("--engine", default="builtin", choices=("builtin", "diffusion"))
    p.add_argument("--steps", type=int, default=8, help="diffusion steps (with --engine diffusion)")
    p.add_argument("--batch", type=int, default=8, help="diffusion batch (with --engine diffusion)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--ray-address", default=None)
    p.add_argument("--executors", default="serial,pool,ray")
    args = p.parse_args(argv)

    import numpy as np

    from syncfoley.bridge import api
    from syncfoley.bridge import demo as demo_cut
    from syncfoley.bridge.conform.options import ConformOptions

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cut = demo_cut.make(root / "media", rate=args.rate, events=args.events, sources=3, source_seconds=30.0)
        edl = cut.write_edl(root / "cut.edl")
        warm = cut.write_edl(root / "warm.edl", cut.events[:3])
        fields: dict = {"detector": args.detector, "device": args.device}
        if args.engine == "diffusion":
            import torch

            from syncfoley.engine.generate import diffusion as dif
            from syncfoley.engine.generate.clap import save_embedding
            from syncfoley.engine.generate.diffusion_net import CONFIGS, SyncFusionDiffusion

            torch.manual_seed(0)
            ckpt = dif.save_diffusion_checkpoint(SyncFusionDiffusion(CONFIGS["tiny"]), root / "tiny.ckpt")
            emb = save_embedding(root / "e.npy", np.ones(512, np.float32) / 512 ** 0.5)
            fields.update(engine="diffusion", diffusion_checkpoint=str(ckpt), embedding=str(emb), steps=args.steps,
                          batch=args.batch)
        api.conform(warm, root / "warm", [root / "media"], ConformOptions.from_dict(fields),
                    cache=root / "warm-cache")
        track = cut.truth_track()
        length = sum(ev.record_out - ev.record_in for ev in cut.events) / float(cut.rate)
        print(f"{args.events} events, {length:.0f} s of picture, engine {args.engine}, this machine "
              f"{os.cpu_count()} cores")

        times: dict[str, float] = {}
        for name in args.executors.split(","):
            options = ConformOptions.from_dict({
                **fields, "executor": name, **({"jobs": args.jobs} if name == "pool" else {}),
                **({"ray_address": args.ray_address} if name == "ray" and args.ray_address else {})})
            cpu0, start = _cpu_all(), time.perf_counter()
            result = api.conform(edl, root / f"out-{name}", [root / "media"], options, cache=root / f"cache-{name}")
            took = times[name] = time.perf_counter() - start
            busy = (_cpu_all() - cpu0) / took
            acc = api.evaluate(result.stem, track, offset=0.0).onset_accuracy
            ratio = f"{times['serial'] / took:5.2f}x serial" if "serial" in times else ""
            print(f"{name:<7} {took:7.2f} s  {result.computed / took:6.2f} events/s  {ratio:>14}  cores busy "
                  f"{busy:4.2f}  computed {result.computed:3d}, onset accuracy {acc:.3f}")
        if "serial" in times:
            per_event = times["serial"] / args.events
            print(f"per event, serial on this machine: {per_event:.3f} s; 3000 events: "
                  f"{3000 * per_event / 60:.1f} min on one worker")
    return 0


if __name__ == "__main__":
    sys.exit(main())
