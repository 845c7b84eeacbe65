"""``run --start S``: the four outputs in one time frame. The WAV's BWF TimeReference, the
MIDI notes (with their SMPTE offset), the OTIO markers (with the timeline's global start)
and the hits audible in the WAV are read back with other projects' readers (mido,
OpenTimelineIO, the WAV's bytes) and must agree."""

from __future__ import annotations

import struct
from pathlib import Path

import mido
import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf
from conftest import EXAMPLE, run_cli


def time_reference(wav: Path) -> int:
    data = wav.read_bytes()
    at = data.find(b"bext")
    assert at > 0, "no bext chunk"
    lo, hi = struct.unpack_from("<II", data, at + 8 + 256 + 32 + 32 + 10 + 8)
    return lo | hi << 32


def midi_times(path: Path) -> tuple[list[float], float]:
    """Note-on times (s from the file's time 0) and the SMPTE offset (s; 0 when absent)."""
    mid = mido.MidiFile(str(path))
    tempo, ticks, out, offset = 500000, 0, [], 0.0
    for msg in mido.merge_tracks(mid.tracks):
        ticks += msg.time
        if msg.type == "set_tempo":
            tempo = msg.tempo
        elif msg.type == "smpte_offset":
            fps = {24: 24, 25: 25, 29.97: 30, 30: 30}[msg.frame_rate]
            offset = msg.hours * 3600 + msg.minutes * 60 + msg.seconds + msg.frames / fps
        elif msg.type == "note_on" and msg.velocity > 0:
            out.append(mido.tick2second(ticks, mid.ticks_per_beat, tempo))
    return out, offset


def audible(wav: Path, times: list[float]) -> list[bool]:
    """Whether the WAV has an attack at each time (s from its own first sample)."""
    x, sr = sf.read(str(wav), always_2d=True)
    x = np.abs(x).max(axis=1)
    out = []
    for t in times:
        k = int(round(t * sr))
        before = x[max(0, k - int(0.03 * sr)): max(0, k - int(0.002 * sr))]
        after = x[k: k + int(0.01 * sr)]
        out.append(after.size > 0 and after.max() > 0.05 and (before.size == 0 or after.max() > 4 * before.max()))
    return out


@pytest.mark.parametrize("timecode", [None, "01:00:00:00"])
def test_run_from_two_seconds_in_lines_up(tmp_path: Path, timecode: str | None) -> None:
    video = EXAMPLE
    origin = 0.0
    if timecode is not None:  # the same picture, with a start timecode embedded as a camera would
        import av

        from syncfoley.engine.media.video import write_video

        with av.open(str(EXAMPLE)) as c:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        video = tmp_path / "hits_tc.mov"
        write_video(video, iter(frames), 25, codec="mjpeg", timecode=timecode)
        origin = 3600.0
    out = tmp_path / "out"
    # The detector that is exact on the example clip (see test_cli.py's run_output): these are the clocks' tests.
    res = run_cli("run", str(video), "--start", "2", "-o", str(out), "-q", "--detector", "motion")
    assert res.returncode == 0, res.stderr
    stem = video.stem
    wav = out / f"{stem}.foley.wav"
    assert time_reference(wav) == round((origin + 2.0) * 48000)

    notes, offset = midi_times(out / f"{stem}.onsets.mid")
    assert offset == pytest.approx(origin)
    tl = otio.adapters.read_from_file(str(out / f"{stem}.otio"))
    start = tl.global_start_time.to_seconds()
    assert start == pytest.approx(origin + 2.0)
    markers = [start + m.marked_range.start_time.to_seconds() for m in tl.tracks.markers
               if m.metadata["syncfoley"]["kind"] == "onset"]
    absolute = [offset + t for t in notes if t >= 2.0]
    assert len(absolute) >= 3
    # One frame of the OTIO markers' rate is the coarsest of the three clocks.
    assert markers == pytest.approx(absolute, abs=1 / 25)
    in_wav = [t - time_reference(wav) / 48000 for t in absolute]
    assert all(audible(wav, in_wav)), "a note with no hit under it in the WAV"
    # ...and not merely because the WAV is loud everywhere: a quarter second later there is none.
    assert not all(audible(wav, [t + 0.25 for t in in_wav]))
