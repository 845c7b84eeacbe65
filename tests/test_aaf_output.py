"""conform's foley.aaf, read back by pyaaf2 (independently of the OTIO writer that made it)
and by OpenTimelineIO's AAF reader: the same clips at the same record timecodes as
foley.edl (read by OTIO's CMX reader), each referencing its BWF as external essence."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import aaf2
import opentimelineio as otio
import pytest
import stand_ins
from conftest import run_cli

from syncfoley.adapters import timeline as timeline_adapter

DATA = Path(__file__).resolve().parent / "data" / "edl"
RATES = {"23.976": Fraction(24000, 1001), "25": Fraction(25), "29.97": Fraction(30000, 1001)}


def conform(tmp: Path, edl: Path, rate: str | None = None) -> Path:
    cut = timeline_adapter.read(edl, rate=rate)
    stand_ins.make(cut, tmp / "media")
    res = run_cli("conform", str(edl), "--media-root", str(tmp / "media"), "-o", str(tmp / "out"), "--handles", "6",
                  "-q", *(("--rate", rate) if rate else ()))
    assert res.returncode == 0, res.stdout + res.stderr
    return tmp / "out"


def aaf_clips(path: Path) -> tuple[int, bool, list[tuple[str, int, int, str]], int]:
    """(timecode start in frames, drop frame, [(clip, record in, length, essence URL)], transitions)."""
    with aaf2.open(str(path)) as f:
        mob = next(f.content.compositionmobs())
        tc = next(s.segment for s in mob.slots if isinstance(s.segment, aaf2.components.Timecode))
        start, drop = int(tc.start), bool(tc.drop)
        out, fades = [], 0
        for slot in mob.slots:
            seg = slot.segment
            while isinstance(seg, aaf2.components.OperationGroup):
                seg = seg.segments[0]
            if not isinstance(seg, aaf2.components.Sequence):
                continue
            at = 0
            for comp in seg.components:
                if isinstance(comp, aaf2.components.Transition):
                    at -= comp.length
                    fades += 1
                    continue
                if isinstance(comp, aaf2.components.SourceClip) and comp.mob is not None:
                    out.append((comp.mob.name, start + at, comp.length, _essence(comp)))
                at += comp.length
    return start, drop, out, fades


def _essence(clip: aaf2.components.SourceClip) -> str:
    """Follow master mob -> file source mob to the locator of the external essence."""
    for slot in clip.mob.slots:
        ref = slot.segment
        if isinstance(ref, aaf2.components.SourceClip) and ref.mob is not None:
            desc = ref.mob.descriptor
            if "Locator" in desc:
                return str(desc["Locator"][0]["URLString"].value)
    return ""


def edl_clips(path: Path, rate: Fraction) -> list[tuple[str, int, int]]:
    """(clip, record in, length) in frames; OTIO's CMX reader keeps the record start as the
    negative start of each track's range."""
    tl = otio.adapters.read_from_file(str(path), rate=float(rate))
    out = []
    for track in tl.tracks:
        origin = -track.source_range.start_time.value if track.source_range is not None else 0
        out += [(c.name, int(round(origin + c.range_in_parent().start_time.value)), int(c.duration().value))
                for c in track.find_clips()]
    return sorted(out, key=lambda x: x[1])


@pytest.mark.parametrize("rate", list(RATES))
def test_foley_aaf_matches_foley_edl(tmp_path: Path, rate: str) -> None:
    res = run_cli("demo", str(tmp_path / "demo"), "--rate", rate, "--events", "5")
    assert res.returncode == 0, res.stderr
    out = conform(tmp_path, tmp_path / "demo" / "cut.edl", rate)
    start, drop, clips, _ = aaf_clips(out / "foley.aaf")
    assert drop == (rate == "29.97")
    edl = edl_clips(out / "foley.edl", RATES[rate])
    assert [(name, rec, n) for name, rec, n, _ in clips] == edl
    for name, _, _, url in clips:
        assert Path(url.removeprefix("file://")).resolve() == (out / "clips" / name).resolve()
    # OTIO's own AAF reader sees the same.
    tl = otio.adapters.read_from_file(str(out / "foley.aaf"))
    assert int(tl.global_start_time.value) == start
    assert [(c.name, start + int(c.range_in_parent().start_time.value)) for c in tl.find_clips()] == \
        [(name, rec) for name, rec, _, _ in clips]
    assert (out / "foley.aaf").stat().st_size < 2_000_000  # essence stays in the BWFs


def test_dissolves_become_cross_fades_in_the_aaf(tmp_path: Path) -> None:
    out = conform(tmp_path, DATA / "dissolve_test_4.edl")
    _, _, clips, fades = aaf_clips(out / "foley.aaf")
    assert fades == 2 and len(clips) == 6
