"""The REAPER actions (Lua 5.4) against a mock `reaper` that records every call, talking to a real
daemon over UDP (LuaSocket) or through `syncfoley send` run by reaper.ExecProcess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from daemon_helpers import Client, Daemon

from syncfoley.engine.types import onset_label

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


def _repository_files() -> list[str]:
    proc = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.split("\n")[:-1]
    skip = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.parts)]


def test_reapack_installs_every_action_from_the_index() -> None:
    import reapack_rules as R

    name, installed, problems = R.read_index((SCRIPTS / "index.xml").read_text())
    assert problems == []
    assert R.install_all(installed) == []  # every file owned by exactly one package
    targets = {t for p in installed for t in p.targets}
    folder = f"Scripts/{name}/bridge/scripts/reaper/"
    assert {folder + a for a in [*ACTIONS, "syncfoley_lib.lua"]} <= targets  # the actions find the library beside them
    mains = {s.get("file") for s in ET.parse(SCRIPTS / "index.xml").getroot().iter("source") if s.get("main")}
    assert mains == set(ACTIONS) and all(s.get("main") == "main" for s in
                                         ET.parse(SCRIPTS / "index.xml").getroot().iter("source") if s.get("main"))


def test_the_index_is_what_reapack_index_derives_from_the_headers() -> None:
    import reapack_rules as R

    files = _repository_files()
    packages, errors = R.index_repository(files, lambda f: (ROOT / f).read_text(errors="replace"),
                                          R.ignores(ROOT / ".reapack-index.conf"))
    assert errors == [], errors  # and every other file it would scan is ignored or @noindex
    root = ET.parse(SCRIPTS / "index.xml").getroot()
    listed = {(c.get("name"), r.get("name")): r for c in root.iter("category") for r in c.iter("reapack")}
    assert set(listed) == {(p.category, p.name) for p in packages}
    for pkg in packages:
        node = listed[(pkg.category, pkg.name)]
        assert (node.get("type"), node.get("desc")) == (pkg.type, pkg.desc)
        newest = node.findall("version")[-1]
        assert (newest.get("name"), newest.get("author")) == (pkg.version, pkg.author)
        got = [(s.get("file"), tuple((s.get("main") or "").split()), s.get("platform") or "all", s.text or "")
               for s in newest.findall("source")]
        assert [g[:3] for g in got] == [(s.file, s.main, s.platform) for s in pkg.sources]
        for (_, _, _, url), src in zip(got, pkg.sources):
            assert url == f"https://raw.githubusercontent.com/syncfoley/syncfoley/v{pkg.version}/{src.path}"
    # The header's version is the package's: a file that changes must bump it.
    assert [p.version for p in packages] == ["0.3.1"]


def test_the_reapack_model_refuses_what_reapack_refuses() -> None:
    """The rules are live: the old index (three packages, each claiming the library) and bad headers fail."""
    import reapack_rules as R

    old = subprocess.run(["git", "show", "bbb5dfc:bridge/scripts/reaper/index.xml"], cwd=ROOT, capture_output=True,
                         text=True)
    text = old.stdout if old.returncode == 0 else (
        '<index version="1" name="x"><category name="Various">' + "".join(
            f'<reapack name="{a}" type="script"><version name="1"><source main="main">https://x/{a}</source>'
            '<source file="syncfoley_lib.lua">https://x/lib</source></version></reapack>' for a in ACTIONS)
        + "</category></index>")
    _, installed, problems = R.read_index(text)
    errors = R.install_all(installed)
    assert problems == [] and len(errors) == 2 and all("is already owned by another package" in e for e in errors)
    files = ["s/a.lua", "s/b.lua"]
    heads = {"s/a.lua": "-- @version 1.0\n-- @provides [main] b.lua\n", "s/b.lua": "-- @version x1\n"}
    _, errors = R.index_repository(files, heads.__getitem__, [])
    assert errors == ["s/b.lua: invalid value for tag 'version': 'x1'"]
    files = ["s/a.lua", "s/b.lua", "s/lib.lua"]
    heads = {f: "-- @version 1\n-- @provides [nomain] lib.lua\n" for f in files[:2]} | {"s/lib.lua": "-- @noindex\n"}
    _, errors = R.index_repository(files, heads.__getitem__, [])
    assert errors == ["s/b.lua: 's/lib.lua' conflicts with 's/a.lua'"]
    heads = {"s/a.lua": "-- @version 1.0\n-- @provides [mian] b.lua\n", "s/b.lua": "-- @noindex\n"}
    _, errors = R.index_repository(list(heads), heads.__getitem__, [])
    assert errors == ["s/a.lua: unknown option 'mian'"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = Daemon(tmp_path_factory.mktemp("work"))
    yield d
    d.stop()


def _run(script: str | Path, state: dict, tmp_path: Path, daemon: Any, temp: Path | None = None) -> dict:
    """Run an action against the mock; ``temp`` is its TEMP folder (where the actions write their files)."""
    exec_dir = tmp_path / "exec"
    exec_dir.mkdir(exist_ok=True)
    state = {**state, "ext": {"port": str(daemon.port), **state.get("ext", {})}, "python": sys.executable,
             "exec_dir": str(exec_dir)}
    (tmp_path / "state.json").write_text(json.dumps(state))
    out = tmp_path / "out.json"
    env = dict(os.environ)
    if temp is not None:
        temp.mkdir(parents=True, exist_ok=True)
        env.update(TEMP=str(temp), TMP=str(temp), TMPDIR=str(temp))
    path = script if isinstance(script, Path) else SCRIPTS / script
    proc = subprocess.run([LUA or "lua5.4", str(DRIVER), str(path), str(tmp_path / "state.json"), str(out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def _argvs(tmp_path: Path) -> list[list[str]]:
    """The arguments each ExecProcess call started its program with (as the model of ExecProcess split them)."""
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "exec").glob("exec-*.argv.json"),
                                                      key=lambda p: int(p.name.split("-")[1].split(".")[0]))]


def _confidences(daemon: Any) -> list[float]:
    """The confidences in the onsets file the daemon wrote last (the action read it)."""
    newest = max(daemon.workdir.rglob("*.onsets.json"), key=lambda p: p.stat().st_mtime_ns)
    return [o["confidence"] for o in json.loads(newest.read_text())["onsets"]]


def _named(result: dict, name: str) -> list[list]:
    return [c for c in result["calls"] if c[0] == name]


CUSTOM_ACTION = r"""
local here = ({ reaper.get_action_context() })[2]:match("^(.*[/\\])")
local sf = dofile(here .. "syncfoley_lib.lua")
local payload = sf.json_decode(sf.read_file(here .. "payload.json"))
sf.run("generate", payload, "test", function(r) sf.fail("done " .. tostring(r.wav)) end, sf.fail)
"""


def _custom_action(tmp_path: Path, payload: dict) -> Path:
    """An action that runs one generate request through the library (the transport under test)."""
    actions = tmp_path / "actions"
    actions.mkdir()
    shutil.copy(SCRIPTS / "syncfoley_lib.lua", actions / "syncfoley_lib.lua")
    (actions / "custom.lua").write_text(CUSTOM_ACTION)
    (actions / "payload.json").write_text(json.dumps(payload))
    return actions / "custom.lua"


@needs_lua
@pytest.mark.parametrize("offset,rate", [(0.5, 1.0), (0.5, 1.5)])
def test_detect_puts_a_note_on_every_hit_at_the_right_ppq(daemon: Any, scene_clip: Any, tmp_path: Path,
                                                          offset: float, rate: float) -> None:
    path, scene = scene_clip("struck")  # impacts 0.6 1.3 1.9 2.6 3.3 s
    length = 3.2 / rate  # the item plays source 0.5 .. 3.7 s
    # The motion detector, remembered from an earlier run of the dialog: it is exact on this scene's
    # fast stick, which the physics detector (auto's) places a frame or two early (test_physics_detector.py).
    state = {"item": {"position": 10.0, "length": length, "startoffs": offset, "playrate": rate, "file": str(path)},
             "ext": {"markers": "1", "detector": "motion"}}
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
    # Named as the engine names them (onset_label), with each onset's confidence from the onsets file.
    assert [m["name"] for m in result["markers"]] == [onset_label(i, c) for i, c in
                                                      enumerate(_confidences(daemon), start=1)]
    names = [c[0] for c in result["calls"]]
    assert names.index("Undo_BeginBlock") < names.index("CreateNewMIDIItemInProj") < names.index("Undo_EndBlock")
    assert _named(result, "Undo_EndBlock")[0][1] == "syncfoley: detect onsets"


@needs_lua
def test_generate_places_the_wav_under_the_edited_notes(daemon: Any, tmp_path: Path) -> None:
    notes = [{"start": t * TICKS, "end": t * TICKS + 96, "vel": v} for t, v in ((0.25, 100), (0.9, 60), (1.6, 127))]
    state = {"item": {"position": 4.0, "length": 2.0, "midi": True, "notes": notes}, "user_input": ["metal"]}
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
@pytest.mark.parametrize("system", ["Win64", "Other"])
def test_foley_for_item_through_execprocess(daemon: Any, scene_clip: Any, tmp_path: Path, system: str) -> None:
    path, scene = scene_clip("struck")
    state = {"item": {"position": 2.0, "length": 2.0, "startoffs": 1.0, "playrate": 1.5, "file": str(path)},
             "user_input": ["wood"], "os": system,
             "ext": {"transport": "exec", "command": f"{sys.executable} -m syncfoley.bridge.cli",
                     "detector": "motion", "sensitivity": "0.5"}}  # as the detect action's dialog left them
    # A TEMP folder with what cmd.exe would act on (& % ^ parentheses) and spaces.
    temp = tmp_path / "Foley & 100% ^(v2)"
    result = _run("syncfoley_foley_for_item.lua", state, tmp_path, daemon, temp=temp)
    assert result["messages"] == [], result["messages"]
    execs = _named(result, "ExecProcess")
    # Detect, then generate; never waited on; minimised on Windows.
    assert len(execs) == 2 and all(c[2] == (-2 if system == "Win64" else -1) for c in execs)
    argvs = _argvs(tmp_path)
    assert [a[3:5] for a in argvs] == [["send", "detect"], ["send", "generate"]], argvs
    for argv in argvs:  # each argument arrives whole: the request is a file, no shell or cmd.exe
        request = next(a for a in argv if a.startswith("@"))
        assert Path(request[1:]).parent == temp and json.loads(Path(request[1:]).read_text())
        assert "cmd.exe" not in argv and "/bin/sh" not in argv
    detect = json.loads(Path(next(a for a in argvs[0] if a.startswith("@"))[1:]).read_text())
    assert (detect["detector"], detect["sensitivity"]) == ("motion", 0.5), detect
    notes = [n for t in result["tracks"] for i in t["items"] for n in i.get("notes", [])]
    want = [(t - 1.0) / 1.5 * TICKS for t in scene.impacts() if 1.0 <= t < 4.0]
    for w in want:
        assert min(abs(n["start"] - w) for n in notes) <= TICKS / 30
    audio = [i for t in result["tracks"] for i in t["items"] if i["kind"] == "audio"]
    assert len(audio) == 1 and audio[0]["position"] == 2.0 and audio[0]["length"] == pytest.approx(2.0, abs=1e-3)
    assert _named(result, "Undo_EndBlock") == [["Undo_EndBlock", "syncfoley: Foley for item", -1]]


@needs_lua
@pytest.mark.parametrize("system", ["Win64", "Other"])
def test_a_failed_request_through_execprocess_says_why(daemon: Any, tmp_path: Path, system: str) -> None:
    """The daemon's error reaches the user (not 'unreadable result'): send writes its own exit status."""
    state = {"item": {"position": 0.0, "length": 1.0, "startoffs": 0.0, "playrate": 1.0,
                      "file": str(tmp_path / "no such clip.mp4")},
             "os": system, "timeout": 60,
             "ext": {"transport": "exec", "command": f"{sys.executable} -m syncfoley.bridge.cli"}}
    result = _run("syncfoley_detect_onsets.lua", state, tmp_path, daemon, temp=tmp_path / "t")
    assert result["unfinished"] == 0 and len(result["messages"]) == 1, result["messages"]
    message = result["messages"][0]
    assert "no such clip.mp4" in message and "unreadable" not in message, message


