"""The OSC daemon as a real process on loopback, spoken to by python-osc and by liblo's tools."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Optional

from conftest import EXAMPLE, run_cli
from daemon_helpers import Client, Daemon, onsets_file, slow_request, tiny_diffusion_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncfoley.bridge.daemon import protocol as P

OSCSEND = shutil.which("oscsend")
OSCDUMP = shutil.which("oscdump")


def test_every_address_over_python_osc(daemon: Daemon, client: Client, tmp_path: Path) -> None:
    pong = client.ask("/syncfoley/ping")
    assert pong.address == "/syncfoley/pong" and isinstance(pong.args[0], str)
    status = json.loads(client.ask("/syncfoley/status").args[0])
    assert status["running"] is None and status["queued"] == 0

    # detect
    # The detector that is exact on the example clip (see test_cli.py's run_output), asked for by name.
    accepted = client.ask("/syncfoley/detect", json.dumps({"video": str(EXAMPLE), "detector": "motion"}))
    assert accepted.address == "/syncfoley/accepted"
    job = accepted.args[0]
    done, seen = client.until("done", job)
    result = json.loads(done.args[1])
    assert result["onsets"] == 10 and Path(result["onsets_json"]).is_file() and Path(result["onsets_midi"]).is_file()
    assert any(m.address == "/syncfoley/progress" for m in seen)
    prog = [m for m in seen if m.address == "/syncfoley/progress"]
    assert all(m.args[0] == job and 0.0 <= m.args[1] <= 1.0 and isinstance(m.args[2], str) for m in prog)

    # generate, from the onsets it just wrote, into an output under the jobs folder
    out = daemon.workdir / "jobs" / "renders" / "hits.wav"
    job = client.ask("/syncfoley/generate", json.dumps(
        {"onsets": result["onsets_json"], "output": str(out), "preset": "metal", "channels": 2})).args[0]
    done, _ = client.until("done", job)
    gen = json.loads(done.args[1])
    assert gen["wav"] == str(out) and out.is_file() and gen["engine"] == "builtin" and gen["channels"] == 2

    # run
    job = client.ask("/syncfoley/run", json.dumps({"video": str(EXAMPLE), "preset": "glass"})).args[0]
    done, _ = client.until("done", job)
    run = json.loads(done.args[1])
    assert all(Path(run[k]).is_file() for k in ("onsets_json", "onsets_midi", "foley_wav", "timeline"))

    # status of one job, and the summary
    one = json.loads(client.ask("/syncfoley/status", json.dumps({"job_id": job})).args[0])
    assert one["state"] == "done" and one["result"]["foley_wav"] == run["foley_wav"]
    summary = json.loads(client.ask("/syncfoley/status").args[0])
    assert summary["jobs"]["done"] == 3

    # conform needs a timeline (the conform itself: test_conform_over_osc_reports_each_event)
    err = client.ask("/syncfoley/conform", json.dumps({}))
    assert err.address == "/syncfoley/error" and err.args[0] == P.BAD_REQUEST and "'timeline'" in err.args[1]

    # cancel of a finished job is refused, of an unknown one too
    assert client.ask("/syncfoley/cancel", json.dumps({"job_id": job})).args[0] == P.BAD_REQUEST
    assert client.ask("/syncfoley/cancel", "jnothere").args[0] == P.NOT_FOUND

    # the log has a line per request and per state change
    text = (daemon.workdir / "syncfoley.log").read_text()
    assert f"job {job} running" in text and f"job {job} done" in text and "request /syncfoley/run" in text

    assert client.ask("/syncfoley/shutdown").address == "/syncfoley/bye"
    daemon.proc.wait(15)
    assert daemon.proc.returncode == 0


def test_identical_requests_come_from_the_cache(daemon: Daemon, client: Client, tmp_path: Path) -> None:
    onsets = onsets_file(tmp_path / "hits.json", [0.5, 1.0, 1.5], 2.0)
    req = json.dumps({"onsets": str(onsets), "preset": "wood"})
    first = client.ask("/syncfoley/generate", req).args[0]
    done, _ = client.until("done", first)
    again = client.ask("/syncfoley/generate", req).args[0]
    cached, _ = client.until("done", again, timeout=5)
    a, b = json.loads(done.args[1]), json.loads(cached.args[1])
    assert b["cached"] is True and b["cached_from"] == first and b["wav"] == a["wav"]
    # A changed input file is a different request.
    time.sleep(0.01)
    onsets_file(onsets, [0.5, 1.2], 2.0)
    third = client.ask("/syncfoley/generate", req).args[0]
    done3, _ = client.until("done", third)
    assert "cached" not in json.loads(done3.args[1])


def test_every_address_from_liblo(daemon: Daemon, tmp_path: Path) -> None:
    assert OSCSEND and OSCDUMP, "liblo's oscsend/oscdump are needed: apt-get install liblo-tools (.ci/run does)"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        dump_port = s.getsockname()[1]
    dump = subprocess.Popen([OSCDUMP, "-L", str(dump_port)], stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(x) for x in dump.stdout], daemon=True).start()  # type: ignore
    time.sleep(0.3)

    def oscsend(address: str, payload: Optional[dict] = None) -> None:
        body = {"reply_port": dump_port, **(payload or {})}
        subprocess.run([OSCSEND, "localhost", str(daemon.port), address, "s", json.dumps(body)], check=True)

    def wait_for(text: str, timeout: float = 120.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in list(lines):
                if text in line:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in {lines}")

    try:
        oscsend("/syncfoley/ping")
        wait_for("/syncfoley/pong s")
        oscsend("/syncfoley/status")
        wait_for("/syncfoley/status s")
        oscsend("/syncfoley/detect", {"video": str(EXAMPLE)})
        job = wait_for("/syncfoley/accepted s").split('"')[1]
        wait_for(f'/syncfoley/done ss "{job}"')
        onsets = onsets_file(tmp_path / "l.json", [0.3, 0.8], 1.5)
        oscsend("/syncfoley/generate", {"onsets": str(onsets)})
        wait_for(f'/syncfoley/done ss "{wait_for_new(lines, "/syncfoley/accepted s", job)}"')
        oscsend("/syncfoley/run", {"video": str(EXAMPLE), "preset": "stone"})
        run_job = wait_for_new(lines, "/syncfoley/accepted s", job, skip=2)
        wait_for(f'/syncfoley/done ss "{run_job}"')
        oscsend("/syncfoley/cancel", {"job_id": run_job})
        wait_for('/syncfoley/error sss "bad_request"')
        oscsend("/syncfoley/conform", {"timeline": "relative/cut.edl"})
        wait_for("timeline must be an absolute path")
        oscsend("/syncfoley/shutdown")
        wait_for("/syncfoley/bye")
        daemon.proc.wait(15)
    finally:
        dump.terminate()


def test_conform_over_osc_reports_each_event(daemon: Daemon, client: Client, tmp_path: Path) -> None:
    import stand_ins

    from syncfoley.adapters import timeline

    src = Path(__file__).resolve().parent / "data" / "edl" / "25fps.edl"
    stand_ins.make(timeline.read(src), tmp_path / "media")
    request = {"timeline": str(src), "media_root": [str(tmp_path / "media")], "handles": 6}
    job = client.ask("/syncfoley/conform", json.dumps({**request, "outdir": str(daemon.workdir / "jobs" / "c1")})).args[0]
    done, seen = client.until("done", job)
    result = json.loads(done.args[1])
    assert (result["events"], result["computed"], result["reused"], result["problems"]) == (4, 4, 0, [])
    assert all(Path(result[k]).is_file() for k in ("timeline", "aaf", "edl", "stem", "report"))
    texts = [m.args[2] for m in seen if m.address == "/syncfoley/progress"]
    assert any(t.startswith("event ") for t in texts), texts
    fractions = [m.args[1] for m in seen if m.address == "/syncfoley/progress"]
    assert fractions == sorted(fractions)

    # the same cut again, elsewhere: every event comes from the daemon's conform cache
    job = client.ask("/syncfoley/conform", json.dumps({**request, "outdir": str(daemon.workdir / "jobs" / "c2")})).args[0]
    again = json.loads(client.until("done", job)[0].args[1])
    assert (again["computed"], again["reused"]) == (0, 4)

    # a dry run lists the plan and writes nothing
    job = client.ask("/syncfoley/conform", json.dumps({**request, "dry_run": True,
                                                       "outdir": str(daemon.workdir / "jobs" / "c3")})).args[0]
    plan = json.loads(client.until("done", job)[0].args[1])
    assert plan["reuse"] == 4 and len(plan["plan"]) == 4 and not (daemon.workdir / "jobs" / "c3").exists()

    # junk is refused before it is queued
    bad = client.ask("/syncfoley/conform", json.dumps({"timeline": str(src), "media_root": 7}))
    assert bad.args[0] == P.BAD_REQUEST and "media_root must be a path or a list of paths" in bad.args[1]
    bad = client.ask("/syncfoley/conform", json.dumps({"timeline": str(src), "outdir": "/etc/x"}))
    assert bad.args[0] == P.OUTSIDE_ROOTS
    job = client.ask("/syncfoley/conform", json.dumps({"timeline": str(tmp_path / "none.edl")})).args[0]
    err, _ = client.until("error", job)
    assert err.args[0] == "timeline" and "no such timeline" in err.args[1]


def test_conform_reads_no_media_outside_the_daemons_roots(tmp_path: Path) -> None:
    import opentimelineio as otio
    import stand_ins

    from syncfoley.engine.media.video import write_video

    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    for folder in (inside, outside):
        write_video(folder / "shot.mov", stand_ins.frames(50, 25), 25, codec="mjpeg")
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    tl = otio.schema.Timeline(name="t", global_start_time=rt(90000, 25))
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    # The timeline names the copy outside the roots; the daemon must not read it.
    track.append(otio.schema.Clip(name="shot", source_range=tr(rt(5, 25), rt(25, 25)),
                                  media_reference=otio.schema.ExternalReference(target_url=str(outside / "shot.mov"))))
    tl.tracks.append(track)
    otio.adapters.write_to_file(tl, str(inside / "cut.otio"))
    d = Daemon(tmp_path / "work", "--media-root", str(inside))
    c = Client(d.port)
    try:
        job = c.ask("/syncfoley/conform", json.dumps({"timeline": str(inside / "cut.otio")})).args[0]
        result = json.loads(c.until("done", job)[0].args[1])
        assert result["skipped"] == 1 and "outside the media roots" in result["problems"][0]
        # Found under a media_root the request gives (inside the daemon's roots), it is used.
        job = c.ask("/syncfoley/conform", json.dumps({"timeline": str(inside / "cut.otio"),
                                                      "media_root": [str(inside)], "overwrite": True})).args[0]
        result = json.loads(c.until("done", job)[0].args[1])
        assert (result["computed"], result["skipped"]) == (1, 0)
    finally:
        c.close()
        d.stop()


def wait_for_new(lines: list[str], text: str, after: str, skip: int = 1, timeout: float = 30.0) -> str:
    """The job id of the ``skip``-th ``accepted`` line that is not ``after``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ids = [ln.split('"')[1] for ln in list(lines) if text in ln]
        ids = [i for i in ids if i != after]
        if len(ids) >= skip:
            return ids[skip - 1]
        time.sleep(0.05)
    raise AssertionError(f"no new {text!r} in {lines}")


