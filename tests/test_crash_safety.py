"""Crashes and full disks: a daemon killed (SIGKILL) at each point of writing a job's outputs,
a worker killed mid-job, a disk that fills up. Each ends with every job done and the same
bytes as an uninterrupted run, or with a clear error and nothing half-written.

The kill points come from ``SYNCFOLEY_FAULT`` (:func:`syncfoley.core.atomic._fault`):
the process kills itself (and the daemon above it) exactly there, so every point is
reached on every machine, not by timing luck."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE
from daemon_helpers import Client, Daemon, onsets_file, slow_request, wait_state

from syncfoley.bridge.daemon import protocol as P

RUN_OUTPUTS = ("hits.onsets.json", "hits.onsets.mid", "hits.foley.wav", "hits.otio")


def masked(p: Path) -> str:
    """A file's digest; in a BWF, the bext origination date and time (the wall clock at
    writing) are left out, everything else (the audio, the time reference) is in. An AAF
    is compared by what OTIO's AAF reader finds in it (its writer gives the composition a
    random MobID and stamps the file with the time, so no two writes share bytes)."""
    if p.suffix == ".aaf":
        import opentimelineio as otio

        tl = otio.adapters.read_from_file(str(p))
        summary = [str(tl.global_start_time)] + [f"{c.name} {c.range_in_parent()} {c.media_reference.target_url}"
                                                 for c in tl.find_clips()]
        return hashlib.sha256("\n".join(summary).encode()).hexdigest()
    data = bytearray(p.read_bytes())
    at = data.find(b"bext")
    if p.suffix == ".wav" and at >= 0:
        body = at + 8
        data[body + 256 + 32 + 32: body + 256 + 32 + 32 + 18] = bytes(18)  # OriginationDate, OriginationTime
    return hashlib.sha256(bytes(data)).hexdigest()


def digests(folder: Path) -> dict[str, str]:
    return {p.name: masked(p) for p in sorted(folder.iterdir()) if p.is_file()}


def partials(*folders: Path) -> list[Path]:
    return [p for f in folders for p in f.rglob("*") if ".partial" in p.name]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """An output root, and the digests of an uninterrupted daemon run into ``run/`` under it
    (removed again: the crashed runs write to the same absolute folder, because the OTIO
    names the WAV by its path)."""
    base = tmp_path_factory.mktemp("reference")
    out = base / "out" / "run"
    d = Daemon(base / "work", "--output-root", str(base / "out"))
    c = Client(d.port)
    try:
        job = c.ask("/syncfoley/run", json.dumps({"video": str(EXAMPLE), "outdir": str(out)})).args[0]
        c.until("done", job)
    finally:
        c.close()
        d.stop()
    got = digests(out)
    assert sorted(got) == sorted(RUN_OUTPUTS)
    shutil.rmtree(out)
    return base / "out", got


# Before the first file is created, in the middle of writing, before the first rename, between
# two renames, before the last one.
@pytest.mark.parametrize("point", ["write:0", "write:2", "rename:0", "rename:1", "rename:3"])
def test_daemon_killed_while_writing_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str,
                                             reference: tuple[Path, dict[str, str]]) -> None:
    out_root, expected = reference
    out = out_root / "run"
    work = tmp_path / "work"
    monkeypatch.setenv("SYNCFOLEY_FAULT", f"{point}:parent")
    d = Daemon(work, "--output-root", str(out_root))
    monkeypatch.delenv("SYNCFOLEY_FAULT")
    c = Client(d.port)
    try:
        job = c.ask("/syncfoley/run", json.dumps({"video": str(EXAMPLE), "outdir": str(out)})).args[0]
        assert d.proc.wait(60) == -signal.SIGKILL, "the fault point was not reached"
        d = Daemon(work, "--output-root", str(out_root))
        c.port = d.port
        st = wait_state(c, job)
        assert st["state"] == "done", st
        assert digests(out) == expected
        assert not partials(out_root, work), "leftovers of the interrupted write"
    finally:
        c.close()
        d.stop()
        shutil.rmtree(out, ignore_errors=True)


def test_a_worker_killed_once_is_run_again(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "work")
    c = Client(d.port)
    try:
        job = c.ask("/syncfoley/generate", json.dumps(slow_request(tmp_path, 2, 8, seed=3))).args[0]
        c.until("progress", job, timeout=60)
        worker = json.loads(c.ask("/syncfoley/status").args[0])["worker_pid"]
        os.kill(worker, signal.SIGKILL)
        done, _ = c.until("done", job, timeout=300)
        st = wait_state(c, job)
        assert st["state"] == "done" and st["attempts"] == 1
        wav = Path(json.loads(done.args[1])["wav"])
        assert wav.is_file() and not partials(tmp_path / "work")
        assert json.loads(c.ask("/syncfoley/status").args[0])["worker_pid"] not in (None, worker)
    finally:
        c.close()
        d.stop()


def test_a_job_that_kills_its_worker_twice_fails_saying_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    onsets = onsets_file(tmp_path / "k.json", [0.2], 0.5)
    monkeypatch.setenv("SYNCFOLEY_FAULT", "write:0")  # the worker dies at its first write, every time
    d = Daemon(tmp_path / "work")
    c = Client(d.port)
    try:
        job = c.ask("/syncfoley/generate", json.dumps({"onsets": str(onsets)})).args[0]
        err, _ = c.until("error", job, timeout=120)
        assert err.args[0] == P.WORKER_DIED and "died twice" in err.args[1]
        assert wait_state(c, job)["attempts"] == 2
        assert d.alive()
        assert c.ask("/syncfoley/ping").address == "/syncfoley/pong"
    finally:
        c.close()
        d.stop()


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    res = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                         capture_output=True)
    return res.returncode == 0


needs_small_disk = pytest.mark.skipif(not _unshare_works(), reason="no user namespaces to mount a small tmpfs in")


@needs_small_disk
def test_cli_run_on_a_full_disk(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    # A 200 KiB disk: the onsets fit, the WAV does not. Then more room, and the same command again.
    script = f"""