@needs_lua
def test_a_command_that_does_not_start_is_reported(tmp_path: Path) -> None:
    class Nobody:
        port = 9

    state = {"item": {"position": 0.0, "length": 1.0, "startoffs": 0.0, "playrate": 1.0, "file": "/x.mp4"},
             "os": "Win64", "ext": {"transport": "exec", "command": str(tmp_path / "not-syncfoley")}}
    script = tmp_path / "actions"
    script.mkdir()
    for f in SCRIPTS.glob("*.lua"):
        shutil.copy(f, script / f.name)
    # The start deadline, shortened for the test.
    lib = script / "syncfoley_lib.lua"
    lib.write_text(lib.read_text().replace("M.EXEC_START_S = 30", "M.EXEC_START_S = 2"))
    result = _run(script / "syncfoley_detect_onsets.lua", state, tmp_path, Nobody(), temp=tmp_path / "t")
    assert result["unfinished"] == 0 and len(result["messages"]) == 1
    assert "did not start" in result["messages"][0] and "syncfoley/command" in result["messages"][0]


@needs_lua
@pytest.mark.parametrize("transport,system", [("exec", "Win64"), ("exec", "Other"), ("auto", "Other")])
def test_cancel_carries_host_and_token(tmp_path: Path, transport: str, system: str) -> None:
    from daemon_helpers import slow_request

    secret = "s3cret & 100%"
    d = Daemon(tmp_path / "work", "--token", secret)
    try:
        script = _custom_action(tmp_path, slow_request(tmp_path, hits=20, steps=200))
        state = {"os": system, "cancel_after": 150, "timeout": 120,
                 "ext": {"transport": transport, "token": secret, "host": "localhost",
                         "command": f"{sys.executable} -m syncfoley.bridge.cli"}}
        result = _run(script, state, tmp_path, d, temp=tmp_path / "t")
        assert result["messages"] == ["syncfoley: cancelled"], result["messages"]
        client = Client(d.port)
        try:
            end = time.monotonic() + 60
            while True:
                client.send("/syncfoley/status", json.dumps({"token": secret}))
                reply = client.recv()
                while reply.address != "/syncfoley/status":
                    reply = client.recv()
                newest = json.loads(reply.args[0])["recent"][0]
                if newest["state"] not in ("queued", "running") or time.monotonic() > end:
                    break
                time.sleep(0.2)
        finally:
            client.close()
        assert newest["state"] == "cancelled", newest
        if transport == "exec":
            cancel = [a for a in _argvs(tmp_path) if a[3:5] == ["send", "cancel"]]
            assert len(cancel) == 1 and "--host" in cancel[0] and secret not in " ".join(cancel[0])
    finally:
        d.stop()