def test_bad_requests_get_stable_error_codes(daemon: Daemon, client: Client, tmp_path: Path) -> None:
    cases = [
        (b"hello", P.BAD_DATAGRAM),
        (b"\x00\x01\x02\x03", P.BAD_DATAGRAM),
        (b"/" + b"x" * (P.MAX_DATAGRAM + 100), P.TOO_LARGE),
        (P.build("/syncfoley/nope"), P.UNKNOWN_ADDRESS),
        (P.build("/other/ping"), P.UNKNOWN_ADDRESS),
        (P.build("/syncfoley/detect"), P.BAD_ARGUMENTS),
        (P.build("/syncfoley/detect", 3), P.BAD_ARGUMENTS),
        (P.build("/syncfoley/detect", "{not json"), P.BAD_JSON),
        (P.build("/syncfoley/detect", "[1, 2]"), P.BAD_JSON),
        (P.build("/syncfoley/detect", json.dumps({"video": "relative.mp4"})), P.BAD_REQUEST),
        (P.build("/syncfoley/detect", json.dumps({"vidoe": str(EXAMPLE)})), P.BAD_REQUEST),
        (P.build("/syncfoley/detect", json.dumps({"video": str(EXAMPLE), "start": "soon"})), P.BAD_REQUEST),
        (P.build("/syncfoley/generate", json.dumps({"onsets": "/x.json", "reply_port": 70000})), P.BAD_REQUEST),
        (P.build("/syncfoley/generate", json.dumps({"onsets": "/x.json", "output": "/etc/x.wav"})), P.OUTSIDE_ROOTS),
    ]
    for data, code in cases:
        client.raw(data)
        reply = client.recv()
        assert reply.address == "/syncfoley/error" and reply.args[0] == code, (data[:40], reply)
        assert isinstance(reply.args[1], str) and reply.args[1]
    # A job that fails does so with the engine's own code, after being accepted.
    job = client.ask("/syncfoley/detect", json.dumps({"video": str(tmp_path / "missing.mp4")})).args[0]
    err, _ = client.until("error", job)
    assert err.args[0] == "media" and "missing.mp4" in err.args[1] and err.args[2] == job
    assert client.ask("/syncfoley/ping").address == "/syncfoley/pong"
    counts = json.loads(client.ask("/syncfoley/status").args[0])["jobs"]
    assert counts == {"error": 1}, "refused requests leave no job behind"


