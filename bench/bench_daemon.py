"""Control-path latency of ``syncfoley serve``: ping round trips while a job runs.

    python bench/bench_daemon.py [--pings 1000] [--job builtin|diffusion]

Starts a real daemon process on loopback, measures ``--pings`` ping round trips
with nothing running (the baseline of this run), then again while a generation
runs (a long built-in render, or a diffusion render with the tiny model), and
prints the distributions. Then 8 clients send 100 requests each (pings and
generations, queue limit 4) and the answers are counted.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _start(workdir: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "syncfoley.bridge.cli", "serve", "--port", "0", "--workdir",
                             str(workdir), "-q", *extra], stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()  # type: ignore[union-attr]
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # type: ignore[union-attr]
    return proc, int(line.rsplit(":", 1)[1])


def _pings(port: int, n: int) -> list[float]:
    from syncfoley.bridge.daemon import protocol as P

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    msg = P.build("/syncfoley/ping")
    out = []
    for _ in range(n):
        t = time.perf_counter()
        s.sendto(msg, ("127.0.0.1", port))
        while True:
            data, _ = s.recvfrom(65536)
            if P.parse(data)[0].address == "/syncfoley/pong":
                break
        out.append((time.perf_counter() - t) * 1000)
    s.close()
    return out


def _dist(name: str, ms: list[float]) -> None:
    import numpy as np

    a = np.asarray(ms)
    print(f"{name:<28} n={len(a):<5} min {a.min():6.3f}  p50 {np.percentile(a, 50):6.3f}  "
          f"p90 {np.percentile(a, 90):6.3f}  p99 {np.percentile(a, 99):6.3f}  max {a.max():7.3f}  ms")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pings", type=int, default=1000)
    p.add_argument("--job", default="builtin", choices=("builtin", "diffusion"))
    args = p.parse_args(argv)

    import numpy as np

    from syncfoley.bridge import api
    from syncfoley.bridge.daemon import protocol as P
    from syncfoley.engine.types import Onset, OnsetTrack, TimeRange

    tmp = Path(tempfile.mkdtemp(prefix="syncfoley-bench-"))
    proc, port = _start(tmp / "work")
    try:
        idle = _pings(port, args.pings)
        duration = 300.0
        times = np.arange(0.1, duration - 1, 0.1)
        track = OnsetTrack(source="b", duration=duration, fps=25.0, detector="bench",
                           onsets=tuple(Onset(float(t), 0.8) for t in times), range=TimeRange(0.0, duration))
        onsets = api.save_onsets(track, tmp / "long.json")
        req: dict = {"onsets": str(onsets), "channels": 2}
        if args.job == "diffusion":
            import torch

            from syncfoley.engine.generate import diffusion as dif
            from syncfoley.engine.generate.clap import save_embedding
            from syncfoley.engine.generate.diffusion_net import CONFIGS, SyncFusionDiffusion

            torch.manual_seed(0)
            ckpt = dif.save_diffusion_checkpoint(SyncFusionDiffusion(CONFIGS["tiny"]), tmp / "tiny.ckpt")
            emb = save_embedding(tmp / "e.npy", np.ones(512, np.float32) / 512 ** 0.5)
            req = {"onsets": str(onsets), "engine": "diffusion", "diffusion_checkpoint": str(ckpt),
                   "embedding": str(emb), "steps": 150, "duration": 60.0, "device": "cpu"}
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(300)
        s.sendto(P.build("/syncfoley/generate", json.dumps(req)), ("127.0.0.1", port))
        job = P.parse(s.recvfrom(65536)[0])[0].args[0]
        while True:  # wait until it is really working
            m = P.parse(s.recvfrom(65536)[0])[0]
            if m.address == "/syncfoley/progress":
                break
        busy = _pings(port, args.pings)
        s.sendto(P.build("/syncfoley/status", json.dumps({"job_id": job})), ("127.0.0.1", port))
        state = "?"
        while state == "?":
            m = P.parse(s.recvfrom(65536)[0])[0]
            if m.address == "/syncfoley/status":
                state = json.loads(m.args[0])["state"]
        s.sendto(P.build("/syncfoley/cancel", job), ("127.0.0.1", port))
        s.close()
        print(f"ping round trip over UDP loopback ({args.pings} each); job: {args.job} generation "
              f"(still {state} after the pings)")
        _dist("idle (baseline)", idle)
        _dist(f"during a {args.job} job", busy)
        print(f"p99 busy / p99 idle: {np.percentile(busy, 99) / np.percentile(idle, 99):.2f}")
    finally:
        proc.terminate()
        proc.wait(10)

    proc, port = _start(tmp / "work2", "--queue-limit", "4")
    counts: dict[str, int] = {}
    lock = threading.Lock()
    short = api.save_onsets(OnsetTrack(source="b", duration=1.0, fps=25.0, detector="bench",
                                       onsets=(Onset(0.2, 0.8), Onset(0.5, 0.8)), range=TimeRange(0.0, 1.0)),
                            tmp / "short.json")

    def client(k: int) -> None:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.bind(("127.0.0.1", 0))
        c.settimeout(10)
        for i in range(100):
            if i % 2:
                c.sendto(P.build("/syncfoley/ping"), ("127.0.0.1", port))
            else:
                c.sendto(P.build("/syncfoley/generate", json.dumps({"onsets": str(short), "seed": k * 1000 + i})),
                         ("127.0.0.1", port))
            while True:
                m = P.parse(c.recvfrom(65536)[0])[0]
                if m.address in ("/syncfoley/progress", "/syncfoley/done") or (
                        m.address == "/syncfoley/error" and m.args[2]):
                    continue
                key = m.address if m.address != "/syncfoley/error" else f"error {m.args[0]}"
                with lock:
                    counts[key] = counts.get(key, 0) + 1
                break
        c.close()

    try:
        t = time.perf_counter()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        el = time.perf_counter() - t
        print(f"8 clients x 100 requests in {el:.2f} s: {sum(counts.values())} answers {counts}")
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
