"""A 10-minute clip: streaming holds, timing does not drift, memory stays bounded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import f1_score

from syncfoley.engine.demo.scenes import reel_scene
from syncfoley.engine.media.video import probe, write_video

MINUTES = 10
# Peak memory of this process alone: VmHWM starts afresh at exec, whereas ru_maxrss
# carries over the parent's resident size at fork (pytest's, with whatever it loaded).
MEASURED_CLI = (
    "import sys\n"
    "from syncfoley.bridge.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
    "print(hwm, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


@pytest.fixture(scope="module")
def reel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float], float]:
    """A 10 s scene looped for 10 minutes at 320x180, 25 fps (15,000 frames)."""
    scene = reel_scene(320, 180)
    loop = list(scene.frames())
    repeats = MINUTES * 6
    path = tmp_path_factory.mktemp("long") / "reel.mp4"
    write_video(path, (f for _ in range(repeats) for f in loop), scene.fps)
    truth = [t + 10.0 * k for k in range(repeats) for t in scene.impacts()]
    return path, truth, float(scene.fps)


def test_ten_minutes_detected_in_one_process_with_bounded_memory(reel, tmp_path: Path) -> None:
    path, truth, fps = reel
    info = probe(path)
    assert info.duration == pytest.approx(MINUTES * 60, abs=0.1)
    out = tmp_path / "reel.json"
    # The CLI in its own process, which reports its own peak resident memory.
    proc = subprocess.run(
        [sys.executable, "-c", MEASURED_CLI, "detect", str(path), "--detector", "motion", "-o", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    peak_mb = int(proc.stderr.strip().splitlines()[-1]) / 1024
    assert peak_mb < 1024, f"detection of a 10-minute clip peaked at {peak_mb:.0f} MB"
    found = [o["time"] for o in json.loads(out.read_text())["onsets"]]
    f1, p, r = f1_score(found, truth, 0.1)
    assert f1 >= 0.9, (f1, p, r)
    f1_frame, _, _ = f1_score(found, truth, 1.0 / fps)
    assert f1_frame >= 0.8
    # No drift: the last minute is as exact as the first.
    late = [t for t in truth if t >= (MINUTES - 1) * 60]
    late_found = [t for t in found if t >= (MINUTES - 1) * 60 - 0.1]
    assert f1_score(late_found, late, 1.0 / fps)[0] >= 0.8