def test_hostile_fields_are_refused_by_name_not_as_internal(daemon: Daemon, client: Client, tmp_path: Path) -> None:
    """Input that used to reach the file system or float() and come back ``internal``: each one is now
    ``bad_request`` (or ``bad_json``) naming the field, and no job is made of it."""
    video = str(EXAMPLE)
    deep = "[" * 7000 + "]" * 7000  # fits one datagram, far deeper than any parser's stack
    cases: list[tuple[str, str, str, str]] = [
        # (address, JSON text, code, field the message must name)
        ("detect", json.dumps({"video": video[:-4] + "\0.mp4"}), P.BAD_REQUEST, "video"),
        ("detect", json.dumps({"video": video, "guide": "/tmp/a\ud800.wav"}), P.BAD_REQUEST, "guide"),
        ("detect", json.dumps({"video": "/tmp/" + "x" * 300 + ".mp4"}), P.BAD_REQUEST, "video"),
        ("detect", json.dumps({"video": "/tmp" + "/abc" * 1100 + ".mp4"}), P.BAD_REQUEST, "video"),
        ("detect", '{"video": ' + json.dumps(video) + ', "start": ' + "9" * 400 + "}", P.BAD_REQUEST, "start"),
        ("run", '{"video": ' + json.dumps(video) + ', "steps": ' + "9" * 400 + "}", P.BAD_REQUEST, "steps"),
        ("run", json.dumps({"video": video, "seed": 2**70}), P.BAD_REQUEST, "seed"),
        ("run", json.dumps({"video": video, "seed": -1}), P.BAD_REQUEST, "seed"),
        ("run", json.dumps({"video": video, "preset": {"nested": [[[1]]]}}), P.BAD_REQUEST, "preset"),
        ("run", json.dumps({"video": video, "channels": 6}), P.BAD_REQUEST, "channels"),
        ("run", json.dumps({"video": video, "engine": "magic"}), P.BAD_REQUEST, "engine"),
        ("conform", json.dumps({"timeline": video, "media_root": ["/tmp", 3]}), P.BAD_REQUEST, "media_root"),
        ("conform", json.dumps({"timeline": video, "handles": 10**9}), P.BAD_REQUEST, "handles"),
        ("conform", json.dumps({"timeline": video, "jobs": 100000}), P.BAD_REQUEST, "jobs"),
        ("conform", json.dumps({"timeline": video, "jobs": 2, "executor": "ray"}), P.BAD_REQUEST, "jobs"),
        # A cluster of the caller's choosing would send its results (pickles) into the daemon.
        ("conform", json.dumps({"timeline": video, "executor": "ray", "ray_address": "203.0.113.9:6379"}),
         P.BAD_REQUEST, "ray_address"),
        ("conform", json.dumps({"timeline": video, "executor": "dask"}), P.BAD_REQUEST, "executor"),
        ("generate", json.dumps({"onsets": "/x.json", "guidance": float("inf")}).replace("Infinity", "1e999"),
         P.BAD_REQUEST, "guidance"),
        ("run", '{"video": ' + json.dumps(video) + ', "preset": ' + deep + "}", P.BAD_JSON, "JSON"),
    ]
    for name, text, code, field in cases:
        reply = client.ask(P.PREFIX + name, text)
        assert reply.address == "/syncfoley/error", (name, text[:80], reply)
        assert reply.args[0] == code, (text[:80], reply.args)
        assert field in reply.args[1], (field, reply.args[1][:200])
        assert len(reply.args[1]) < 1000, "a huge value is cut short in the message"
    assert daemon.alive()
    assert client.ask("/syncfoley/ping").address == "/syncfoley/pong"
    counts = json.loads(client.ask("/syncfoley/status").args[0])["jobs"]
    assert counts == {}, "no refused request became a job"


