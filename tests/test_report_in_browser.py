"""The conform report as an editor opens it: rendered by a real browser (headless Chromium
from Debian), offline. Its DOM after rendering has a player for each event's clip and
for the stem, links to each event's WAV, JSON and MIDI that resolve to files, the hits with
record timecodes, time axes; a screenshot is written for a human to look at
(``$SYNCFOLEY_ARTIFACTS``, when set, keeps a copy)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import run_cli

from syncfoley.adapters import edl
from syncfoley.adapters import timeline as timeline_adapter

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (CI installs Debian's chromium)")


class Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def browser(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-extensions", "--disable-dev-shm-usage"]  # /dev/shm is small in containers
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conform of the demo cut: rendered scenes with real hits, six events."""
    tmp = tmp_path_factory.mktemp("report")
    res = run_cli("demo", str(tmp / "demo"), "--events", "6")
    assert res.returncode == 0, res.stderr
    res = run_cli("conform", str(tmp / "demo" / "cut.edl"), "--media-root", str(tmp / "demo" / "media"), "-o",
                  str(tmp / "out"), "-q")
    assert res.returncode == 0, res.stdout + res.stderr
    return tmp / "out" / "report.html"


def test_the_rendered_report_has_players_links_and_hits(report: Path) -> None:
    res = browser("--dump-dom", report.as_uri())
    assert res.returncode == 0 and "</html>" in res.stdout, res.stderr[-2000:]
    dom = Dom()
    dom.feed(res.stdout)
    audio = [a["src"] for tag, a in dom.tags if tag == "audio"]
    assert len(audio) == 6 + 1, audio  # each event's clip, and the stem
    assert all((report.parent / src).is_file() for src in audio)
    links = [a["href"] for tag, a in dom.tags if tag == "a"]
    for kind in (".wav", ".json", ".mid"):
        per_event = [h for h in links if h.startswith(("clips/", "onsets/")) and h.endswith(kind)
                     and h != "onsets/timeline.mid"]
        assert len(per_event) == 6, (kind, per_event)
    assert all((report.parent / h).is_file() for h in links)
    text = " ".join(dom.text)
    cut = timeline_adapter.read(report.parent.parent / "demo" / "cut.edl", rate="25")  # the demo's default
    hits = re.findall(r"\b\d\d:\d\d:\d\d:\d\d\b(?=\s+\d\.\d\d)", text)
    assert hits, "no hits listed with their record timecodes"
    for tc in hits:  # each on the record side of the cut
        f = edl.tc_to_frames(tc, cut.fps, cut.drop_frame)
        assert cut.record_start <= f < cut.record_end, tc
    assert "starts at" in text and "48000 Hz" in text
    assert sum(1 for tag, _ in dom.tags if tag == "svg") >= 12  # a small and a wide picture per event
    assert re.search(r"\b1s\b", text), "no time axis labels"


def test_a_screenshot_for_a_human(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    res = browser("--window-size=1280,1800", f"--screenshot={shot}", report.as_uri())
    assert shot.is_file() and shot.stat().st_size > 20_000, res.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(str(shot))
    assert img.shape[0] == 1800 and img.std() > 0.05, "a blank page"
    keep = os.environ.get("SYNCFOLEY_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "conform_report.png")
