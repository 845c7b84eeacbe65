"""The Resolve script ("Foley for timeline") against a fake Resolve and a real daemon over UDP."""

from __future__ import annotations

import ast
import json
import re
import runpy
import sys
import time
from pathlib import Path
from typing import Any

import fake_uimanager as fui
import pytest
from fake_resolve import Resolve, Timeline, VideoEvent
from test_daemon import Client, Daemon

from syncfoley.bridge import demo as demo_cut

SCRIPTS = Path(__file__).resolve().parents[1] / "bridge" / "scripts" / "resolve"
SCRIPT = SCRIPTS / "syncfoley_foley_for_timeline.py"


def test_the_scripts_use_only_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {"DaVinciResolveScript"}
    for path in SCRIPTS.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] in allowed | {"__future__"}, (path.name, name)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = Daemon(tmp_path_factory.mktemp("work"))
    yield d
    d.stop()


def _timeline(cut: demo_cut.DemoCut, calls: list, occupied: Any = None) -> Timeline:
    by_name = {s.name: s for s in cut.sources}
    events = [VideoEvent(by_name[e.source].path, by_name[e.source].start, e.source_in, e.record_in, e.record_out)
              for e in cut.events]
    return Timeline("cut v1", float(cut.rate), cut.record_start, events, calls, occupied)


@pytest.mark.parametrize("rate", ["24", "25", "29.97"])
def test_clips_land_at_their_record_frames(daemon: Any, tmp_path: Path, rate: str) -> None:
    cut = demo_cut.make(tmp_path / "media", rate=rate, events=6, sources=2, source_seconds=12.0, size=(160, 90),
                        seed=3)
    calls: list = []
    tl = _timeline(cut, calls)
    tl.markers[5] = {"color": "Blue", "name": "editor's note", "note": "", "duration": 1, "customData": ""}
    resolve = Resolve(tl)
    script = runpy.run_path(str(SCRIPT), run_name="under_test")
    log: list[str] = []
    status = script["main"](resolve=resolve, port=daemon.port, log=log.append)
    assert status == 0, log

    # Exported with the constants read from the live object, imported into the Foley bin first.
    assert ("Export", calls[0][1], Resolve.EXPORT_OTIO, Resolve.EXPORT_NONE) == calls[0]
    names = [c[0] for c in calls]
    assert names.index("SetCurrentFolder") < names.index("ImportMedia")
    assert ("ImportMedia", "Foley", 6) in calls
    # One new audio track; each clip at its event's absolute record frames, the visible part of its WAV, in the
    # units Resolve counts an audio item's frames in: its own 24 fps, from the BWF's start timecode.
    assert len(tl.audio) == 1
    _check_placement(tl, cut, log)
    # Markers: frames relative to the timeline start, one per hit on picture, tagged; the editor's stays.
    ours = {f: m for f, m in tl.markers.items() if m["customData"] == "syncfoley"}
    truth = [round(t * float(cut.rate)) for t in cut.truth()]
    hit = [t for t in truth if any(abs(f - t) <= 2 for f in ours)]
    assert len(truth) >= 8 and len(hit) >= 0.9 * len(truth), (sorted(ours), truth)
    assert tl.markers[5]["name"] == "editor's note"
    # Each named as the engine named it in foley.otio: the onset's number in its event and its confidence.
    assert all(re.fullmatch(r"onset [1-9][0-9]* \(conf [01]\.[0-9]{2}\)", m["name"]) for m in ours.values()), ours
    assert len({m["name"] for m in ours.values()}) > 1

    # A re-run replaces its own markers, not the editor's, and adds one more track.
    status = script["main"](resolve=resolve, port=daemon.port, log=log.append)
    assert status == 0 and len(tl.audio) == 2
    again = {f: m for f, m in tl.markers.items() if m["customData"] == "syncfoley"}
    assert sorted(again) == sorted(ours) and tl.markers[5]["name"] == "editor's note"