@needs_lua
def test_localhost_is_resolved_before_luasocket_sees_it(daemon: Any, scene_clip: Any, tmp_path: Path) -> None:
    path, _ = scene_clip("struck")
    state = {"item": {"position": 0.0, "length": 3.0, "startoffs": 0.0, "playrate": 1.0, "file": str(path)},
             "ext": {"host": "localhost"}}
    result = _run("syncfoley_detect_onsets.lua", state, tmp_path, daemon)
    assert result["messages"] == [] and _named(result, "CreateNewMIDIItemInProj")


@needs_lua
def test_esc_in_the_progress_window_cancels(daemon: Any, tmp_path: Path) -> None:
    from daemon_helpers import slow_request

    script = _custom_action(tmp_path, slow_request(tmp_path, hits=20, steps=200))
    result = _run(script, {"cancel_after": 30}, tmp_path, daemon)
    assert result["messages"] == ["syncfoley: cancelled"]
    assert _named(result, "Undo_BeginBlock") == []


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
    result = _run("syncfoley_detect_onsets.lua", {"item": item, "user_input": ["motion", "0.8"]}, tmp_path, daemon)
    assert result["messages"] == []
    asked = _named(result, "GetUserInputs")
    assert asked and asked[0][1] == "syncfoley: Detect onsets" and asked[0][3] == ["auto", "0.5"]  # the defaults
    assert len(asked[0][2]) == 2 and not any("," in c for c in asked[0][2])  # two captions, as CSV reads them
    assert ["SetExtState", "syncfoley", "detector", "motion", True] in result["calls"]
    assert ["SetExtState", "syncfoley", "sensitivity", "0.8", True] in result["calls"]
    notes = [n for t in result["tracks"] for i in t["items"] for n in i.get("notes", [])]
    assert len(notes) >= 4


