"""Onsets as JSON and CSV: round trips, and bad files named clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncfoley.adapters import markers_csv, onsets_json
from syncfoley.bridge import api
from syncfoley.core.atomic import atomic_path
from syncfoley.core.errors import FormatError, OutputExistsError, RequestError
from syncfoley.engine.types import Onset, OnsetTrack, TimeRange


def _track() -> OnsetTrack:
    return OnsetTrack("/m/c.mp4", 5.0, 25.0, "motion",
                      (Onset(0.5, 0.25, 0.5), Onset(1.75, 1.0, 0.9)), range=TimeRange(0.0, 5.0))


def test_json_roundtrip(tmp_path: Path) -> None:
    track = _track()
    back = onsets_json.read(onsets_json.write(track, tmp_path / "o.json"))
    assert back.onsets == track.onsets and back.range == track.range
    assert (back.fps, back.duration, back.detector, back.source) == (25.0, 5.0, "motion", "/m/c.mp4")


def test_json_reader_ignores_unknown_keys_and_sorts(tmp_path: Path) -> None:
    data = {"schema": "syncfoley.onsets/1", "onsets": [{"time": 2.0}, {"time": 1.0, "strength": 0.5}],
            "future_key": {"a": 1}}
    (tmp_path / "o.json").write_text(json.dumps(data))
    assert [o.time for o in onsets_json.read(tmp_path / "o.json").onsets] == [1.0, 2.0]


@pytest.mark.parametrize("payload,match", [
    ("[1, 2]", "JSON object"),
    ('{"onsets": 3}', "must be a list"),
    ('{"onsets": [{"strength": 1}]}', "needs a 'time'"),
    ('{"onsets": [{"time": -1}]}', ">= 0"),
    ('{"onsets": [{"time": 1, "strength": 3}]}', "within 0..1"),
    ('{"schema": "other/1", "onsets": []}', "not a syncfoley onsets file"),
    # JSON's true is no number, though Python's bool is an int: not a hit at x = 1, nor at 1 s.
    ('{"onsets": [{"time": 1, "x": true, "y": 0.5}]}', "onsets.0. has a value that is not a number"),
    ('{"onsets": [true]}', "onsets.0. needs a 'time'"),
    # 1e999 is JSON for infinity as Python reads it: no time an onset can have.
    ('{"onsets": [{"time": 1e999}]}', r"onsets.0.: onset time must be a finite number of seconds >= 0, got inf"),
    ('{"onsets": [], "regions": [{"start": 0, "end": 1e999}]}', r"o.json: region end must be a finite number"),
    ('{"onsets": [], "regions": [{"start": NaN, "end": 1}]}', r"o.json: region start must be a finite number"),
    ('{"onsets": [], "regions": [{"start": 2, "end": 1}]}', r"o.json: a region runs from a start to a later end"),
    ('{"onsets": [], "regions": [{"start": 0, "end": 1, "strength": 7}]}', r"region strength must be within 0..1"),
    # A NaN rate silenced every hit of the render.
    ('{"onsets": [], "envelope": {"rate": NaN, "values": [0.5]}}', r"o.json: envelope rate must be a finite number"),
    ('{"onsets": [], "envelope": {"rate": 100, "values": [0.5, NaN]}}', r"intensities within 0..1, got nan"),
    ('{"onsets": [], "envelope": {"rate": 100, "values": [0.5], "start": 1e999}}', r"envelope start must be a finite"),
])
def test_json_errors_name_the_problem(tmp_path: Path, payload: str, match: str) -> None:
    (tmp_path / "o.json").write_text(payload)
    with pytest.raises(FormatError, match=match):
        onsets_json.read(tmp_path / "o.json")


def test_csv_roundtrip_and_headerless(tmp_path: Path) -> None:
    track = _track()
    back = markers_csv.read(markers_csv.write(track, tmp_path / "o.csv"))
    assert [(o.time, o.strength) for o in back.onsets] == [(o.time, o.strength) for o in track.onsets]
    (tmp_path / "plain.csv").write_text("0.25\n1.5\n")
    assert [o.time for o in markers_csv.read(tmp_path / "plain.csv").onsets] == [0.25, 1.5]
    (tmp_path / "bad.csv").write_text("time\nsoon\n")
    with pytest.raises(FormatError, match="line 2"):
        markers_csv.read(tmp_path / "bad.csv")


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer crashed")
    assert list(tmp_path.iterdir()) == []
    target.write_text("keep")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        with atomic_path(target):
            pass
    assert target.read_text() == "keep"


def test_generation_needs_a_duration_for_midi_like_onsets() -> None:
    track = OnsetTrack("x.mid", 2.0, 0.0, "midi", (Onset(1.0),))
    with pytest.raises(RequestError, match="--duration"):
        api.generation_request(track)
    req = api.generation_request(track, duration=3.0)
    assert (req.start, req.duration) == (0.0, 3.0)
    with pytest.raises(RequestError, match="positive"):
        api.generation_request(track, duration=-1.0)


def test_json_carries_where_in_the_picture_and_old_files_still_read(tmp_path: Path) -> None:
    track = OnsetTrack("/m/c.mp4", 5.0, 25.0, "motion", (Onset(0.5, 0.25, 0.5, x=0.125, y=0.75), Onset(1.0)))
    path = onsets_json.write(track, tmp_path / "o.json")
    items = json.loads(path.read_text())["onsets"]
    assert items[0]["x"] == 0.125 and items[0]["y"] == 0.75 and "x" not in items[1]
    assert json.loads(path.read_text())["schema"] == "syncfoley.onsets/1"  # old readers keep working
    back = onsets_json.read(path)
    assert back.onsets == track.onsets
    with pytest.raises(FormatError, match="within 0..1"):
        Onset(1.0, x=1.5, y=0.5)