def test_bundles_with_future_timetags_do_not_stall(daemon: Daemon, client: Client) -> None:
    from pythonosc.osc_bundle_builder import OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    b = OscBundleBuilder(time.time() + 3600)  # an hour from now
    b.add_content(OscMessageBuilder("/syncfoley/ping").build())
    t = time.monotonic()
    client.raw(b.build().dgram)
    assert client.recv(2.0).address == "/syncfoley/pong"
    assert time.monotonic() - t < 1.0


def test_cancel_a_running_job_and_control_stays_live(daemon: Daemon, client: Client, tmp_path: Path) -> None:
    job = client.ask("/syncfoley/generate", json.dumps(slow_request(tmp_path, 20, 200))).args[0]
    client.until("progress", job, timeout=60)
    lat = []
    for _ in range(50):
        t = time.perf_counter()
        assert client.ask("/syncfoley/ping").address == "/syncfoley/pong"
        lat.append(time.perf_counter() - t)
    status = json.loads(client.ask("/syncfoley/status").args[0])
    assert status["running"] == job
    cancelled = client.ask("/syncfoley/cancel", job)
    while cancelled.address == "/syncfoley/progress":
        cancelled = client.recv()
    assert cancelled.address == "/syncfoley/cancelled" and cancelled.args[0] == job
    err, _ = client.until("error", job, timeout=30)
    assert err.args[0] == "cancelled"
    one = json.loads(client.ask("/syncfoley/status", json.dumps({"job_id": job})).args[0])
    assert one["state"] == "cancelled"
    assert not list(daemon.workdir.rglob("*.wav")), "a cancelled job leaves no output"
    assert max(lat) < 1.0  # answered while the job ran (the bench measures the distribution)


