"""The engine daemon as the tests run it: a real ``syncfoley serve`` process on loopback, a
python-osc client, and requests slow enough to act on while they run. Shared by the daemon's
test modules (conftest.py makes the ``daemon`` and ``client`` fixtures of them)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from syncfoley.bridge import api
from syncfoley.bridge.daemon import protocol as P
from syncfoley.engine.types import Onset, OnsetTrack, TimeRange


class Daemon:
    """``syncfoley serve`` in its own process, on a free loopback port."""

    def __init__(self, workdir: Path, *extra: str) -> None:
        self.workdir = workdir
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syncfoley.bridge.cli", "serve", "--port", "0", "--workdir", str(workdir),
             "-q", *extra],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        if "listening on udp://" not in line:
            rest = self.proc.stderr.read() if self.proc.poll() is not None else ""
            raise RuntimeError(f"daemon did not start: {line}{rest}")
        self.port = int(line.rsplit(":", 1)[1])
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # keep the pipe drained

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Client:
    """A python-osc speaking UDP client with its own port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.local_port = self.sock.getsockname()[1]

    def raw(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def send(self, address: str, *args: Any) -> None:
        self.raw(P.build(address, *args))

    def recv(self, timeout: float = 5.0) -> P.Message:
        self.sock.settimeout(timeout)
        data, _ = self.sock.recvfrom(65536)
        return P.parse(data)[0]

    def ask(self, address: str, *args: Any, timeout: float = 5.0) -> P.Message:
        self.send(address, *args)
        return self.recv(timeout)

    def until(self, kind: str, job: str, timeout: float = 120.0) -> tuple[P.Message, list[P.Message]]:
        seen = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self.recv(max(0.1, end - time.monotonic()))
            seen.append(m)
            if m.address == P.PREFIX + kind and (not job or job in m.args):
                return m, seen
            if m.address == "/syncfoley/error" and job in m.args and kind != "error":
                raise AssertionError(f"job {job} failed: {m.args}")
        raise AssertionError(f"no {kind} for {job}; saw {seen}")

    def close(self) -> None:
        self.sock.close()


def onsets_file(path: Path, times: list[float], duration: float) -> Path:
    track = OnsetTrack(source="t", duration=duration, fps=25.0, detector="test",
                       onsets=tuple(Onset(t, 0.8) for t in times), range=TimeRange(0.0, duration))
    return api.save_onsets(track, path, overwrite=True)


def tiny_diffusion_files(tmp_path: Path) -> tuple[Path, Path]:
    """A diffusion job that takes tens of seconds on a CPU (tiny model, several windows)."""
    import torch

    from syncfoley.engine.generate import diffusion as dif
    from syncfoley.engine.generate.clap import save_embedding
    from syncfoley.engine.generate.diffusion_net import CONFIGS, SyncFusionDiffusion

    torch.manual_seed(0)
    ckpt = dif.save_diffusion_checkpoint(SyncFusionDiffusion(CONFIGS["tiny"]), tmp_path / "tiny.ckpt")
    emb = save_embedding(tmp_path / "e.npy", np.ones(512, np.float32) / 512 ** 0.5)
    return ckpt, emb


def slow_request(folder: Path, hits: int, steps: int, **extra: Any) -> dict[str, Any]:
    """A diffusion request slow enough to act on while it runs: ``hits`` onsets a second apart."""
    ckpt, emb = tiny_diffusion_files(folder)
    onsets = onsets_file(folder / "slow.json", [0.5 + k for k in range(hits)], hits + 1.0)
    return {"onsets": str(onsets), "engine": "diffusion", "diffusion_checkpoint": str(ckpt), "embedding": str(emb),
            "steps": steps, "batch": 1, "device": "cpu", **extra}


def wait_state(c: Client, job: str, timeout: float = 120.0) -> dict[str, Any]:
    """The job's status once it is no longer queued or running (or at ``timeout``)."""
    end = time.monotonic() + timeout
    while True:
        c.send("/syncfoley/status", json.dumps({"job_id": job}))
        reply = c.recv()
        while reply.address != "/syncfoley/status":  # replies of the job itself, still in flight
            reply = c.recv()
        st: dict[str, Any] = json.loads(reply.args[0])
        if st["state"] not in ("queued", "running") or time.monotonic() > end:
            return st
        time.sleep(0.2)
