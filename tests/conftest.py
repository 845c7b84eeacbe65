"""Shared fixtures: generated clips with known impact times, rendered once per session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

import pytest

from syncfoley.engine.scenes import Scene, catalogue

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
    from syncfoley.engine.media import write_video

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
    """Onsets detected in a named scene, computed once per session; returns (track, scene)."""
    from syncfoley.bridge import api

    cache: dict[str, object] = {}

    def get(name: str) -> tuple[object, Scene]:
        path, scene = scene_clip(name)
        if name not in cache:
            cache[name] = api.detect(path)
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
