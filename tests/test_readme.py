"""The README's two set-up commands are the ones CI and users run."""

from __future__ import annotations

import re

from conftest import ROOT


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_exactly_two_setup_commands() -> None:
    cmds = _commands()
    assert len(cmds) == 2
    assert "pip install ." in cmds[0] and "syncfoley run examples/hits.mp4" in cmds[0]
    assert "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command() -> None:
    assert _commands()[1] in (ROOT / ".ci" / "run").read_text()


def test_example_clip_and_truth_are_committed() -> None:
    assert (ROOT / "examples" / "hits.mp4").stat().st_size > 10_000
    assert (ROOT / "examples" / "hits.truth.json").is_file()


def _slug(heading: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _prose(path) -> str:
    """A Markdown file's text without its fenced code (shell comments are not headings, nor
    brackets there links)."""
    return re.sub(r"```.*?```", "", path.read_text(), flags=re.S)


def _anchors(path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", _prose(path), flags=re.M)}


def test_relative_links_in_the_docs_lead_somewhere() -> None:
    """Every relative link of the README and docs/ names a file that exists, and its
    #anchor, if any, a heading of that file (the README sends readers to the physics
    detector's record by section)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    for page in pages:
        for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", _prose(page)):
            if re.match(r"[a-z]+:", target):
                continue
            name, _, anchor = target.partition("#")
            dest = (page.parent / name).resolve() if name else page
            assert dest.is_file(), f"{page.name}: link to {target}: no such file"
            if anchor:
                assert anchor in _anchors(dest), f"{page.name}: link to {target}: no such heading in {dest.name}"
            checked += 1
    assert checked >= 4


def test_code_that_cites_the_physics_record_cites_what_is_there() -> None:
    """Comments and docstrings that send a reader to a part of docs/physics-detector.md by
    name ('docs/physics-detector.md, "Speed"') name a part it has."""
    record = (ROOT / "docs" / "physics-detector.md").read_text()
    cited = []
    for folder in ("engine", "bench", "bridge", "adapters", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            cited += re.findall(r'docs/physics-detector\.md, "([^"]+)"', path.read_text())
    assert cited, "no citation found: the pattern no longer matches how the code cites the record"
    missing = [name for name in cited if name not in record]
    assert not missing, f"cited but not in docs/physics-detector.md: {missing}"