@needs_lua
@pytest.mark.parametrize("answer", [["auto", "2"], ["auto", "loud"], ["fast", "0.5"]])
def test_detect_refuses_a_sensitivity_outside_0_to_1(tmp_path: Path, answer: list[str]) -> None:
    class Nobody:
        port = 9

    item = {"position": 0.0, "length": 1.0, "startoffs": 0.0, "playrate": 1.0, "file": "/nowhere.mp4"}
    result = _run("syncfoley_detect_onsets.lua", {"item": item, "user_input": answer}, tmp_path, Nobody())
    assert len(result["messages"]) == 1
    want = "unknown detector 'fast'; choose one of auto, motion" if answer[0] == "fast" else \
        "sensitivity must be a number from 0 to 1"
    assert want in result["messages"][0]
    assert not [c for c in result["calls"] if c[0] == "SetExtState"]


@needs_lua
def test_the_preset_dialog_has_one_caption_and_survives_a_remembered_comma(daemon: Any, tmp_path: Path) -> None:
    notes = [{"start": 0.25 * TICKS, "end": 0.25 * TICKS + 96, "vel": 100}]
    state = {"item": {"position": 0.0, "length": 1.0, "midi": True, "notes": notes}, "user_input": ["metal"],
             "ext": {"preset": "wood, dry"}}
    result = _run("syncfoley_generate_from_midi.lua", state, tmp_path, daemon)
    asked = _named(result, "GetUserInputs")
    assert len(asked) == 1 and len(asked[0][2]) == 1 and asked[0][3] == ["wood, dry"], asked
    assert result["messages"] == [] and ["SetExtState", "syncfoley", "preset", "metal", True] in result["calls"]