mount -t tmpfs -o size=200k tmpfs {disk}
"{sys.executable}" -m syncfoley.bridge.cli run "{EXAMPLE}" -o {disk}/out -q; echo "rc=$?"
echo "left: $(ls -A {disk}/out 2>/dev/null | tr '\\n' ' ')"
mount -o remount,size=20m tmpfs {disk}
"{sys.executable}" -m syncfoley.bridge.cli run "{EXAMPLE}" -o {disk}/out -q; echo "rc=$?"
echo "left: $(ls -A {disk}/out | tr '\\n' ' ')"
"""
    res = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    lines = res.stdout.splitlines()
    assert "rc=2" in lines, res.stdout + res.stderr
    assert "syncfoley: error [disk_full]: the disk is full:" in res.stderr and "Traceback" not in res.stderr
    first_left = lines[lines.index("rc=2") + 1]
    assert first_left.strip() == "left:", f"a failed run left files: {first_left}"
    assert "rc=0" in lines, res.stdout + res.stderr
    assert sorted(lines[lines.index("rc=0") + 1].split()[1:]) == sorted(RUN_OUTPUTS)


@needs_small_disk
def test_daemon_on_a_full_disk(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = f'"{sys.executable}" -m syncfoley.bridge.cli'
    request = json.dumps({"video": str(EXAMPLE), "outdir": f"{disk}/out"})
    script = f"""
mount -t tmpfs -o size=200k tmpfs {disk}
{cli} serve --port {port} --workdir {tmp_path}/work --output-root {disk} -q 2>/dev/null &
sleep 0.5; until {cli} send ping --port {port} >/dev/null 2>&1; do sleep 0.2; done
{cli} send run '{request}' --port {port} --wait; echo "rc=$?"
echo "left: $(ls -A {disk}/out 2>/dev/null | tr '\\n' ' ')"
mount -o remount,size=20m tmpfs {disk}
{cli} send run '{request}' --port {port} --wait >/dev/null; echo "rc=$?"
echo "left: $(ls -A {disk}/out | tr '\\n' ' ')"
{cli} send shutdown --port {port} >/dev/null
wait
"""
    res = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    lines = res.stdout.splitlines()
    assert "rc=2" in lines, res.stdout + res.stderr
    assert "error [disk_full]: the disk is full:" in res.stderr, res.stderr
    assert lines[lines.index("rc=2") + 1].strip() == "left:"
    assert "rc=0" in lines, res.stdout + res.stderr
    assert sorted(lines[lines.index("rc=0") + 1].split()[1:]) == sorted(RUN_OUTPUTS)


def _conform_digests(folder: Path) -> dict[str, str]:
    """Digests (:func:`masked`) of a conform's outputs, but for the report: it says how each
    event was obtained (computed, or reused from the cache an interrupted run filled) and
    how long that took."""
    return {str(p.relative_to(folder)): masked(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "report.html"}


@pytest.mark.parametrize("point", ["write:3", "rename:4"])
def test_daemon_killed_while_a_conform_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    import stand_ins

    from syncfoley.adapters import timeline

    src = Path(__file__).resolve().parent / "data" / "edl" / "25fps.edl"
    stand_ins.make(timeline.read(src), tmp_path / "media")
    out_root = tmp_path / "out"
    request = {"timeline": str(src), "media_root": [str(tmp_path / "media")], "outdir": str(out_root / "c")}

    def conform(work: Path, fault: str = "") -> tuple[Daemon, Client, str]:
        if fault:
            monkeypatch.setenv("SYNCFOLEY_FAULT", fault)
        d = Daemon(work, "--output-root", str(out_root))
        monkeypatch.delenv("SYNCFOLEY_FAULT", raising=False)
        c = Client(d.port)
        return d, c, str(c.ask("/syncfoley/conform", json.dumps(request)).args[0])

    d, c, job = conform(tmp_path / "ref")
    try:
        c.until("done", job, timeout=300)
    finally:
        c.close()
        d.stop()
    expected = _conform_digests(out_root / "c")
    assert len(expected) >= 8
    shutil.rmtree(out_root / "c")

    d, c, job = conform(tmp_path / "work", f"{point}:parent")
    try:
        assert d.proc.wait(300) == -signal.SIGKILL, "the fault point was not reached"
        d = Daemon(tmp_path / "work", "--output-root", str(out_root))
        c.port = d.port
        assert wait_state(c, job, timeout=300)["state"] == "done"
        assert _conform_digests(out_root / "c") == expected
        assert not partials(out_root, tmp_path / "work")
    finally:
        c.close()
        d.stop()