def test_kill_during_a_job_and_restart(tmp_path: Path) -> None:
    work = tmp_path / "work"
    ckpt, emb = tiny_diffusion_files(tmp_path)
    d = Daemon(work)
    c = Client(d.port)
    try:
        quick = onsets_file(tmp_path / "q.json", [0.2, 0.6], 1.0)
        first = c.ask("/syncfoley/generate", json.dumps({"onsets": str(quick)})).args[0]
        done, _ = c.until("done", first)
        wav = Path(json.loads(done.args[1])["wav"])
        before = wav.read_bytes()
        onsets = onsets_file(tmp_path / "long.json", [0.5 + k for k in range(10)], 11.0)
        slow = c.ask("/syncfoley/generate", json.dumps({
            "onsets": str(onsets), "engine": "diffusion", "diffusion_checkpoint": str(ckpt),
            "embedding": str(emb), "steps": 6, "batch": 1, "device": "cpu"})).args[0]
        c.until("progress", slow, timeout=60)
        worker = json.loads(c.ask("/syncfoley/status").args[0])["worker_pid"]
        assert worker and worker != d.proc.pid
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait(10)
        _wait_gone(worker)  # the worker process dies with the daemon: no orphan keeps writing
        # A write interrupted mid-way leaves a temporary file, never a half WAV under the final name.
        stray = work / "jobs" / slow / ".long.foley.deadbeef.partial.wav"
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"RIFF half")
        assert not (work / "jobs" / slow / "long.foley.wav").exists()

        d = Daemon(work)  # same workdir; replies still go to this client's port
        c.port = d.port
        st = json.loads(c.ask("/syncfoley/status", json.dumps({"job_id": first})).args[0])
        assert st["state"] == "done" and wav.read_bytes() == before
        done, _ = c.until("done", slow, timeout=300)
        out = Path(json.loads(done.args[1])["wav"])
        assert out.is_file() and out.stat().st_size > 11 * 48000 * 3
        assert not list(work.rglob("*.partial*")), "leftovers of the interrupted write are removed"
    finally:
        c.close()
        d.stop()


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} is still running")


