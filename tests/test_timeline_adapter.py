"""The run's OTIO timeline reads back with the same markers, clips and ranges."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

from syncfoley.adapters import otio_timeline
from syncfoley.engine.types import Onset, OnsetTrack, TimeRange


def _track(span=None) -> OnsetTrack:
    onsets = tuple(Onset(t, 0.5, 0.8) for t in (0.8, 1.25, 2.0333, 3.5))
    return OnsetTrack("/media/clip.mp4", 4.0, 29.97, "motion", onsets, range=span)


def test_markers_read_back(tmp_path: Path) -> None:
    track = _track()
    tl = otio_timeline.build(track, "/media/clip.mp4", tmp_path / "clip.foley.wav", 48000, "clip")
    path = otio_timeline.write(tl, tmp_path / "clip.otio")
    markers = otio_timeline.read_markers(path)
    assert [m["time"] for m in markers] == [o.time for o in track.onsets]
    for m, o in zip(markers, track.onsets):
        assert m["timeline_time"] == pytest.approx(o.time, abs=1e-9)
        assert m["strength"] == o.strength and m["confidence"] == o.confidence
    # What an editor sees in the marker list: the onset's number and its confidence.
    names = [m.name for m in otio.adapters.read_from_file(str(path)).tracks.markers]
    assert names == ["onset 1 (conf 0.80)", "onset 2 (conf 0.80)", "onset 3 (conf 0.80)", "onset 4 (conf 0.80)"]


def test_video_and_foley_tracks_line_up_for_a_range(tmp_path: Path) -> None:
    track = _track(TimeRange(1.0, 3.0))
    tl = otio_timeline.build(track, "/media/clip.mp4", tmp_path / "c.wav", 48000, "clip")
    back = otio.adapters.read_from_string(otio.adapters.write_to_string(tl))
    video, audio = back.tracks
    assert video.kind == otio.schema.TrackKind.Video and audio.kind == otio.schema.TrackKind.Audio
    v, a = video[0], audio[0]
    assert v.source_range.start_time.to_seconds() == pytest.approx(1.0)
    assert v.source_range.duration.to_seconds() == pytest.approx(2.0)
    assert a.source_range.duration.to_seconds() == pytest.approx(2.0)
    assert v.media_reference.target_url == "/media/clip.mp4"
    assert a.media_reference.target_url.endswith("c.wav")
    markers = otio_timeline.read_markers_from(back)
    assert [m["time"] for m in markers] == [1.25, 2.0333]
    assert [m["timeline_time"] for m in markers] == [pytest.approx(0.25), pytest.approx(1.0333)]


def test_regions_and_envelope_become_markers(tmp_path: Path) -> None:
    from syncfoley.engine.types import Envelope, Region

    track = _track().replace(regions=(Region(1.5, 2.5, 0.7),), envelope=Envelope(10.0, (0.0, 0.5, 1.0), 0.0))
    tl = otio_timeline.build(track, "/media/clip.mp4", tmp_path / "c.wav", 48000, "clip")
    back = otio.adapters.read_from_string(otio.adapters.write_to_string(tl))
    kinds = {m.metadata["syncfoley"]["kind"]: m for m in back.tracks.markers}
    region = kinds["region"]
    assert region.marked_range.start_time.to_seconds() == pytest.approx(1.5)
    assert region.marked_range.duration.to_seconds() == pytest.approx(1.0)
    assert list(kinds["envelope"].metadata["syncfoley"]["values"]) == [0.0, 0.5, 1.0]
