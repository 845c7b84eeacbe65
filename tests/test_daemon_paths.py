"""The daemon's path policy under attack, checked with the file system: a file outside the
roots keeps its access time (nothing read it), an outside folder stays empty (nothing
written), the daemon's state files keep their bytes."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from conftest import EXAMPLE
from daemon_helpers import Client, Daemon, onsets_file, slow_request, wait_state

from syncfoley.bridge.daemon import protocol as P


def untouched(path: Path) -> Callable[[], bool]:
    """A check that nothing has read ``path`` since now. The access time is set back
    before the modification time, so that a read updates it even on relatime mounts."""
    st = path.stat()
    os.utime(path, (st.st_mtime - 1000, st.st_mtime))
    before = path.stat().st_atime
    return lambda: path.stat().st_atime == before


@pytest.fixture(autouse=True)
def _atime_is_kept(tmp_path: Path) -> None:
    probe = tmp_path / "atime-probe"
    probe.write_bytes(b"x" * 64)
    check = untouched(probe)
    probe.read_bytes()
    if check():
        pytest.skip("this file system does not record reads (noatime); the checks below would prove nothing")


def wav(path: Path, seconds: float = 0.2) -> Path:
    import soundfile as sf

    t = np.arange(int(48000 * seconds)) / 48000
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t) * np.exp(-t * 20)).astype(np.float32), 48000)
    return path


def test_preset_is_a_name_never_a_path(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    onsets = onsets_file(media / "o.json", [0.2], 0.5)
    secret = tmp_path / "elsewhere" / "x.yaml"
    secret.parent.mkdir()
    secret.write_text("password: hunter2\n[broken")
    read = untouched(secret)
    d = Daemon(tmp_path / "work", "--media-root", str(media))
    c = Client(d.port)
    try:
        for given in (str(secret), "../elsewhere/x.yaml", "x.yaml", "elsewhere/x"):
            err = c.ask("/syncfoley/generate", json.dumps({"onsets": str(onsets), "preset": given}))
            assert err.address == "/syncfoley/error" and err.args[0] == P.BAD_REQUEST, err.args
            assert "preset name, not a path" in err.args[1] and "hunter2" not in err.args[1]
        err = c.ask("/syncfoley/generate", json.dumps({"onsets": str(onsets), "preset": "no-such"}))
        assert err.args[0] == P.BAD_REQUEST and "available presets" in err.args[1]
        assert read(), "the preset path was read"
        job = c.ask("/syncfoley/generate", json.dumps({"onsets": str(onsets), "preset": "wood"})).args[0]
        c.until("done", job)
    finally:
        c.close()
        d.stop()


def test_one_shots_that_are_symlinks_out_of_the_roots(tmp_path: Path) -> None:
    media, outside = tmp_path / "media", tmp_path / "outside"
    (media / "samples").mkdir(parents=True)
    outside.mkdir()
    wav(media / "samples" / "a.wav")
    secret = wav(outside / "secret.wav")
    (media / "samples" / "b.wav").symlink_to(secret)
    read = untouched(secret)
    onsets = onsets_file(media / "o.json", [0.2, 0.4], 0.6)
    d = Daemon(tmp_path / "work", "--media-root", str(media))
    c = Client(d.port)
    try:
        job = c.ask("/syncfoley/generate", json.dumps({"onsets": str(onsets), "samples": str(media / "samples")}))
        err, _ = c.until("error", job.args[0])
        assert err.args[0] == P.OUTSIDE_ROOTS and "secret.wav" in err.args[1]
        assert read(), "a one-shot outside the roots was read"
        assert not list((tmp_path / "work" / "jobs").rglob("*.wav")), "an output was written"
    finally:
        c.close()
        d.stop()


def test_an_edl_rate_probe_opens_no_media_outside_the_roots(tmp_path: Path) -> None:
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    shot = outside / "shot.mp4"
    shutil.copy(EXAMPLE, shot)
    read = untouched(shot)
    # No FCM line: the list's rate would be taken from its media.
    (inside / "cut.edl").write_text(
        "TITLE: probe\n\n001  SHOT     V     C        00:00:00:05 00:00:01:05 01:00:00:00 01:00:01:00\n"
        f"* SOURCE FILE: {shot}\n")
    d = Daemon(tmp_path / "work", "--media-root", str(inside))
    c = Client(d.port)
    try:
        job = c.ask("/syncfoley/conform", json.dumps({"timeline": str(inside / "cut.edl"), "dry_run": True}))
        done, _ = c.until("done", job.args[0])
        plan = json.loads(done.args[1])
        assert plan["compute"] == 0 and "skip" in plan["plan"][0] and "outside the media roots" in plan["plan"][0]
        assert read(), "media outside the roots was opened"
    finally:
        c.close()
        d.stop()


def _busy(c: Client, media: Path) -> str:
    """A job that keeps the worker busy for tens of seconds; its id."""
    job = c.ask("/syncfoley/generate", json.dumps(slow_request(media, 10, 50))).args[0]
    c.until("progress", job, timeout=60)
    return str(job)


def test_a_symlink_swapped_in_while_the_job_waits(tmp_path: Path) -> None:
    media, out_root, outside = tmp_path / "media", tmp_path / "out", tmp_path / "outside"
    for p in (media / "d", media / "keep", out_root / "renders", outside / "media", outside / "renders"):
        p.mkdir(parents=True)
    shutil.copy(EXAMPLE, media / "d" / "clip.mp4")
    shutil.copy(EXAMPLE, media / "keep" / "clip.mp4")
    shutil.copy(EXAMPLE, outside / "media" / "clip.mp4")
    read = untouched(outside / "media" / "clip.mp4")
    d = Daemon(tmp_path / "work", "--media-root", str(media), "--output-root", str(out_root))
    c = Client(d.port)
    try:
        busy = _busy(c, media)
        reader = c.ask("/syncfoley/detect", json.dumps({"video": str(media / "d" / "clip.mp4")})).args[0]
        writer = c.ask("/syncfoley/detect", json.dumps({"video": str(media / "keep" / "clip.mp4"),
                                                        "outdir": str(out_root / "renders")})).args[0]
        assert reader.startswith("j") and writer.startswith("j")
        # While both wait: the media folder and the output folder become links to the outside.
        (media / "d").rename(media / "d.old")
        (media / "d").symlink_to(outside / "media")
        (out_root / "renders").rename(out_root / "renders.old")
        (out_root / "renders").symlink_to(outside / "renders")
        c.send("/syncfoley/cancel", busy)
        for job in (reader, writer):
            err, _ = c.until("error", job, timeout=120)
            assert err.args[0] == P.OUTSIDE_ROOTS, err.args
        assert read(), "the swapped-in media outside the roots was read"
        assert not list((outside / "renders").iterdir()), "an output was written outside the roots"
    finally:
        c.close()
        d.stop()


def test_jobs_queued_again_at_start_up_meet_the_new_roots(tmp_path: Path) -> None:
    media, other = tmp_path / "media", tmp_path / "other"
    media.mkdir()
    other.mkdir()
    shutil.copy(EXAMPLE, media / "clip.mp4")
    read = untouched(media / "clip.mp4")
    work = tmp_path / "work"
    d = Daemon(work, "--media-root", str(media))
    c = Client(d.port)
    try:
        busy = _busy(c, media)
        waiting = c.ask("/syncfoley/detect", json.dumps({"video": str(media / "clip.mp4")})).args[0]
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait(10)
        d = Daemon(work, "--media-root", str(other))  # the operator narrowed the roots
        c.port = d.port
        for job in (busy, waiting):
            st = wait_state(c, job, timeout=30)
            assert st["state"] == "error" and st["error_code"] == P.OUTSIDE_ROOTS, st
        assert read(), "a re-queued job read media outside the daemon's new roots"
    finally:
        c.close()
        d.stop()


def test_the_daemons_state_is_never_an_output(tmp_path: Path) -> None:
    work = tmp_path / "work"
    media = tmp_path / "media"
    media.mkdir()
    onsets = onsets_file(media / "o.json", [0.2], 0.5)
    # An output root that holds the workdir must not open the workdir's state to requests.
    d = Daemon(work, "--media-root", str(media), "--output-root", str(tmp_path))
    c = Client(d.port)
    try:
        c.ask("/syncfoley/ping")
        state = {p: p.read_bytes() for p in (work / "jobs.sqlite", work / "daemon.lock")}
        for field, target in [("output", work / "jobs.sqlite"), ("output", work / "daemon.lock"),
                              ("output", work / "syncfoley.log"), ("output", work / "x.wav")]:
            err = c.ask("/syncfoley/generate", json.dumps({"onsets": str(onsets), field: str(target),
                                                           "overwrite": True}))
            assert err.args[0] == P.OUTSIDE_ROOTS and "daemon's own state" in err.args[1], err.args
        for target in (work, work / "sub"):
            err = c.ask("/syncfoley/detect", json.dumps({"video": str(media / "o.json"), "outdir": str(target)}))
            assert err.args[0] == P.OUTSIDE_ROOTS, err.args
        assert {p: p.read_bytes() for p in state} == state
        assert not (work / "x.wav").exists() and not (work / "sub").exists()
        job = c.ask("/syncfoley/generate", json.dumps({"onsets": str(onsets),
                                                       "output": str(tmp_path / "fine.wav")})).args[0]
        c.until("done", job)
        assert (tmp_path / "fine.wav").is_file()
    finally:
        c.close()
        d.stop()
