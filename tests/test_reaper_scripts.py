"""The REAPER actions (Lua 5.4) against a mock `reaper` that records every call, talking to a real
daemon over UDP (LuaSocket) or through `syncfoley send` run by reaper.ExecProcess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from test_daemon import Daemon

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "bridge" / "scripts" / "reaper"
DRIVER = Path(__file__).resolve().parent / "lua" / "run_action.lua"
LUA = shutil.which("lua5.4")
LUAC = shutil.which("luac5.4")
ACTIONS = ["syncfoley_detect_onsets.lua", "syncfoley_generate_from_midi.lua", "syncfoley_foley_for_item.lua"]
TICKS = 1920  # the mock's PPQ per second (960 per beat at 120 BPM)


def _lua_socket() -> bool:
    return LUA is not None and subprocess.run([LUA, "-e", "require('socket')"], capture_output=True).returncode == 0


needs_lua = pytest.mark.skipif(not _lua_socket(), reason="needs lua5.4 and lua-socket (apt-get install lua5.4 lua-socket)")


def test_lua_is_installed_for_ci() -> None:
    # CI installs them (.ci/run); a machine without them must say so rather than skip silently there.
    if not _lua_socket():
        pytest.fail("lua5.4 with LuaSocket is missing: apt-get install lua5.4 lua-socket")


@needs_lua
def test_every_script_compiles() -> None:
    for path in sorted(SCRIPTS.glob("*.lua")) + sorted(DRIVER.parent.glob("*.lua")):
        proc = subprocess.run([LUAC or "luac5.4", "-p", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, (path.name, proc.stderr)


def test_reapack_index_lists_every_action_with_version_and_source() -> None:
    index = ET.parse(SCRIPTS / "index.xml").getroot()
    assert index.tag == "index" and index.get("version") == "1" and index.get("name")
    packages = {r.get("name"): r for r in index.iter("reapack")}
    assert set(packages) == set(ACTIONS)
    for name, pkg in packages.items():
        assert pkg.get("type") == "script" and pkg.get("desc")
        versions = pkg.findall("version")
        assert versions and all(v.get("name") for v in versions)
        sources = [s for v in versions for s in v.findall("source")]
        files = {s.get("file") or Path(s.text or "").name for s in sources}
        assert name in files and "syncfoley_lib.lua" in files
        assert all((s.text or "").startswith("https://") for s in sources)
        main = [s for s in sources if (s.get("file") or Path(s.text or "").name) == name]
        assert main[0].get("main") == "main"
    # Every script carries ReaPack's header with the same version as the index.
    for name in ACTIONS:
        head = (SCRIPTS / name).read_text().splitlines()[:4]
        version = next(line.split()[-1] for line in head if line.startswith("-- @version"))
        assert version in {v.get("name") for v in packages[name].findall("version")}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = Daemon(tmp_path_factory.mktemp("work"))
    yield d
    d.stop()


def _run(script: str, state: dict, tmp_path: Path, daemon: Any) -> dict:
    state = {**state, "ext": {"port": str(daemon.port), **state.get("ext", {})}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    out = tmp_path / "out.json"
    proc = subprocess.run([LUA or "lua5.4", str(DRIVER), str(SCRIPTS / script), str(tmp_path / "state.json"), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def _named(result: dict, name: str) -> list[list]:
    return [c for c in result["calls"] if c[0] == name]


@needs_lua
@pytest.mark.parametrize("offset,rate", [(0.5, 1.0), (0.5, 1.5)])
def test_detect_puts_a_note_on_every_hit_at_the_right_ppq(daemon: Any, scene_clip: Any, tmp_path: Path,
                                                          offset: float, rate: float) -> None:
    path, scene = scene_clip("struck")  # impacts 0.6 1.3 1.9 2.6 3.3 s
    length = 3.2 / rate  # the item plays source 0.5 .. 3.7 s
    state = {"item": {"position": 10.0, "length": length, "startoffs": offset, "playrate": rate, "file": str(path)},
             "ext": {"markers": "1"}}
    result = _run("syncfoley_detect_onsets.lua", state, tmp_path, daemon)
    assert result["messages"] == [] and result["unfinished"] == 0
    midi = _named(result, "CreateNewMIDIItemInProj")
    assert midi == [["CreateNewMIDIItemInProj", "syncfoley onsets", 10.0, pytest.approx(10.0 + length), False]]
    notes = [n for t in result["tracks"] for i in t["items"] for n in i.get("notes", []) if n["pitch"] == 60]
    want = [(t - offset) / rate * TICKS for t in scene.impacts() if offset <= t < offset + 3.2]
    assert len(want) == 5
    for w in want:  # within a frame (1/30 s) of where the hit lands on the timeline
        assert min(abs(n["start"] - w) for n in notes) <= TICKS / 30, (w, [n["start"] for n in notes])
    assert all(0 <= n["start"] < length * TICKS and 1 <= n["vel"] <= 127 for n in notes)
    assert len(result["markers"]) == len(notes)
    names = [c[0] for c in result["calls"]]
    assert names.index("Undo_BeginBlock") < names.index("CreateNewMIDIItemInProj") < names.index("Undo_EndBlock")
    assert _named(result, "Undo_EndBlock")[0][1] == "syncfoley: detect onsets"


@needs_lua
def test_generate_places_the_wav_under_the_edited_notes(daemon: Any, tmp_path: Path) -> None:
    notes = [{"start": t * TICKS, "end": t * TICKS + 96, "vel": v} for t, v in ((0.25, 100), (0.9, 60), (1.6, 127))]
    state = {"item": {"position": 4.0, "length": 2.0, "midi": True, "notes": notes}, "user_input": "metal"}
    result = _run("syncfoley_generate_from_midi.lua", state, tmp_path, daemon)
    assert result["messages"] == []
    assert ["SetExtState", "syncfoley", "preset", "metal", True] in result["calls"]
    wav = _named(result, "PCM_Source_CreateFromFile")[0][1]
    assert Path(wav).is_file()
    audio = [i for t in result["tracks"] for i in t["items"] if i["kind"] == "audio"]
    assert len(audio) == 1 and audio[0]["position"] == 4.0 and audio[0]["length"] == pytest.approx(2.0, abs=1e-3)
    # The hits are where the notes are: the WAV's loudest moments line up with them.
    import numpy as np
    import soundfile as sf

    y, sr = sf.read(wav)
    env = np.abs(y if y.ndim == 1 else y.mean(axis=1))
    for t in (0.25, 0.9, 1.6):
        seg = env[int((t - 0.01) * sr):int((t + 0.05) * sr)]
        before = env[int((t - 0.12) * sr):int((t - 0.02) * sr)]
        assert seg.max() > 4 * before.max(), t


@needs_lua
def test_foley_for_item_through_execprocess(daemon: Any, scene_clip: Any, tmp_path: Path) -> None:
    path, scene = scene_clip("struck")
    state = {"item": {"position": 2.0, "length": 2.0, "startoffs": 1.0, "playrate": 1.5, "file": str(path)},
             "user_input": "wood",
             "ext": {"transport": "exec", "command": f"{sys.executable} -m syncfoley.bridge.cli"}}
    result = _run("syncfoley_foley_for_item.lua", state, tmp_path, daemon)
    assert result["messages"] == [], result["messages"]
    execs = _named(result, "ExecProcess")
    assert len(execs) == 2 and all(c[2] == -1 for c in execs)  # detect, then generate; never waited on
    assert "send detect" in execs[0][1] and "send generate" in execs[1][1]
    notes = [n for t in result["tracks"] for i in t["items"] for n in i.get("notes", [])]
    want = [(t - 1.0) / 1.5 * TICKS for t in scene.impacts() if 1.0 <= t < 4.0]
    for w in want:
        assert min(abs(n["start"] - w) for n in notes) <= TICKS / 30
    audio = [i for t in result["tracks"] for i in t["items"] if i["kind"] == "audio"]
    assert len(audio) == 1 and audio[0]["position"] == 2.0 and audio[0]["length"] == pytest.approx(2.0, abs=1e-3)
    assert _named(result, "Undo_EndBlock") == [["Undo_EndBlock", "syncfoley: Foley for item", -1]]


@needs_lua
def test_closing_the_progress_window_cancels(daemon: Any, scene_clip: Any, tmp_path: Path) -> None:
    path, _ = scene_clip("struck")
    state = {"item": {"position": 0.0, "length": 3.0, "startoffs": 0.0, "playrate": 1.0, "file": str(path)},
             "cancel_after": 0}
    result = _run("syncfoley_detect_onsets.lua", state, tmp_path, daemon)
    assert result["messages"] == ["syncfoley: cancelled"]
    assert _named(result, "CreateNewMIDIItemInProj") == [] and _named(result, "Undo_BeginBlock") == []


@needs_lua
def test_no_daemon_is_reported_not_waited_on(tmp_path: Path, scene_clip: Any) -> None:
    path, _ = scene_clip("struck")

    class Nobody:
        port = 9

    state = {"item": {"position": 0.0, "length": 1.0, "startoffs": 0.0, "playrate": 1.0, "file": str(path)}}
    result = _run("syncfoley_detect_onsets.lua", state, tmp_path, Nobody())
    assert len(result["messages"]) == 1 and "syncfoley serve" in result["messages"][0]


@needs_lua
def test_detect_asks_for_detector_and_sensitivity_and_remembers_them(daemon: Any, scene_clip: Any,
                                                                     tmp_path: Path) -> None:
    path, scene = scene_clip("struck")
    item = {"position": 0.0, "length": 3.0, "startoffs": 0.0, "playrate": 1.0, "file": str(path)}
    result = _run("syncfoley_detect_onsets.lua", {"item": item, "user_input": "motion, 0.8"}, tmp_path, daemon)
    assert result["messages"] == []
    asked = _named(result, "GetUserInputs")
    assert asked and asked[0][1] == "syncfoley: Detect onsets" and asked[0][2] == "auto,0.5"  # the defaults
    assert ["SetExtState", "syncfoley", "detector", "motion", True] in result["calls"]
    assert ["SetExtState", "syncfoley", "sensitivity", "0.8", True] in result["calls"]
    notes = [n for t in result["tracks"] for i in t["items"] for n in i.get("notes", [])]
    assert len(notes) >= 4


@needs_lua
@pytest.mark.parametrize("answer", ["auto, 2", "auto, loud"])
def test_detect_refuses_a_sensitivity_outside_0_to_1(tmp_path: Path, answer: str) -> None:
    class Nobody:
        port = 9

    item = {"position": 0.0, "length": 1.0, "startoffs": 0.0, "playrate": 1.0, "file": "/nowhere.mp4"}
    result = _run("syncfoley_detect_onsets.lua", {"item": item, "user_input": answer}, tmp_path, Nobody())
    assert len(result["messages"]) == 1 and "sensitivity must be a number from 0 to 1" in result["messages"][0]
    assert not [c for c in result["calls"] if c[0] == "SetExtState"]
