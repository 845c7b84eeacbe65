"""The rooms and the arrows between them: every product module, every import (lazy ones too).

Rooms, lowest first: ``core`` (shared leaves) <- ``presets`` <- ``engine`` <- ``adapters``
<- ``bridge``. A module imports only from its own room or a lower one, so the engine
runs without the adapters or the bridge, and presets without the engine. No import
cycle anywhere, between modules or between subpackages.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

RANK = {"core": 0, "presets": 1, "engine": 2, "adapters": 3, "bridge": 4}
# Package data that runs inside REAPER and Resolve, not in the product's interpreter.
NOT_MODULES = ("bridge/scripts/",)


def product_modules() -> dict[str, Path]:
    """``syncfoley.<room>.<...>`` -> file, for every .py the wheel installs as code."""
    mods: dict[str, Path] = {}
    for room in RANK:
        for path in sorted((ROOT / room).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if any(rel.startswith(n) for n in NOT_MODULES) or "__pycache__" in rel:
                continue
            parts = ["syncfoley", *path.relative_to(ROOT).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


def imports_of(name: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """The product modules ``name`` imports, anywhere in the file (inside functions too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known and target.startswith("syncfoley."):
                target = target.rsplit(".", 1)[0]  # `import syncfoley.engine.x.y`: the deepest module we have
            if target in known:
                found.append((node.lineno, target))
    return found


def graph() -> tuple[dict[str, Path], dict[str, set[str]]]:
    mods = product_modules()
    known = set(mods)
    return mods, {m: {t for _, t in imports_of(m, p, known) if t != m} for m, p in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each a cycle's members."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def room(module: str) -> str:
    return module.split(".")[1]


def test_every_room_and_subpackage_is_covered() -> None:
    mods = product_modules()
    rooms = {room(m) for m in mods}
    assert rooms == set(RANK)
    subpackages = {m for m, p in mods.items() if p.name == "__init__.py" and m.count(".") >= 2}
    # The pipeline's rooms, by job: a newcomer finds the place for a change from these names.
    for expected in ("syncfoley.engine.media", "syncfoley.engine.detect", "syncfoley.engine.generate",
                     "syncfoley.engine.evaluate", "syncfoley.engine.models", "syncfoley.bridge.conform",
                     "syncfoley.bridge.daemon"):
        assert expected in subpackages
    # Every folder with Python in it is a package the wheel lists (pyproject's packages).
    pyproject = (ROOT / "pyproject.toml").read_text()
    for pkg in {m for m, p in mods.items() if p.name == "__init__.py"}:
        assert f'"{pkg}"' in pyproject, f"{pkg} is not listed in pyproject.toml's packages"
    for m, p in mods.items():
        assert (p.parent / "__init__.py").is_file(), f"{m} sits in a folder that is not a package"


def test_no_import_cycle_between_modules_lazy_imports_included() -> None:
    _, edges = graph()
    assert cycles(edges) == []


def test_no_import_cycle_between_subpackages() -> None:
    """Each subpackage folded into one node (a module directly in a room stays its own node): the
    jobs inside a room depend on each other one way too."""
    mods, edges = graph()
    subpackages = {m for m, p in mods.items() if p.name == "__init__.py" and m.count(".") >= 2}

    def pkg(m: str) -> str:
        head = ".".join(m.split(".")[:3])
        return head if head in subpackages else m

    folded: dict[str, set[str]] = {}
    for a, targets in edges.items():
        folded.setdefault(pkg(a), set()).update(pkg(b) for b in targets if pkg(b) != pkg(a))
    assert cycles(folded) == []


def test_the_arrows_point_down_only() -> None:
    """engine and presets import no adapter or bridge module, adapters no bridge module, presets
    nothing of the engine, and core nothing of syncfoley at all."""
    mods = product_modules()
    known = set(mods)
    wrong = []
    for m, p in mods.items():
        for line, target in imports_of(m, p, known):
            if RANK[room(target)] > RANK[room(m)]:
                wrong.append(f"{p.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == []


def test_the_check_sees_what_it_forbids(tmp_path: Path) -> None:
    """The import reader finds lazy, relative and `from pkg import mod` imports: a test that
    could not fail would prove nothing."""
    known = {"syncfoley.engine.a", "syncfoley.engine.b", "syncfoley.bridge.api", "syncfoley.engine"}
    src = tmp_path / "a.py"
    src.write_text("def f():\n    from syncfoley.bridge import api\n    from . import b\n    import syncfoley.engine.b.c\n")
    got = sorted(t for _, t in imports_of("syncfoley.engine.a", src, known))
    assert got == ["syncfoley.bridge.api", "syncfoley.engine.b", "syncfoley.engine.b"]
    assert cycles({"x": {"y"}, "y": {"z"}, "z": {"x"}, "w": {"x"}}) == [["x", "y", "z"]]


def test_test_scenes_ship_only_as_the_demo() -> None:
    """The scene generator is in the wheel for one user feature, ``syncfoley demo``; no other
    product module may lean on it."""
    mods, edges = graph()
    users = sorted(m for m, targets in edges.items() if any(t.startswith("syncfoley.engine.demo") for t in targets)
                   and not m.startswith("syncfoley.engine.demo"))
    assert users == ["syncfoley.bridge.demo"]
