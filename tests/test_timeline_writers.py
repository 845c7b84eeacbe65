"""What conformance will hand to DAWs: a Broadcast WAV spotted by its bext TimeReference,
and a CMX 3600 audio EDL that other readers (OTIO, pycmx, ours) read back identically."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from syncfoley.adapters import bwf, edl
from syncfoley.core.errors import OutputExistsError

RATES = [("23.976", False), ("25", False), ("29.97", True), ("29.97", False)]


@pytest.mark.parametrize("rate,drop", RATES)
def test_bwf_time_reference_reads_back_exactly(tmp_path: Path, rate: str, drop: bool) -> None:
    import soundfile as sf
    from wavinfo import WavInfoReader

    fr = edl.RATES[rate]
    start = edl.tc_to_frames("09:59:58;10" if drop else "09:59:58:10", round(fr), drop)
    ref = bwf.time_reference(start, fr, 48000)
    # Real time of the timecode: frames / rate, in samples.
    assert ref == round(Fraction(start) / fr * 48000)
    audio = np.sin(np.linspace(0, 200, 48000)).astype(np.float32) * 0.5
    path = bwf.write(tmp_path / "stem.wav", np.stack([audio, -audio], axis=1), 48000, ref, description="Foley stem")
    info = WavInfoReader(str(path))
    assert info.bext.time_reference == ref
    assert info.bext.description == "Foley stem" and info.fmt.bits_per_sample == 24
    data, sr = sf.read(str(path))
    assert sr == 48000 and data.shape == (48000, 2) and np.allclose(data[:, 0], audio, atol=1e-6)
    with pytest.raises(OutputExistsError):
        bwf.write(path, audio, 48000, ref)  # existing files are kept unless asked


def _events(n: int, fps: int, drop: bool) -> list[edl.AudioEvent]:
    rng = np.random.default_rng(n)
    rec = edl.tc_to_frames("00:59:30;00" if drop else "00:59:30:00", fps, drop)
    out = []
    for k in range(n):
        length = int(rng.integers(fps // 2, fps * 6))
        src = int(rng.integers(0, fps * 3600))
        out.append(edl.AudioEvent("FOLEY", src, src + length, rec, rec + length, f"foley_{k + 1:03d}.wav",
                                  "A" if k % 3 else "AA"))
        rec += length + int(rng.integers(0, fps))  # gaps between events
    return out


@pytest.mark.parametrize("rate,drop", RATES)
def test_audio_edl_reads_back_through_three_readers(tmp_path: Path, rate: str, drop: bool) -> None:
    import opentimelineio as otio
    import pycmx

    fr = edl.RATES[rate]
    fps = round(fr)
    events = _events(60, fps, drop)  # crosses the 01:00:00 hour and several drop-frame minutes
    path = edl.write_audio(tmp_path / "foley.edl", events, "FOLEY", fr, drop)

    ours = edl.read(path, rate=rate)
    assert ours.drop_frame == drop and len(ours.events) == 60
    for ev, want in zip(ours.events, events):
        assert (ev.source_in, ev.source_out, ev.record_in, ev.record_out) == (
            want.source_in, want.source_out, want.record_in, want.record_out)
        assert ev.clip_name == want.clip_name

    with open(path) as fh:
        listed = list(pycmx.parse_cmx3600(fh).events)
    assert len(listed) == 60
    for e, want in zip(listed, events):
        edit = e.edits[0]
        assert edit.record_in.replace(";", ":") == edl.frames_to_tc(want.record_in, fps, drop).replace(";", ":")
        assert edit.record_out.replace(";", ":") == edl.frames_to_tc(want.record_out, fps, drop).replace(";", ":")

    timeline = otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=float(fr))
    want = {ev.clip_name: ev for ev in events}
    seen = set()
    for track in timeline.tracks:
        # OTIO keeps the record start as the track's negative start time.
        offset = -track.source_range.start_time.to_frames() if track.source_range else 0
        for clip in track.find_clips():
            ev = want[clip.name]
            assert clip.range_in_parent().start_time.to_frames() + offset == ev.record_in, clip.name
            assert round(clip.source_range.duration.to_frames()) == ev.record_out - ev.record_in
            seen.add(clip.name)
    assert seen == set(want)


def test_dissolves_become_cmx_dissolves_that_three_readers_see(tmp_path: Path) -> None:
    """A dissolve in the cut is a dissolve between the two Foley clips: CMX's zero-length "from"
    line, then the incoming clip with D and the length. CMX starts a dissolve at the incoming
    event's record in, so a dissolve centred on the cut (OTIO in offset 5) starts 5 frames early."""
    import opentimelineio as otio
    import pycmx

    from syncfoley.adapters.foley_timeline import FoleyClip, audio_events
    from syncfoley.adapters.timeline import Cut, CutEvent

    h = 90000  # 01:00:00:00 at 25 fps

    def event(n: int, a: int, b: int, **kw: int) -> CutEvent:
        return CutEvent(n, f"e{n}", f"R{n}", 10 * h + a, 10 * h + b, h + a, h + b, clip_name=f"c{n}", **kw)

    events = [event(1, 0, 50, tail=10, fade_out=10),  # CMX: D 010 at the cut
              event(2, 50, 100, fade_in=10, tail=5, fade_out=10),  # centred: 5 before, 5 after
              event(3, 100, 150, lead=5, fade_in=10),
              event(4, 160, 200)]  # after a gap: a cut
    cut = Cut("x.otio", "x", "otio", Fraction(25), False, "test", tuple(events))
    clips = [FoleyClip(e, tmp_path / f"{e.number:03d}.wav", e.cover_in - 12, e.cover_out + 12, ()) for e in events]
    written = audio_events(cut, clips)
    assert [(a.record_in - h, a.record_out - h, a.dissolve) for a in written] == \
        [(0, 50, 0), (50, 95, 10), (95, 150, 10), (160, 200, 0)]
    assert all(a.source_in == a.record_in and a.source_out == a.record_out for a in written)
    path = edl.write_audio(tmp_path / "foley.edl", written, "FOLEY", Fraction(25), False)

    ours = [e for e in edl.read(path, rate="25").events if e.record_frames]
    assert [(e.record_in - h, e.transition, e.transition_frames, e.clip_name) for e in ours] == \
        [(0, "C", 0, "001.wav"), (50, "D", 10, "002.wav"), (95, "D", 10, "003.wav"), (160, "C", 0, "004.wav")]
    with open(path) as fh:
        kinds = [(ed.transition.kind, ed.record_in) for ev in pycmx.parse_cmx3600(fh).events for ed in ev.edits]
    assert [k for k in kinds if k[0] != "C"] == [("D", "01:00:02:00"), ("D", "01:00:03:20")]
    tl = otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=25.0)
    dissolves = [t for t in tl.tracks[0] if isinstance(t, otio.schema.Transition)]
    assert [(t.in_offset.to_frames(), t.out_offset.to_frames()) for t in dissolves] == [(0, 10), (0, 10)]