def test_shutdown_mid_job_queues_it_for_the_next_start(tmp_path: Path) -> None:
    work = tmp_path / "work"
    ckpt, emb = tiny_diffusion_files(tmp_path)
    d = Daemon(work)
    c = Client(d.port)
    try:
        onsets = onsets_file(tmp_path / "s.json", [0.5, 2.0, 4.0], 6.0)
        job = c.ask("/syncfoley/generate", json.dumps({
            "onsets": str(onsets), "engine": "diffusion", "diffusion_checkpoint": str(ckpt),
            "embedding": str(emb), "steps": 8, "batch": 1, "device": "cpu"})).args[0]
        c.until("progress", job, timeout=60)
        c.send("/syncfoley/shutdown")
        c.until("bye", "", timeout=10)
        assert d.proc.wait(30) == 0
        d = Daemon(work)
        c.port = d.port
        done, _ = c.until("done", job, timeout=300)
        assert Path(json.loads(done.args[1])["wav"]).is_file()
    finally:
        c.close()
        d.stop()


def test_many_clients_none_lost(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "work", "--queue-limit", "3")
    onsets = onsets_file(tmp_path / "m.json", [0.2, 0.4], 0.6)
    answers: list[str] = []
    lock = threading.Lock()

    def one_client(k: int) -> None:
        c = Client(d.port)
        try:
            for i in range(100):
                if i % 2:
                    req = ("/syncfoley/ping",)
                else:
                    req = ("/syncfoley/generate", json.dumps({"onsets": str(onsets), "seed": k * 1000 + i}))
                c.send(*req)
                while True:
                    m = c.recv(10.0)
                    if m.address in ("/syncfoley/progress", "/syncfoley/done"):
                        continue  # later replies of an earlier job
                    if m.address == "/syncfoley/error" and m.args[2]:
                        continue  # an earlier job's own error
                    break
                with lock:
                    answers.append(m.address if m.address != "/syncfoley/error" else f"error {m.args[0]}")
        finally:
            c.close()

    try:
        threads = [threading.Thread(target=one_client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(answers) == 800
        assert answers.count("/syncfoley/pong") == 400
        work = [a for a in answers if a != "/syncfoley/pong"]
        assert set(work) <= {"/syncfoley/accepted", "error busy"}
        assert work.count("error busy") > 0 and work.count("/syncfoley/accepted") > 0
        assert d.alive()
    finally:
        d.stop()


def test_one_daemon_per_workdir(daemon: Daemon) -> None:
    res = run_cli("serve", "--port", "0", "--workdir", str(daemon.workdir))
    assert res.returncode == 2 and "in use by another syncfoley daemon" in res.stderr
    assert str(daemon.proc.pid) in res.stderr


def test_binding_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    res = run_cli("serve", "--host", "0.0.0.0", "--port", "0", "--workdir", str(tmp_path / "w"))
    assert res.returncode == 2 and "--token" in res.stderr


def test_token_and_roots_are_enforced(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(EXAMPLE, media / "hits.mp4")
    d = Daemon(tmp_path / "work", "--token", "s3cret", "--media-root", str(media))
    c = Client(d.port)
    try:
        assert c.ask("/syncfoley/ping").args[0] == P.BAD_ARGUMENTS  # a token needs a JSON argument
        assert c.ask("/syncfoley/ping", json.dumps({"token": "wrong"})).args[0] == P.FORBIDDEN
        assert c.ask("/syncfoley/ping", json.dumps({"token": "s3cret"})).address == "/syncfoley/pong"
        bad = c.ask("/syncfoley/detect", json.dumps({"video": str(media / "hits.mp4"), "token": "nope"}))
        assert bad.args[0] == P.FORBIDDEN
        outside = c.ask("/syncfoley/detect", json.dumps({"video": str(EXAMPLE), "token": "s3cret"}))
        assert outside.args[0] == P.OUTSIDE_ROOTS and str(media) in outside.args[1]
        sneaky = str(media / ".." / ".." / "etc" / "passwd")
        assert c.ask("/syncfoley/detect", json.dumps({"video": sneaky, "token": "s3cret"})).args[0] == P.OUTSIDE_ROOTS
        status = json.loads(c.ask("/syncfoley/status", json.dumps({"token": "s3cret"})).args[0])
        assert status["jobs"] == {}, "refused requests touch nothing"
        assert not list((tmp_path / "work" / "jobs").iterdir())
        ok = c.ask("/syncfoley/detect", json.dumps({"video": str(media / "hits.mp4"), "token": "s3cret"}))
        assert ok.address == "/syncfoley/accepted"
        c.until("done", ok.args[0])
    finally:
        c.close()
        d.stop()


def test_send_client_waits_and_exits_with_the_result(daemon: Daemon, tmp_path: Path) -> None:
    res = run_cli("send", "run", json.dumps({"video": str(EXAMPLE)}), "--port", str(daemon.port), "--wait")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    assert Path(result["foley_wav"]).is_file()
    assert "progress" in res.stderr and "accepted" in res.stderr
    res = run_cli("send", "detect", json.dumps({"video": "/nowhere.mp4"}), "--port", str(daemon.port), "--wait")
    assert res.returncode == 2 and "syncfoley: error [media]: no such file" in res.stderr
    res = run_cli("send", "ping", "--port", str(daemon.port))
    assert res.returncode == 0 and res.stdout.startswith("pong")


# SYNCFOLEY_FUZZ_EXAMPLES=10000 for the long run (test_osc_fuzz.py reads it too).
_settings = settings(max_examples=int(os.environ.get("SYNCFOLEY_FUZZ_EXAMPLES", "120")), deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])

osc_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
osc_args = st.lists(st.one_of(st.integers(-2**31, 2**31 - 1), st.floats(width=32, allow_nan=False),
                              osc_text, st.binary(min_size=1, max_size=20)), max_size=4)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                                         max_size=4), max_leaves=8)


