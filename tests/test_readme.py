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