@needs_lua
def test_closing_the_window_cancels_too(daemon: Any, tmp_path: Path) -> None:
    from daemon_helpers import slow_request

    script = _custom_action(tmp_path, slow_request(tmp_path, hits=20, steps=200))
    result = _run(script, {"close_after": 30}, tmp_path, daemon)  # -1 from getchar: the window was closed
    assert result["messages"] == ["syncfoley: cancelled"]


def test_windows_quoting_round_trips_through_the_c_runtime_rules() -> None:
    """The Lua quoting, read back by the model of CommandLineToArgvW (tests/lua/exec_process.py)."""
    if not _lua_socket():
        pytest.fail("lua5.4 with LuaSocket is missing")
    sys.path.insert(0, str(DRIVER.parent))
    try:
        from exec_process import split_windows
    finally:
        sys.path.pop(0)
    cases = ["plain", "with space", 'quote"inside', "trailing\\", "C:\\Temp\\a b\\", "& % ^ ( )", "",
             'x\\"y', "%ERRORLEVEL%"]
    code = ("local sf = dofile(arg[0]); reaper = { GetOS = function() return 'Win64' end }; "
            "local out = {} for i = 1, #arg do out[#out + 1] = sf.quote_windows(arg[i]) end "
            "io.write(table.concat(out, ' '))")
    proc = subprocess.run([LUA or "lua5.4", "-e", code, str(SCRIPTS / "syncfoley_lib.lua"), *cases],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert split_windows(proc.stdout) == cases