def _osc_message(address: str, args: list[Any]) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


@_settings
@given(junk=st.binary(max_size=300))
def test_fuzz_junk_datagrams(daemon: Daemon, client: Client, junk: bytes) -> None:
    client.raw(junk)
    client.raw(P.build("/syncfoley/ping"))
    replies = []
    while True:
        m = client.recv(5.0)
        replies.append(m.address)
        if m.address == "/syncfoley/pong":
            break
    assert daemon.alive()


@_settings
@given(name=st.sampled_from(list(P.ADDRESSES) + ["/syncfoley/", "/x"]), args=osc_args)
def test_fuzz_osc_arguments(daemon: Daemon, client: Client, name: str, args: list[Any]) -> None:
    if name in ("/syncfoley/shutdown",):
        return
    client.raw(_osc_message(name, args))
    client.raw(P.build("/syncfoley/ping"))
    while client.recv(5.0).address != "/syncfoley/pong":
        pass
    assert daemon.alive()


@_settings
@given(name=st.sampled_from(["detect", "generate", "run", "status", "cancel", "ping"]),
       body=st.dictionaries(st.sampled_from(["video", "onsets", "start", "end", "preset", "output", "reply_port",
                                             "reply_host", "job_id", "steps", "seed", "channels", "engine", "x"]),
                            json_values, max_size=5))
