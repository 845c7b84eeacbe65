"""`pip install .` builds a real wheel that carries the presets and the DAW scripts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT


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
    for module in ("bridge/cli.py", "bridge/api.py", "engine/onsets.py", "engine/synth.py", "adapters/midi.py"):
        assert f"syncfoley/{module}" in names
    # One namespace: nothing at the top level but syncfoley and the metadata.
    tops = {n.split("/")[0] for n in names}
    assert tops == {"syncfoley", next(t for t in tops if t.endswith(".dist-info"))}
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "syncfoley = syncfoley.bridge.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_the_rooms_import_one_way_only() -> None:
    """engine <- adapters <- bridge: the engine never reaches up into adapters or the bridge, and the
    adapters never into the bridge. An arrow the wrong way makes the engine unusable without the rest."""
    import ast

    below = {"engine": {"adapters", "bridge"}, "adapters": {"bridge"}}
    wrong = []
    for room, forbidden in below.items():
        for path in sorted((ROOT / room).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom):
                    target = ("." * node.level) + (node.module or "")
                    names = [target]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                for name in names:
                    parts = name.lstrip(".").split(".")
                    room_named = parts[1] if parts[0] == "syncfoley" and len(parts) > 1 else \
                        parts[0] if name.startswith("..") else None
                    if room_named in forbidden:
                        wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert wrong == [], wrong
