"""The timelines syncfoley writes go through OpenTimelineIO's own tools: ``otioconvert`` to
FCP 7 XML, FCPXML and AAF (each written by another project's adapter) and read back with
the same clips at the same record times. Media references carry what those writers need
(an available range at the timeline's rate, an AAF MobID), transitions their cross-fade."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest
import stand_ins
from conftest import EXAMPLE, run_cli

from syncfoley.adapters import timeline as timeline_adapter

DATA = Path(__file__).resolve().parent / "data" / "edl"
OTIOCONVERT = shutil.which("otioconvert") or str(Path(sys.executable).parent / "otioconvert")


def clips(tl: otio.schema.Timeline, kind: str) -> list[tuple[str, float, float]]:
    """(name, record start s from the timeline's start, duration s) of the clips of one kind."""
    out = []
    for track in tl.tracks:
        if track.kind != kind:
            continue
        for c in track.find_clips():
            r = c.range_in_parent()
            out.append((c.name, round(r.start_time.to_seconds(), 3), round(r.duration.to_seconds(), 3)))
    return sorted(out, key=lambda x: (x[1], x[0]))


def convert(src: Path, ext: str, tmp: Path) -> otio.schema.Timeline:
    out = tmp / f"converted.{ext}"
    res = subprocess.run([OTIOCONVERT, "-i", str(src), "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return otio.adapters.read_from_file(str(out))


@pytest.fixture(scope="module")
def run_otio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    res = run_cli("run", str(EXAMPLE), "--start", "1", "-o", str(out), "-q")
    assert res.returncode == 0, res.stderr
    return out / "hits.otio"


@pytest.fixture(scope="module", params=["dissolve_test_4.edl", "25fps.edl"])
def conform_otio(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("conform")
    cut = timeline_adapter.read(DATA / request.param)
    stand_ins.make(cut, tmp / "media")
    res = run_cli("conform", str(DATA / request.param), "--media-root", str(tmp / "media"), "-o", str(tmp / "out"),
                  "--handles", "6", "-q")
    assert res.returncode == 0, res.stdout + res.stderr
    return tmp / "out" / "foley.otio"


@pytest.mark.parametrize("ext", ["xml", "fcpxml", "aaf"])
def test_runs_timeline_converts(run_otio: Path, ext: str, tmp_path: Path) -> None:
    original = otio.adapters.read_from_file(str(run_otio))
    back = convert(run_otio, ext, tmp_path)
    for kind in (otio.schema.TrackKind.Video, otio.schema.TrackKind.Audio):
        assert clips(back, kind) == clips(original, kind)


@pytest.mark.parametrize("ext", ["xml", "fcpxml", "aaf"])
def test_conforms_timeline_converts(conform_otio: Path, ext: str, tmp_path: Path) -> None:
    original = otio.adapters.read_from_file(str(conform_otio))
    back = convert(conform_otio, ext, tmp_path)
    for kind in (otio.schema.TrackKind.Video, otio.schema.TrackKind.Audio):
        want = clips(original, kind)
        assert want and clips(back, kind) == want
    want_fades = fades(original)
    if ext != "fcpxml":  # FCPXML's reader makes no OTIO transitions of audio cross-fades
        assert fades(back) == want_fades


def fades(tl: otio.schema.Timeline) -> list[tuple[float, float]]:
    """The Foley cross-fades: (in offset, out offset) in seconds."""
    return [(round(i.in_offset.to_seconds(), 3), round(i.out_offset.to_seconds(), 3))
            for t in tl.tracks if t.kind == otio.schema.TrackKind.Audio for i in t
            if isinstance(i, otio.schema.Transition)]


def test_the_dissolve_cut_has_cross_fades_to_carry(conform_otio: Path) -> None:
    tl = otio.adapters.read_from_file(str(conform_otio))
    assert len(fades(tl)) == (2 if "dissolve" in str(tl.metadata["syncfoley"]["conformed_from"]) else 0)
