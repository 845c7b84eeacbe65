"""Batch conform (issue 6): real EDLs with stand-in media, a generated 50-event cut with known
impacts at three rates, read-back of every output, re-conform, and bad input."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import stand_ins
from conftest import run_cli

from syncfoley.adapters import bwf, edl, timeline
from syncfoley.bridge import api
from syncfoley.bridge import demo as demo_cut
from syncfoley.bridge.conform.options import ConformOptions
from syncfoley.core.errors import SyncfoleyError, TimelineError

DATA = Path(__file__).resolve().parent / "data" / "edl"

# name: picture events conformed and the lines left out, or ("fail", line) for a list with nothing to conform.
SAMPLES: dict[str, Any] = {
    "25fps.edl": (4, []),
    "avid_example.edl": (2, []),
    "cdl.edl": (2, []),
    "dissolve_test.edl": (3, []),
    "dissolve_test_2.edl": (3, []),
    "dissolve_test_3.edl": (3, []),
    "dissolve_test_4.edl": (6, []),
    "dissolve_test_fail.edl": (3, []),
    "gap_test.edl": (3, []),
    "multi_audio.edl": ("fail", "an audio-only list (1 event,"),  # no picture to put Foley on
    "no_spaces_test.edl": (9, []),
    "nucoda_example.edl": (2, []),
    "premiere_example.edl": (2, []),
    "screening_example.edl": (9, []),
    "speed_effects.edl": (548, []),
    "speed_effects_small.edl": (5, []),
    "timecode_mismatch.edl": (16, [13, 16, 28, 31]),  # durations that disagree with no M2 to explain them
    "transition_duration.edl": (4, []),
    "wipe_test.edl": (3, []),
}


def test_every_sample_is_listed() -> None:
    assert sorted(p.name for p in DATA.glob("*.edl")) == sorted(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_sample_conforms_or_names_its_line(name: str, tmp_path: Path) -> None:
    want = SAMPLES[name]
    if want[0] == "fail":
        with pytest.raises(TimelineError) as err:
            timeline.read(DATA / name)
        # A line number where one line is at fault, else what the list as a whole lacks.
        assert (f"{name}:{want[1]}:" if isinstance(want[1], int) else want[1]) in str(err.value)
        return
    cut = timeline.read(DATA / name)
    stand_ins.make(cut, tmp_path / "media")
    result = api.conform(DATA / name, tmp_path / "out", [tmp_path / "media"], ConformOptions(handles=6),
                         cache=tmp_path / "cache")
    count, bad_lines = want
    assert (result.events, result.computed, result.skipped) == (count, count, 0)
    assert [int(p.split(":")[1]) for p in result.problems] == bad_lines
    assert result.complete == (not bad_lines)
    # Every output reads back: the audio EDL with the cut's record timecodes, the stem at the record start.
    # A dissolve or wipe comes back as a dissolve of the same length between the same two clips.
    back = [e for e in edl.read(result.edl, rate=_rate_name(cut.rate)).events if e.record_frames]  # no "from" lines
    assert sorted((e.record_in, e.record_out) for e in back) == sorted((e.record_in, e.record_out) for e in cut.events)
    assert sorted((e.record_in, e.transition, e.transition_frames) for e in back if e.transition != "C") == \
        sorted((e.record_in, "D", e.fade_in) for e in cut.events if e.fade_in)
    assert _time_reference(result.stem) == bwf.time_reference(cut.record_start, cut.rate, 48000)
    assert len(list((tmp_path / "out" / "clips").glob("*.wav"))) == count
    assert len(list((tmp_path / "out" / "onsets").glob("*.json"))) == count


def _rate_name(rate: Fraction) -> str:
    return next(k for k, v in edl.RATES.items() if v == rate)


def _time_reference(path: Path) -> int:
    from wavinfo import WavInfoReader

    return int(WavInfoReader(str(path)).bext.time_reference)


RATES = ["23.976", "25", "29.97"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[demo_cut.DemoCut, Path, Any]]:
    """A 50-event cut over three generated sources per rate, conformed once (motion detector)."""
    made = {}
    for i, rate in enumerate(RATES):
        root = tmp_path_factory.mktemp(f"demo{i}")
        cut = demo_cut.make(root / "media", rate=rate, events=50, sources=3, source_seconds=24.0, seed=i)
        edl_path = cut.write_edl(root / "cut.edl")
        result = api.conform(edl_path, root / "out", [root / "media"], ConformOptions(detector="motion"),
                             cache=root / "cache")
        made[rate] = (cut, root, result)
    return made


@pytest.mark.parametrize("rate", RATES)
def test_stem_hits_land_on_the_impacts_at_record_time(demo: dict, rate: str) -> None:
    cut, root, result = demo[rate]
    assert len(cut.events) >= 50 and result.complete and result.computed == 50
    assert len(cut.truth()) > 100
    scores = api.evaluate(result.stem, cut.truth_track(), offset=0.0)
    assert scores.onset_accuracy >= 0.9, scores
    assert scores.onset_ap >= 0.8, scores


@pytest.mark.parametrize("rate", RATES)
def test_edl_otio_and_stem_read_back_exactly(demo: dict, rate: str) -> None:
    import opentimelineio as otio
    import pycmx

    cut, root, result = demo[rate]
    fps, drop = cut.fps, cut.drop
    want = [(e.record_in, e.record_out) for e in cut.events]

    # A CMX list cannot say 23.976 from 24 (same timecode labels): that rate is given, the others inferred.
    ours = edl.read(result.edl, rate="23.976" if rate == "23.976" else None)
    assert ours.drop_frame == drop and ours.rate == cut.rate
    assert [(e.record_in, e.record_out) for e in ours.events] == want
    with open(result.edl) as fh:
        listed = list(pycmx.parse_cmx3600(fh).events)
    assert [(edl.tc_to_frames(e.edits[0].record_in, fps, drop), edl.tc_to_frames(e.edits[0].record_out, fps, drop))
            for e in listed] == want
    theirs = otio.adapters.read_from_file(str(result.edl), adapter_name="cmx_3600", rate=float(cut.rate))
    got = []
    for track in theirs.tracks:
        offset = -track.source_range.start_time.to_frames() if track.source_range else 0
        got += [(c.range_in_parent().start_time.to_frames() + offset,
                 c.range_in_parent().end_time_exclusive().to_frames() + offset) for c in track.find_clips()]
    assert sorted(got) == want

    tl = otio.adapters.read_from_file(str(result.timeline))
    origin = tl.global_start_time.to_frames()
    assert origin == cut.record_start
    foley = [t for t in tl.audio_tracks() if t.name == "Foley"][0]
    clips = list(foley.find_clips())
    assert [(origin + c.range_in_parent().start_time.to_frames(),
             origin + c.range_in_parent().end_time_exclusive().to_frames()) for c in clips] == want
    # Timecode-absolute: each clip's source range is its record range, inside its WAV's available range.
    for c, (a, _) in zip(clips, want):
        assert c.source_range.start_time.to_frames() == a
        assert c.media_reference.available_range.contains(c.source_range)
        assert Path(c.media_reference.target_url).is_file()
        assert all(m.metadata["syncfoley"]["kind"] == "onset" for m in c.markers)
        # The clip's markers are its onsets file's, each named with its confidence (Resolve shows the name).
        wav = Path(c.media_reference.target_url)
        listed = json.loads((root / "out" / "onsets" / f"{wav.stem}.json").read_text())["onsets"]
        assert [m.metadata["syncfoley"]["confidence"] for m in c.markers] == [o["confidence"] for o in listed]
        for i, (m, o) in enumerate(zip(c.markers, listed), start=1):
            # (the file rounds to 4 places, the name to 2 from the unrounded value)
            found = re.fullmatch(r"onset (\d+) \(conf ([01]\.\d\d)\)", m.name)
            assert found, m.name
            number, conf = found.groups()
            assert int(number) == i and abs(float(conf) - o["confidence"]) <= 0.005 + 1e-4
    picture = tl.video_tracks()[0]
    assert len(list(picture.find_clips())) == 50

    assert _time_reference(result.stem) == bwf.time_reference(cut.record_start, cut.rate, 48000)
    import soundfile as sf

    info = sf.info(str(result.stem))
    assert info.samplerate == 48000 and info.subtype == "PCM_24"
    end = bwf.time_reference(cut.events[-1].record_out, cut.rate, 48000)
    assert info.frames == end - bwf.time_reference(cut.record_start, cut.rate, 48000)


def test_clip_files_sit_at_their_record_timecode(demo: dict) -> None:
    cut, root, result = demo["25"]
    ev = cut.events[4]
    clip = next(p for p in result.clips if p.name.startswith(f"{ev.number:03d}_"))
    meta = json.loads((root / "out" / "onsets" / (clip.stem + ".json")).read_text())
    tc_in = meta["conform"]["clip_tc_in"]
    # 12 frames of handle before the record in.
    assert edl.tc_to_frames(tc_in, 25, False) == ev.record_in - 12
    assert _time_reference(clip) == bwf.time_reference(ev.record_in - 12, cut.rate, 48000)
    # The clip's onsets are the source impacts it shows (handles included), in clip time.
    src = next(s for s in cut.sources if s.name == ev.source)
    clip_start_src = (ev.source_in - 12 - src.start) / 25
    expect = [t - clip_start_src for t in src.impacts if 0 <= t - clip_start_src < (ev.frames + 24) / 25]
    got = [o["time"] for o in meta["onsets"]]
    assert len(got) == len(expect) and np.allclose(got, expect, atol=1.5 / 25)
    whole = api.load_onsets(root / "out" / "onsets" / "timeline.mid")
    assert len(whole.onsets) >= 0.9 * len(cut.truth())
    import mido

    offsets = [m for m in mido.MidiFile(str(root / "out" / "onsets" / "timeline.mid")).tracks[0]
               if m.type == "smpte_offset"]
    assert [(m.frame_rate, m.hours, m.minutes, m.seconds, m.frames) for m in offsets] == [(25, 1, 0, 0, 0)]
    report = (root / "out" / "report.html").read_text()
    # Per event a picture of its onsets, and the wider one shown on click.
    assert report.count("<svg") == 2 * 50 and "50</b> computed" in report


def test_reconform_recomputes_exactly_the_changed_event(demo: dict, tmp_path: Path) -> None:
    cut, root, first = demo["25"]
    changed = cut.moved(16, 10)  # event 17 now starts 10 frames later in its source
    edl2 = cut.write_edl(tmp_path / "cut_v2.edl", changed)
    dry = run_cli("conform", str(edl2), "--media-root", str(root / "media"), "-o", str(tmp_path / "out"),
                  "--cache", str(root / "cache"), "--detector", "motion", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    rows = [ln.split() for ln in dry.stdout.splitlines() if ln.strip()[:1].isdigit()]
    assert [r[0] for r in rows if r[1] == "compute"] == ["17"]
    assert sum(r[1] == "reuse" for r in rows) == 49
    assert not (tmp_path / "out").exists()  # a dry run writes nothing

    second = api.conform(edl2, tmp_path / "out", [root / "media"], ConformOptions(detector="motion"),
                         cache=root / "cache")
    assert (second.computed, second.reused) == (1, 49)
    assert "<b>49</b> reused" in (tmp_path / "out" / "report.html").read_text()
    scores = api.evaluate(second.stem, cut.truth_track(changed), offset=0.0)
    assert scores.onset_accuracy >= 0.9


def test_bad_input_is_reported_and_the_rest_conformed(demo: dict, tmp_path: Path) -> None:
    cut, root, _ = demo["25"]
    media = tmp_path / "media"
    shutil.copytree(root / "media", media)
    (media / "BROKEN.mov").write_bytes(b"\0not a movie" * 100)
    lines = cut.edl_text(cut.events[:6]).splitlines()
    # Line 6 (event 002): garbled. Event 004 runs past the end of its media. Event 005 names a broken file.
    lines[5] = "002  SRC_A    V     C        01:00:0x:00 garbage"
    ev4 = cut.events[3]
    src4 = next(s for s in cut.sources if s.name == ev4.source)
    late = src4.start + int(src4.seconds * 25) - 20
    lines[9] = (f"004  {ev4.source:<8} V     C        {edl.frames_to_tc(late, 25, False)} "
                f"{edl.frames_to_tc(late + ev4.frames, 25, False)} {edl.frames_to_tc(ev4.record_in, 25, False)} "
                f"{edl.frames_to_tc(ev4.record_out, 25, False)}")
    lines[12] = "* FROM CLIP NAME:  BROKEN.mov"
    lines[11] = lines[11].replace(cut.events[4].source, "BROKEN  ")
    lines[13] = "001" + lines[13][3:]  # a repeated event number: its files must not collide
    (tmp_path / "bad.edl").write_text("\n".join(lines) + "\n")

    proc = run_cli("conform", str(tmp_path / "bad.edl"), "--media-root", str(media), "-o", str(tmp_path / "out"),
                   "--cache", str(tmp_path / "cache"), "-q")
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr
    assert "bad.edl:6:" in err and "not an event line" in err
    assert "event 4 (bad.edl:10)" in err and "longer than or outside its media" in err
    assert "event 5 (bad.edl:12)" in err and "BROKEN.mov" in err
    assert "5 events: 3 computed, 0 reused, 2 skipped; 1 line(s) could not be read" in proc.stdout
    assert len(list((tmp_path / "out" / "clips").glob("001_*.wav"))) == 2
    back = edl.read(tmp_path / "out" / "foley.edl", rate="25")
    assert [e.record_in for e in back.events] == [cut.events[i].record_in for i in (0, 2, 5)]

    proc = run_cli("conform", str(tmp_path / "bad.edl"), "--media-root", str(media), "-o", str(tmp_path / "o2"),
                   "--rate", "31")
    assert proc.returncode == 2 and "unknown rate '31'" in proc.stderr and "29.97" in proc.stderr
    assert not (tmp_path / "o2").exists()

    # Outputs are never replaced unless asked.
    proc = run_cli("conform", str(tmp_path / "bad.edl"), "--media-root", str(media), "-o", str(tmp_path / "out"),
                   "--cache", str(tmp_path / "cache"), "-q")
    assert proc.returncode == 2 and "already exists" in proc.stderr


def test_speed_change_and_freeze_frame_map_source_hits_to_record_time(demo: dict, tmp_path: Path) -> None:
    cut, root, _ = demo["25"]
    src = cut.sources[0]
    s_in = src.start + 3 * 25
    # 2x speed (M2 at 050.0): 50 record frames show 100 source frames; then a freeze frame of 25.
    text = "\n".join([
        "TITLE: speed", "FCM: NON-DROP FRAME", "",
        f"001  {src.name:<8} V     C        {edl.frames_to_tc(s_in, 25, False)} "
        f"{edl.frames_to_tc(s_in + 100, 25, False)} 01:00:00:00 01:00:02:00",
        f"M2   {src.name:<8}       050.0                {edl.frames_to_tc(s_in, 25, False)}",
        f"* FROM CLIP NAME:  {src.name}.mov",
        f"002  {src.name:<8} V     C        {edl.frames_to_tc(s_in, 25, False)} "
        f"{edl.frames_to_tc(s_in + 1, 25, False)} 01:00:02:00 01:00:03:00",
        f"M2   {src.name:<8}       000.0                {edl.frames_to_tc(s_in, 25, False)}",
        f"* FROM CLIP NAME:  {src.name}.mov",
    ]) + "\n"
    (tmp_path / "speed.edl").write_text(text)
    result = api.conform(tmp_path / "speed.edl", tmp_path / "out", [root / "media"],
                         ConformOptions(detector="motion", handles=0), cache=tmp_path / "cache")
    assert result.complete
    fast = json.loads(next((tmp_path / "out" / "onsets").glob("001_*.json")).read_text())
    got = [o["time"] for o in fast["onsets"]]
    # Exactly the detector's onsets in the 4 s of source, at half their source offsets...
    seen = api.detect(src.path, start=3.0, end=7.0, detector="motion").times()
    assert np.allclose(got, [(t - 3.0) / 2 for t in seen], atol=1e-4)
    # ...and every impact in that source is among them.
    for t in src.impacts:
        if 3.05 <= t < 6.95:
            assert min(abs(g - (t - 3.0) / 2) for g in got) < 1.0 / 25, t
    frozen = json.loads(next((tmp_path / "out" / "onsets").glob("002_*.json")).read_text())
    assert frozen["onsets"] == [] and frozen["detector"] == "freeze frame"
    assert "freeze frame" in (tmp_path / "out" / "report.html").read_text()


def test_dissolves_cross_fade_at_equal_power_and_become_transitions(tmp_path: Path) -> None:
    import opentimelineio as otio

    from syncfoley.bridge.conform.outputs import _gain

    g_out = _gain(1000, (0, 600), (0, 200), 48000)
    g_in = _gain(1000, (400, 1000), (200, 0), 48000)
    assert np.allclose(g_out[400:600] ** 2 + g_in[400:600] ** 2, 1.0, atol=1e-3)
    assert g_out[399] == 1 and g_out[600] == 0 and g_in[399] == 0

    cut = timeline.read(DATA / "dissolve_test_3.edl")
    outgoing, incoming = cut.events[0], cut.events[1]
    assert (outgoing.tail, outgoing.fade_out, incoming.fade_in) == (30, 30, 30)
    stand_ins.make(cut, tmp_path / "media")
    result = api.conform(DATA / "dissolve_test_3.edl", tmp_path / "out", [tmp_path / "media"],
                         cache=tmp_path / "cache")
    tl = otio.adapters.read_from_file(str(result.timeline))
    foley = tl.audio_tracks()[0]
    transitions = [t for t in foley if isinstance(t, otio.schema.Transition)]
    assert len(transitions) == 1 and transitions[0].out_offset.to_frames() == 30
    # The outgoing clip plays on through the dissolve: its clip spans the tail plus handles.
    clip = next(p for p in result.clips if p.name.startswith(f"{outgoing.number:03d}_"))
    assert _time_reference(clip) == bwf.time_reference(outgoing.record_in - 12, cut.rate, 48000)
    import soundfile as sf

    assert sf.info(str(clip)).frames == bwf.time_reference(outgoing.record_out + 30 + 12, cut.rate, 48000) - \
        bwf.time_reference(outgoing.record_in - 12, cut.rate, 48000)


def test_media_is_found_by_timecode_among_files_with_the_same_name(tmp_path: Path) -> None:
    from syncfoley.bridge.conform.media_lookup import MediaIndex
    from syncfoley.engine.media.video import write_video

    for sub, tc in (("day1", "10:00:00:00"), ("day2", "19:11:54:10")):
        (tmp_path / sub).mkdir()
        write_video(tmp_path / sub / "A001C003.mov", stand_ins.frames(50, 25), 25, codec="mjpeg", timecode=tc)
    text = ("TITLE: t\n\n001  A001C003 V     C        19:11:54:12 19:11:55:10 01:00:00:00 01:00:00:23\n"
            "* FROM CLIP NAME:  A001C003.R3D\n"
            "002  A001C003 V     C        10:00:00:05 10:00:01:00 01:00:00:23 01:00:01:18\n")
    (tmp_path / "t.edl").write_text(text)
    cut = timeline.read(tmp_path / "t.edl", rate="25")
    index = MediaIndex([tmp_path])
    first = index.resolve(cut.events[0], cut)
    second = index.resolve(cut.events[1], cut)
    assert first.path.parent.name == "day2" and first.how == "clip name"
    assert first.start == edl.tc_to_frames("19:11:54:10", 25, False) and first.start_from == "embedded timecode"
    assert first.seconds(cut.events[0].source_in, 25.0) == pytest.approx(2 / 25)
    assert second.path.parent.name == "day1" and second.how == "reel"
    with pytest.raises(SyncfoleyError, match="no media found for reel 'NOPE'"):
        index.resolve(dataclasses.replace(cut.events[0], reel="NOPE", clip_name=None), cut)
    with pytest.raises(SyncfoleyError, match="media root"):
        MediaIndex([tmp_path / "missing"])
    # The daemon's --media-root binds what a timeline names too.
    fenced = MediaIndex([tmp_path], allowed=[tmp_path / "day1"])
    assert fenced.resolve(cut.events[1], cut).path.parent.name == "day1"
    with pytest.raises(SyncfoleyError, match="outside the media roots"):
        fenced.resolve(cut.events[0], cut)


def _otio_of_edl(cut: demo_cut.DemoCut, events: Any, tmp_path: Path) -> Any:
    """The events as OTIO's CMX reader gives them, with the media references an NLE export has:
    target_url plus the media's own timecode range."""
    import opentimelineio as otio

    cut.write_edl(tmp_path / "few.edl", events)
    tl = otio.adapters.read_from_file(str(tmp_path / "few.edl"), adapter_name="cmx_3600", rate=25)
    for clip in tl.find_clips():
        src = next(s for s in cut.sources if clip.name.startswith(s.name))
        clip.media_reference = otio.schema.ExternalReference(
            target_url=src.path.as_uri(),
            available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(src.start, 25),
                                                    otio.opentime.RationalTime(src.seconds * 25, 25)))
    return tl


