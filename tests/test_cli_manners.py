"""How the CLI behaves at the terminal: a progress line that fits, a first run that says
why it is slow, a missing extra found before any work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE

from syncfoley.bridge.progress_bar import line


@pytest.mark.parametrize("columns", [20, 40, 64, 65, 80, 200])
def test_the_progress_line_fits_the_terminal(columns: int) -> None:
    for f in (0.0, 0.5, 1.0):
        text = line(f, "detecting onsets (physics) in a long file name", columns)
        assert len(text) <= columns - 1, (columns, text)
        assert text.startswith("[") and "%" in text


def test_plot_without_matplotlib_fails_before_any_work(tmp_path: Path) -> None:
    def detect(video: Path) -> subprocess.CompletedProcess[str]:
        code = ("import sys; sys.modules['matplotlib'] = None; from syncfoley.bridge.cli import main; "
                f"sys.exit(main(['detect', {str(video)!r}, '-o', {str(tmp_path / 'h.json')!r}, "
                f"'--plot', {str(tmp_path / 'h.png')!r}]))")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    res = detect(EXAMPLE)
    assert res.returncode == 2, res.stderr
    assert "--plot needs matplotlib: pip install 'syncfoley[plot]'" in res.stderr
    assert not list(tmp_path.iterdir()), "files were written before the refusal"
    # Checked first: even a video that does not exist is not looked at before it.
    res = detect(tmp_path / "nowhere.mp4")
    assert "--plot needs matplotlib" in res.stderr and "no such file" not in res.stderr


def test_the_first_run_says_it_is_compiling(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    cmd = [sys.executable, "-m", "syncfoley.bridge.cli", "detect", str(EXAMPLE), "-o", str(tmp_path / "a.json")]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "compiling the signal kernels for this machine (once" in first.stderr
    cmd[-1] = str(tmp_path / "b.json")
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0 and "compiling" not in second.stderr, second.stderr