def test_fuzz_json_payloads(daemon: Daemon, client: Client, name: str, body: dict[str, Any]) -> None:
    body.pop("reply_host", None)  # replies must come back here
    body.pop("reply_port", None)
    client.send(P.PREFIX + name, json.dumps(body))
    client.raw(P.build("/syncfoley/ping"))
    while client.recv(5.0).address != "/syncfoley/pong":
        pass
    assert daemon.alive()
    # a stray payload cannot make the daemon write outside its workdir
    assert not Path("/output").exists()


def test_struct_is_enough_to_speak_to_it(daemon: Daemon, client: Client) -> None:
    # What the Resolve script will do (standard library only): hand-encoded OSC.
    def pad(b: bytes) -> bytes:
        return b + b"\x00" * (4 - len(b) % 4)

    msg = pad(b"/syncfoley/status") + pad(b",s") + pad(json.dumps({}).encode())
    client.raw(msg)
    reply = client.recv()
    assert reply.address == "/syncfoley/status"
    assert struct.calcsize(">i") == 4


def test_send_reads_its_request_from_a_file_and_writes_result_log_and_status(daemon: Daemon, tmp_path: Path) -> None:
    """What the REAPER actions start through ExecProcess: no shell carries the JSON or the redirections."""
    folder = tmp_path / "a & b %PATH% ^(x)"
    folder.mkdir()
    request = folder / "request.json"
    request.write_text(json.dumps({"video": str(EXAMPLE), "start": 0.0, "end": 2.0}))
    out = {k: folder / f"{k}.txt" for k in ("result", "log", "status")}
    res = run_cli("send", "detect", f"@{request}", "--port", str(daemon.port), "--wait", "--result", str(out["result"]),
                  "--log", str(out["log"]), "--exit-status", str(out["status"]))
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res.stderr
    assert out["status"].read_text() == "0\n"
    assert Path(json.loads(out["result"].read_text())["onsets_json"]).is_file()
    log = out["log"].read_text().splitlines()
    assert log[0].startswith("sending detect") and any(x.startswith("accepted ") for x in log)
    assert not [p for p in folder.iterdir() if "partial" in p.name]

    # A daemon error: exit status 2 in the file, the daemon's words last in the log, no result.
    bad = folder / "bad.json"
    bad.write_text(json.dumps({"video": "/nowhere.mp4"}))
    for f in out.values():
        f.unlink()
    res = run_cli("send", "detect", f"@{bad}", "--port", str(daemon.port), "--wait", "--result", str(out["result"]),
                  "--log", str(out["log"]), "--exit-status", str(out["status"]))
    assert res.returncode == 2 and out["status"].read_text() == "2\n" and not out["result"].exists()
    assert out["log"].read_text().splitlines()[-1].startswith("syncfoley: error [media]: no such file")

    # Refusals are written the same way: a result file that exists, a request file that does not.
    out["result"].write_text("keep me")
    res = run_cli("send", "ping", "--port", str(daemon.port), "--result", str(out["result"]),
                  "--exit-status", str(out["status"]))
    assert res.returncode == 2 and "already exists" in res.stderr and out["result"].read_text() == "keep me"
    assert out["status"].read_text() == "2\n"
    res = run_cli("send", "detect", f"@{folder / 'missing.json'}", "--port", str(daemon.port),
                  "--exit-status", str(out["status"]))
    assert res.returncode == 2 and "cannot read the request file" in res.stderr and "missing.json" in res.stderr
    big = folder / "big.json"
    big.write_bytes(b" " * (2 << 20))
    res = run_cli("send", "detect", f"@{big}", "--port", str(daemon.port))
    assert res.returncode == 2 and "is over" in res.stderr