def test_otio_timelines_conform_like_the_edl(demo: dict, tmp_path: Path) -> None:
    import opentimelineio as otio

    cut, root, by_edl = demo["25"]
    few = cut.events[:8]
    otio.adapters.write_to_file(_otio_of_edl(cut, few, tmp_path), str(tmp_path / "few.otio"))
    result = api.conform(tmp_path / "few.otio", tmp_path / "out", [], ConformOptions(detector="motion"),
                         cache=root / "cache")
    # Same media, same source windows, same options: every event comes from the EDL conform's cache.
    assert (result.events, result.computed, result.reused) == (8, 0, 8)
    back = otio.adapters.read_from_file(str(result.timeline))
    assert len(back.video_tracks()) == 1 and [t.name for t in back.audio_tracks()] == ["Foley"]
    assert edl.read(result.edl, rate="25").events[0].record_in == few[0].record_in


def test_fcp_xml_reads_as_the_same_cut(demo: dict, tmp_path: Path) -> None:
    import opentimelineio as otio

    cut, root, _ = demo["25"]
    few = cut.events[:6]
    otio.adapters.write_to_file(_otio_of_edl(cut, few, tmp_path), str(tmp_path / "few.xml"), adapter_name="fcp_xml")
    xml = timeline.read(tmp_path / "few.xml")
    assert xml.rate == 25 and len(xml.events) == 6
    base = xml.events[0].record_in
    assert [(e.record_in - base, e.record_frames, e.source_in) for e in xml.events] == \
        [(e.record_in - few[0].record_in, e.frames, e.source_in) for e in few]
    assert all(Path(timeline.url_to_path(e.target_url) or "").is_file() for e in xml.events)


