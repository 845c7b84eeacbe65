"""`syncfoley detect --plot`: a picture of the curve, the detections and the truth."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLE, EXAMPLE_TRUTH, run_cli


def test_plot_with_truth(tmp_path: Path) -> None:
    png = tmp_path / "check.png"
    proc = run_cli("detect", str(EXAMPLE), "--plot", str(png), "--truth", str(EXAMPLE_TRUTH))
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    width, height = Image.open(png).size
    assert width >= 800 and height >= 250


def test_plot_needs_a_known_format_and_something_to_write(tmp_path: Path) -> None:
    proc = run_cli("detect", str(EXAMPLE), "--plot", str(tmp_path / "x.gif"))
    assert proc.returncode == 2 and "'.png'" in proc.stderr
    proc = run_cli("detect", str(EXAMPLE))
    assert proc.returncode == 2 and "nothing to write" in proc.stderr


def test_plot_of_a_file_track_is_refused(tmp_path: Path) -> None:
    from syncfoley.adapters import plot
    from syncfoley.bridge import api
    from syncfoley.core.errors import RequestError

    with pytest.raises(RequestError, match="no detector curve"):
        plot.write(api.load_onsets(EXAMPLE_TRUTH), tmp_path / "x.png")
