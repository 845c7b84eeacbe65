"""Shared fixtures: generated clips with known impact times, rendered once per session."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import pytest

from syncfoley.engine.scenes import BouncingBall, Mover, Scene, Striker, demo_scene

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hits.mp4"
EXAMPLE_TRUTH = ROOT / "examples" / "hits.truth.json"

SCENES: dict[str, Scene] = {
    # A stick striking a block, a smoothly swaying distractor, handheld shake,
    # sensor noise and flicker.
    "struck": Scene(
        duration=4, shake=3, noise=3, flicker=0.04,
        objects=(Striker(x=300, contact_y=230, hits=(0.6, 1.3, 1.9, 2.6, 3.3)), Mover(x=520, y=150, sway=80, period=2.0)),
    ),
    # A ball bouncing to rest, a distractor gliding across, a slow camera pan.
    "bouncing": Scene(
        duration=4, pan=-20, noise=3,
        objects=(BouncingBall(x=320, floor_y=340, drop_height=250, radius=24), Mover(x=150, y=120, velocity=90)),
    ),
    # Both at once at 29.97 fps, with a pan the other way.
    "mixed": demo_scene(seed=3, fps=Fraction(30000, 1001), pan=-15, noise=3),
    # 59.94 fps: half the motion per frame.
    "bouncing_60": Scene(
        duration=3, fps=Fraction(60000, 1001), pan=15,
        objects=(BouncingBall(x=320, floor_y=340, drop_height=250, radius=24),),
    ),
    # 23.976 fps: twice the motion per frame.
    "bouncing_24": Scene(
        duration=3, fps=Fraction(24000, 1001), pan=10, noise=2,
        objects=(BouncingBall(x=250, floor_y=330, drop_height=150, radius=30), Mover(x=500, y=100, sway=50, period=2)),
    ),
    # Only smooth motion: pans, glides and sways. No onsets may be found.
    "smooth": Scene(
        duration=4, pan=25, noise=2,
        objects=(
            Mover(x=200, y=150, sway=150, period=2.5),
            Mover(x=-50, y=260, velocity=180),
            Mover(x=500, y=80, sway=60, period=1.7, radius=30),
        ),
    ),
}


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