def test_a_cache_entry_lost_after_planning_is_computed_again(tmp_path: Path) -> None:
    from syncfoley.bridge.conform.cache import ConformCache
    from syncfoley.bridge.conform.outputs import write
    from syncfoley.bridge.conform.plan import plan
    from syncfoley.bridge.conform.render import execute

    stand_ins.make(timeline.read(DATA / "25fps.edl"), tmp_path / "media")
    options = ConformOptions(handles=6)
    api.conform(DATA / "25fps.edl", tmp_path / "out1", [tmp_path / "media"], options, cache=tmp_path / "cache")
    store = ConformCache(tmp_path / "cache")
    p = plan(DATA / "25fps.edl", [tmp_path / "media"], options, store)
    assert len(p.reused) == 4
    victim = p.events[1].job.key
    (tmp_path / "cache" / f"{victim}.npz").unlink()  # gone between the plan and the work
    result = write(p, execute(p, store), tmp_path / "out2")
    assert (result.computed, result.reused, result.skipped) == (1, 3, 0)
    assert store.has(victim)


def test_a_damaged_cache_entry_is_computed_again(tmp_path: Path) -> None:
    """A cache entry cut short (a full disk, a half-copied cache folder), or whose onsets are not
    (time, strength, confidence) triples (a hand-edited entry, an older layout), is not trusted: the
    conform computes that event again instead of ending in a traceback."""
    stand_ins.make(timeline.read(DATA / "25fps.edl"), tmp_path / "media")
    options = ConformOptions(handles=6)
    api.conform(DATA / "25fps.edl", tmp_path / "out1", [tmp_path / "media"], options, cache=tmp_path / "cache")
    metas = {p: json.loads(p.read_text()) for p in sorted((tmp_path / "cache").glob("*.json"))}
    assert all(len(o) == 3 for m in metas.values() for o in m["onsets"])  # (these stand-ins show no hits)
    pairs, junk, short = list(metas)[:3]
    pairs.write_text(json.dumps({**metas[pairs], "onsets": [[0.5, 0.8]]}))  # (time, strength): no confidence
    junk.write_text(json.dumps({**metas[junk], "onsets": 7}))
    npz = short.with_suffix(".npz")
    npz.write_bytes(npz.read_bytes()[:100])
    result = api.conform(DATA / "25fps.edl", tmp_path / "out2", [tmp_path / "media"], options, cache=tmp_path / "cache")
    assert (result.computed, result.reused) == (3, 1)