def _check_placement(tl: Timeline, cut: demo_cut.DemoCut, log: list[str]) -> None:
    """Every clip starts on its record in, ends on its record out or says precisely where it ends, and plays the
    WAV's audio of its record in within half a WAV frame, saying by how much when it is off."""
    from fake_resolve import AUDIO_FPS

    rate = float(cut.rate)
    items = sorted(tl.audio[0], key=lambda i: i.start)
    assert [i.start for i in items] == [e.record_in for e in cut.events]
    for item, ev in zip(items, cut.events):
        media = item.media
        assert media is not None and item.source_start is not None
        wav_start = ev.record_in - 12  # the clip WAVs carry 12-frame handles
        wanted = (ev.record_in - wav_start) / rate  # seconds into the WAV
        got = (item.source_start - media.first) / AUDIO_FPS
        assert abs(got - wanted) <= 0.5 / AUDIO_FPS + 1e-9, (ev, got, wanted)
        said = [line for line in log if f"at record frame {ev.record_in}:" in line]
        if abs(got - wanted) > 0.0005:
            assert said and f"{abs(got - wanted) * 1000:.1f} ms" in said[0], (said, got, wanted)
        if item.end != ev.record_out:
            assert said and f"ends at record frame {item.end}, not {ev.record_out}" in said[0], said
            assert item.end < ev.record_out  # never into the next clip's frames
        else:
            assert not said or "ends at" not in said[0]
    assert sum(i.end == e.record_out for i, e in zip(items, cut.events)) >= len(items) - 1


def test_a_placement_resolve_drops_is_reported(daemon: Any, tmp_path: Path) -> None:
    cut = demo_cut.make(tmp_path / "media", rate="25", events=4, sources=1, source_seconds=10.0, size=(160, 90))
    third = cut.events[2]
    calls: list = []
    # Something already sits where the third clip goes on the track the script adds.
    tl = _timeline(cut, calls, occupied={1: [(third.record_in + 3, third.record_in + 10)]})
    log: list[str] = []
    script = runpy.run_path(str(SCRIPT), run_name="under_test")
    status = script["main"](resolve=Resolve(tl), port=daemon.port, log=log.append)
    assert status == 1
    assert any("did not land" in line and f"record frame {third.record_in}" in line for line in log), log
    assert any("3 Foley clips placed, 1 did not land" in line for line in log), log


def test_no_daemon_says_how_to_start_it(tmp_path: Path) -> None:
    cut_calls: list = []
    tl = Timeline("t", 25.0, 90000, [], cut_calls)
    log: list[str] = []
    script = runpy.run_path(str(SCRIPT), run_name="under_test")
    assert script["main"](resolve=Resolve(tl), port=9, log=log.append) == 2
    assert "syncfoley serve" in log[-1] and cut_calls == []


