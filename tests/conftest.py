"""Shared fixtures: generated clips with known impact times, rendered once per session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pytest

from syncfoley.engine.demo.scenes import Scene, catalogue

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hits.mp4"
EXAMPLE_TRUTH = ROOT / "examples" / "hits.truth.json"

SCENES = catalogue()


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def scene_clip(clip_dir: Path) -> Callable[[str], tuple[Path, Scene]]:
    """Render a named scene to H.264 once per session; returns (path, scene)."""
    from syncfoley.engine.media.video import write_video

    made: dict[str, Path] = {}

    def get(name: str) -> tuple[Path, Scene]:
        scene = SCENES[name]
        if name not in made:
            path = clip_dir / f"{name}.mp4"
            write_video(path, scene.frames(), scene.fps)
            made[name] = path
        return made[name], scene

    return get


@pytest.fixture(scope="session")
def detected(scene_clip: Callable[[str], tuple[Path, Scene]]) -> Callable[[str], tuple[object, Scene]]:
    """Onsets the motion detector finds in a named scene, computed once per session; returns (track, scene)."""
    from syncfoley.bridge import api

    cache: dict[str, object] = {}

    def get(name: str) -> tuple[object, Scene]:
        path, scene = scene_clip(name)
        if name not in cache:
            cache[name] = api.detect(path, detector="motion")
        return cache[name], scene

    return get


def f1_score(detected: Sequence[float], truth: Sequence[float], tol: float = 0.1) -> tuple[float, float, float]:
    """F1, precision, recall with one-to-one matching within ``tol`` seconds."""
    used: set[int] = set()
    hits = 0
    for t in truth:
        near = [i for i, d in enumerate(detected) if i not in used and abs(d - t) <= tol]
        if near:
            used.add(min(near, key=lambda i: abs(detected[i] - t)))
            hits += 1
    p = hits / len(detected) if detected else (1.0 if not truth else 0.0)
    r = hits / len(truth) if truth else 1.0
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI as a user would, in a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "syncfoley.bridge.cli", *args],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )


def production_sound(
    seed: int, duration: float, sr: int = 48000, quiet: tuple[float, float] | None = None
) -> tuple[Any, list[float]]:
    """A guide track with known onsets: hits of mixed materials and strengths, some
    as close as 80 ms, over room tone (-40 dBFS pink noise), a 50 Hz hum and a slowly
    gliding tone (which must not trigger); no hits within ``quiet`` (start, end).
    Returns (samples, onset times)."""
    import numpy as np
    from scipy.signal import lfilter

    from syncfoley import presets
    from syncfoley.engine.generate.synth import render_onsets
    from syncfoley.engine.types import Onset

    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.uniform(0.08, 0.8, int(duration * 3)))
    times = [float(t) for t in times if 0.2 < t < duration - 0.3]
    if quiet is not None:
        times = [t for t in times if not quiet[0] <= t <= quiet[1]]
    y = np.zeros(int(duration * sr), dtype=np.float32)
    names = presets.names()
    for i, t in enumerate(times):
        preset = presets.load(names[int(rng.integers(len(names)))])
        y += render_onsets(preset, [Onset(t, float(rng.uniform(0.25, 1.0)))], 0.0, duration, sr, seed * 1000 + i)
    white = rng.standard_normal(len(y))
    pink = lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                   [1, -2.494956002, 2.017265875, -0.522189400], white)
    t = np.arange(len(y)) / sr
    y += (pink / np.abs(pink).max() * 10 ** (-40 / 20)).astype(np.float32)
    y += (0.01 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
    y += (0.02 * np.sin(2 * np.pi * (400 * t + 40 * np.sin(2 * np.pi * 0.2 * t)))).astype(np.float32)
    return np.clip(y, -1, 1), times


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Any]:
    """A real ``syncfoley serve`` on loopback, in its own workdir (see daemon_helpers)."""
    from daemon_helpers import Daemon

    d = Daemon(tmp_path / "work")
    yield d
    d.stop()


@pytest.fixture
def client(daemon: Any) -> Iterator[Any]:
    """A python-osc client of ``daemon``."""
    from daemon_helpers import Client

    c = Client(daemon.port)
    yield c
    c.close()
