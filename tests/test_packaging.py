"""`pip install .` builds a real wheel that carries every module, the presets and the DAW scripts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT
from test_architecture import product_modules


def test_wheel_carries_presets_and_scripts(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    wheel = next(tmp_path.glob("syncfoley-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for material in ("wood", "metal", "glass", "plastic", "ceramic", "stone", "cloth", "paper", "gravel", "leaves"):
        assert f"syncfoley/presets/materials/{material}.yaml" in names
    scripts = Path(__file__).resolve().parents[1] / "bridge" / "scripts"
    shipped = [p.relative_to(scripts).as_posix() for p in scripts.rglob("*")
               if p.is_file() and p.suffix in (".lua", ".py", ".xml", ".md")]
    assert len(shipped) >= 4
    for rel in shipped:  # every DAW/NLE script, so install-scripts finds them in an installed package
        assert f"syncfoley/bridge/scripts/{rel}" in names, rel
    # Every product module, in every room and subpackage (a package missing from pyproject's list
    # would install without its files).
    for module, path in product_modules().items():
        assert f"syncfoley/{path.relative_to(ROOT).as_posix()}" in names, module
    # One namespace: nothing at the top level but syncfoley and the metadata.
    tops = {n.split("/")[0] for n in names}
    assert tops == {"syncfoley", next(t for t in tops if t.endswith(".dist-info"))}
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "syncfoley = syncfoley.bridge.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