def test_selected_clips_places_only_the_events_inside_in_and_out(daemon: Any, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    cut = demo_cut.make(tmp_path / "media", rate="25", events=5, sources=1, source_seconds=12.0, size=(160, 90),
                        seed=11)
    calls: list = []
    tl = _timeline(cut, calls)
    monkeypatch.setenv("SYNCFOLEY_PORT", str(daemon.port))
    wrapper = str(SCRIPTS / "syncfoley_foley_for_selected_clips.py")

    # No In/Out: nothing is sent to the daemon and nothing is exported.
    runpy.run_path(wrapper, init_globals={"resolve": Resolve(tl)}, run_name="under_test")
    assert "set In and Out" in capsys.readouterr().out and calls == []

    # In on the second event's 3rd frame, Out on the third event's last frame: those two, no others.
    second, third = cut.events[1], cut.events[2]
    tl.mark_in_out["video"] = {"in": second.record_in + 2 - tl.start, "out": third.record_out - 1 - tl.start}
    runpy.run_path(wrapper, init_globals={"resolve": Resolve(tl)}, run_name="under_test")
    out = capsys.readouterr().out
    assert "2 Foley clips placed, 0 did not land" in out, out
    assert [(i.start, i.end) for i in tl.audio[0]] == [(e.record_in, e.record_out) for e in (second, third)]
    ours = [f + tl.start for f, m in tl.markers.items() if m["customData"] == "syncfoley"]
    assert ours and all(second.record_in <= f < third.record_out for f in ours)


def _with_window(user: Any) -> tuple[dict, fui.Bmd]:
    """The script as Resolve's Workspace > Scripts menu runs it: ``bmd`` and ``fusion`` among its globals."""
    bmd = fui.Bmd(user)
    return runpy.run_path(str(SCRIPT), init_globals={"bmd": bmd}, run_name="under_test"), bmd


def _close_when_done(seen: list[str]) -> Any:
    def user(win: fui.Window) -> None:
        if win.GetItems()["SyncfoleyButton"].Text == "Close":
            seen.append(win.text("SyncfoleyText"))
            win.click("SyncfoleyButton")
    return user


def test_progress_window_follows_the_conform_then_shows_the_outcome(daemon: Any, tmp_path: Path) -> None:
    cut = demo_cut.make(tmp_path / "media", rate="25", events=6, sources=2, source_seconds=12.0, size=(160, 90),
                        seed=5)
    calls: list = []
    tl = _timeline(cut, calls)
    outcome: list[str] = []
    script, bmd = _with_window(_close_when_done(outcome))
    log: list[str] = []
    fusion = fui.Fusion()
    assert script["main"](resolve=Resolve(tl, fusion), port=daemon.port, log=log.append) == 0, log

    (disp,) = bmd.dispatchers
    (win,) = disp.windows
    assert disp.loops == 2 and win.shows == 1 and not win.shown  # the job, then the outcome; hidden at the end
    history = fusion.UIManager.history
    bar = [v for who, prop, v in history if who == "SyncfoleyBar" and prop == "Value"]
    texts = [v for who, prop, v in history if who == "SyncfoleyText" and prop == "Text"]
    # The engine's own progress lines, per event, with a bar that only moves forward and ends full.
    assert any("%" in t and "event" in t for t in texts), texts
    assert bar == sorted(bar) and bar[-1] == 1000 and len(set(bar)) >= 3, bar
    assert any(t.startswith("placing 6") for t in texts)
    assert outcome and "6 Foley clips placed, 0 did not land" in outcome[0]
    assert not any(t.active for t in fusion.UIManager.timers)
    # The same lines reach the console, and the clips are on the timeline.
    assert any("6 Foley clips placed" in line for line in log)
    assert [(i.start, i.end) for i in tl.audio[0]] == [(e.record_in, e.record_out) for e in cut.events]


@pytest.mark.parametrize("how", ["Cancel button", "window closed"])
def test_cancel_in_the_window_stops_the_job_and_leaves_the_timeline_alone(daemon: Any, tmp_path: Path,
                                                                          how: str) -> None:
    cut = demo_cut.make(tmp_path / "media", rate="24", events=12, sources=2, source_seconds=15.0, size=(160, 90),
                        seed=7)
    calls: list = []
    tl = _timeline(cut, calls)
    outcome: list[str] = []
    close = _close_when_done(outcome)

    def user(win: fui.Window) -> None:
        if win.GetItems()["SyncfoleyButton"].Text != "Cancel":
            close(win)
        elif how == "Cancel button":  # at once: before the daemon has even answered
            win.click("SyncfoleyButton")
        else:
            win.close()

    script, bmd = _with_window(user)
    log: list[str] = []
    fusion = fui.Fusion()
    started = time.monotonic()
    assert script["main"](resolve=Resolve(tl, fusion), port=daemon.port, log=log.append) == 2, log
    assert time.monotonic() - started < 20
    assert any("cancelled" in line and "unchanged" in line for line in log), log
    if how == "Cancel button":  # the outcome stays in the window until it is closed
        assert outcome and "cancelled" in outcome[0] and "unchanged" in outcome[0], outcome
    else:  # the user closed it: nobody is there to answer, so the outcome goes to the console only
        assert outcome == [] and bmd.dispatchers[0].loops == 1
    assert ("SyncfoleyButton", "Enabled", False) in fusion.UIManager.history  # no second cancel
    edits = {"ImportMedia", "AppendToTimeline", "AddTrack", "AddMarker", "DeleteMarkerAtFrame", "SetCurrentFolder"}
    assert not [c for c in calls if c[0] in edits] and tl.audio == []
    # The daemon stopped the job: the newest job there ends "cancelled", not "done".
    client = Client(daemon.port)
    try:
        end = time.monotonic() + 60
        while True:
            newest = json.loads(client.ask("/syncfoley/status").args[0])["recent"][0]
            if newest["state"] not in ("queued", "running") or time.monotonic() > end:
                break
            time.sleep(0.2)
    finally:
        client.close()
    assert newest["address"] == "/syncfoley/conform" and newest["state"] == "cancelled", newest


def test_window_says_why_nothing_ran_and_survives_a_failing_poll(tmp_path: Path) -> None:
    outcome: list[str] = []
    script, bmd = _with_window(_close_when_done(outcome))
    fusion = fui.Fusion()
    assert script["main"](resolve=Resolve(Timeline("t", 25.0, 90000, [], []), fusion), port=9,
                          log=lambda _: None) == 2
    assert "no engine daemon" in outcome[0] and "syncfoley serve" in outcome[0]

    # A reply that cannot be read ends the wait with the reason instead of leaving the loop running.
    ui = fui.UIManager()
    disp = fui.Bmd(_close_when_done(outcome)).UIDispatcher(ui)
    view = script["WindowView"](ui, disp, "t", lambda _: None)
    job = script["Daemon"]("127.0.0.1", 9).start("conform", {"timeline": "x.otio"})

    def broken(wait: float = 0.0) -> bool:
        raise ValueError("a datagram that is not OSC")

    job.poll = broken
    view.wait(job)
    assert job.finished and "not OSC" in job.error
    assert view.end([job.error], 2) == 2 and "not OSC" in outcome[-1]


@pytest.mark.parametrize("system,tail", [
    ("linux", ".local/share/DaVinciResolve/Fusion/Scripts/Edit"),
    ("darwin", "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Edit"),
    ("win32", "AppData/Roaming/Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts/Edit"),
])
def test_install_folders_per_system(system: str, tail: str, tmp_path: Path) -> None:
    from syncfoley.bridge.install_scripts import script_folder

    assert script_folder("resolve", system, env={}, home=tmp_path) == tmp_path / tail
    reaper = script_folder("reaper", system, env={}, home=tmp_path)
    assert reaper.parts[-2:] == ("Scripts", "syncfoley") and "REAPER" in reaper.parts


def test_install_scripts_copies_and_keeps_what_is_there(tmp_path: Path) -> None:
    from conftest import run_cli

    proc = run_cli("install-scripts", "resolve", "--dest", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in SCRIPTS.glob("*.py"))
    again = run_cli("install-scripts", "resolve", "--dest", str(tmp_path))
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert run_cli("install-scripts", "resolve", "--dest", str(tmp_path), "--overwrite").returncode == 0
    bad = run_cli("install-scripts", "nuke", "--dest", str(tmp_path))
    assert bad.returncode == 2 and "'reaper' or 'resolve'" in bad.stderr


@pytest.mark.parametrize("version,mode,want", [
    ((18, 1, 4), "timeline", "needs DaVinci Resolve 18.5 or later for OTIO export"),
    ((19, 0, 2), "selected", "Foley for selected clips needs DaVinci Resolve 19.1 or later"),
])
def test_an_older_resolve_is_told_which_version_it_needs(tmp_path: Path, version: tuple, mode: str,
                                                         want: str) -> None:
    calls: list = []
    tl = Timeline("t", 25.0, 90000, [], calls)
    tl.mark_in_out["video"] = {"in": 0, "out": 100}  # set: the message must be about the version, not the marks
    log: list[str] = []
    script = runpy.run_path(str(SCRIPT), run_name="under_test")
    assert script["main"](resolve=Resolve(tl, version=version), mode=mode, port=9, log=log.append) == 2
    assert want in log[-1] and ".".join(map(str, version)) in log[-1], log
    assert calls == []  # nothing exported, nothing sent


def test_the_scripts_parse_as_the_oldest_python_resolve_runs() -> None:
    """Resolve's scripting README lists Python 3.6: vermin (an independent reader) finds nothing newer."""
    import shutil
    import subprocess

    vermin = shutil.which("vermin") or str(Path(sys.executable).parent / "vermin")
    proc = subprocess.run([vermin, "--target=3.6-", "--violations", "--no-tips", "-q", *map(str, SCRIPTS.glob("*.py"))],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_markers_that_cannot_be_added_are_counted(daemon: Any, tmp_path: Path) -> None:
    cut = demo_cut.make(tmp_path / "media", rate="25", events=4, sources=1, source_seconds=10.0, size=(160, 90), seed=2)
    calls: list = []
    tl = _timeline(cut, calls)
    script = runpy.run_path(str(SCRIPT), run_name="under_test")
    assert script["main"](resolve=Resolve(tl), port=daemon.port, log=lambda _: None) == 0
    ours = sorted(f for f, m in tl.markers.items() if m["customData"] == "syncfoley")
    assert len(ours) >= 3
    # The editor marks two of those frames; a re-run cannot put its onsets there, and says so.
    for f in ours[:2]:
        tl.markers[f] = {"color": "Blue", "name": "editor", "note": "", "duration": 1, "customData": ""}
    log: list[str] = []
    assert script["main"](resolve=Resolve(tl), port=daemon.port, log=log.append) == 0
    assert any("2 onset markers could not be added" in line for line in log), log
    assert all(tl.markers[f]["name"] == "editor" for f in ours[:2])


def test_the_window_timer_arrives_under_either_name(daemon: Any, tmp_path: Path) -> None:
    cut = demo_cut.make(tmp_path / "media", rate="24", events=3, sources=1, source_seconds=10.0, size=(160, 90), seed=4)
    outcome: list[str] = []
    bmd = fui.Bmd(_close_when_done(outcome), timer_route="window")
    script = runpy.run_path(str(SCRIPT), init_globals={"bmd": bmd}, run_name="under_test")
    tl = _timeline(cut, [])
    assert script["main"](resolve=Resolve(tl, fui.Fusion()), port=daemon.port, log=lambda _: None) == 0
    assert outcome and "3 Foley clips placed, 0 did not land" in outcome[0]


def test_timecodes_and_rates_as_resolve_writes_them() -> None:
    script = runpy.run_path(str(SCRIPT), run_name="under_test")
    tc, rate, version = script["tc_to_frames"], script["exact_rate"], script["resolve_version"]
    assert tc("01:00:00:00", 24.0) == 86400 and tc("01:00:00:00", 25.0) == 90000
    assert tc("01:00:00;00", 30000 / 1001) == 107892 and tc("00:01:00;02", 30000 / 1001) == 1800  # drop frame
    assert rate("24") == 24.0 and rate("29.97") == pytest.approx(30000 / 1001) and rate("23.976") == pytest.approx(
        24000 / 1001)

    class Old:
        def GetVersion(self) -> dict:  # some builds hand the list over as a dict keyed 1..5
            return {1.0: 18, 2.0: 1, 3.0: 4, 4.0: 6, 5.0: ""}

    class Stringy:
        def GetVersionString(self) -> str:
            return "19.1.3.7"

    assert version(Old()) == (18, 1, 4) and version(Stringy()) == (19, 1, 3) and version(object()) is None
