"""``conform --executor ray``: the events on a Ray cluster give what one process gives.

One local Ray for the module (``ray.init(num_cpus=2)``, as a laptop user gets); the conform
finds it initialised and uses it. The two-node test starts a real second cluster with the
``ray`` command line (a head and a worker node on this machine) and conforms through the CLI.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from conftest import run_cli
from daemon_helpers import tiny_diffusion_files

from syncfoley.adapters import wav
from syncfoley.bridge import api
from syncfoley.bridge import demo as demo_cut
from syncfoley.bridge.conform import cluster
from syncfoley.bridge.conform.options import ConformOptions
from syncfoley.core.errors import Cancelled, DependencyError, FieldError

ray = pytest.importorskip("ray")  # the test extra installs it; a bare checkout says so here

LSB24 = 1.0 / 2 ** 23
PROG = "syncfoley"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             namespace=cluster.NAMESPACE)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("raycut")
    c = demo_cut.make(root / "media", rate="25", events=5, sources=2, source_seconds=10.0, size=(160, 90), seed=4)
    return c.write_edl(root / "cut.edl"), root / "media"


@pytest.fixture(scope="module")
def tiny_diffusion(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The diffusion engine's fields for a tiny random model: slow enough on a CPU (seconds an
    event) to act on while an event runs."""
    ckpt, emb = tiny_diffusion_files(tmp_path_factory.mktemp("tiny"))
    return {"engine": "diffusion", "diffusion_checkpoint": str(ckpt), "embedding": str(emb), "device": "cpu"}


def _conform(cut: tuple[Path, Path], out: Path, **fields: Any) -> api.ConformResult:
    edl, media = cut
    return api.conform(edl, out, [media], ConformOptions.from_dict(fields), cache=out.with_name(out.name + ".cache"))


def _audio(out: Path) -> dict[str, np.ndarray]:
    return {p.relative_to(out).as_posix(): wav.read(p)[0]
            for p in [out / "foley_stem.wav", *sorted((out / "clips").glob("*.wav"))]}


def _same_audio(a: Path, b: Path, tolerance: float) -> float:
    x, y = _audio(a), _audio(b)
    assert sorted(x) == sorted(y) and len(x) == 6
    worst = 0.0
    for name in x:
        assert x[name].shape == y[name].shape, name
        worst = max(worst, float(np.abs(x[name] - y[name]).max()))
    assert worst <= tolerance, f"largest difference {worst / LSB24:.1f} LSB of 24-bit"
    return worst


def _onsets(out: Path) -> dict[str, Any]:
    return {p.name: json.loads(p.read_text())["onsets"] for p in sorted((out / "onsets").glob("*.json"))}


def test_ray_writes_what_one_process_writes(local_ray: Any, cut: Any, tmp_path: Path) -> None:
    # Both into one folder, in turn: the timelines name their files by absolute path.
    serial = _conform(cut, tmp_path / "out", executor="serial")
    (tmp_path / "out").rename(tmp_path / "serial")
    seen: list[str] = []
    edl, media = cut
    on_ray = api.conform(edl, tmp_path / "out", [media], ConformOptions(executor="ray"), cache=tmp_path / "rc",
                         progress=lambda f, text: seen.append(text))
    (tmp_path / "out").rename(tmp_path / "ray")
    assert (on_ray.events, on_ray.computed, on_ray.skipped) == (serial.events, serial.computed, 0) == (5, 5, 0)
    assert sorted(t.split(":")[0] for t in seen if t.startswith("event ")) == [f"event {n}" for n in range(1, 6)]
    _same_audio(tmp_path / "serial", tmp_path / "ray", LSB24)
    assert _onsets(tmp_path / "serial") == _onsets(tmp_path / "ray")
    for name in ("foley.otio", "foley.edl"):  # (the AAF carries the time it was written)
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes(), name
    # Where each event was computed is kept with its onsets (not in the timelines).
    for p in (tmp_path / "ray" / "onsets").glob("*.json"):
        assert "Ray node" in json.loads(p.read_text())["conform"]["computed_on"]


def _execute(cut: Any, options: ConformOptions, executor: Any, cache: Path, out: Path) -> list[str]:
    """Plan, run with ``executor``, write into ``out``; the problems."""
    from syncfoley.bridge.conform.cache import ConformCache
    from syncfoley.bridge.conform.outputs import write
    from syncfoley.bridge.conform.plan import plan
    from syncfoley.bridge.conform.render import execute

    edl, media = cut
    p = plan(edl, [media], options, ConformCache(cache))
    results = execute(p, ConformCache(cache), executor=executor)
    write(p, results, out)
    return [str(q) for q in p.problems]


def test_diffusion_events_share_the_networks_batches(local_ray: Any, cut: Any, tiny_diffusion: Any,
                                                     tmp_path: Path) -> None:
    fields = {**tiny_diffusion, "steps": 3, "batch": 4}
    _conform(cut, tmp_path / "serial", executor="serial", **fields)
    # On GPU workers events are batched; CI has CPU workers, told to batch as GPU ones do.
    options = ConformOptions.from_dict({**fields, "executor": "ray"})
    assert _execute(cut, options, cluster.ray_executor(batch_on_cpu=True), tmp_path / "rc", tmp_path / "ray") == []
    report = (tmp_path / "ray" / "report.html").read_text()
    assert report.count("diffusion (batched with 3 other events)") == 4  # 5 events: a batch of 4, one alone
    assert "batched" not in (tmp_path / "serial" / "report.html").read_text()
    # A batch of four windows rounds differently from four batches of one: a few LSB, not more.
    _same_audio(tmp_path / "serial", tmp_path / "ray", 8 * LSB24)
    assert _onsets(tmp_path / "serial") == _onsets(tmp_path / "ray")


def test_workers_one_per_gpu_for_models_else_one_per_cpu(cut: Any, tmp_path: Path) -> None:
    from syncfoley.bridge.conform.cache import ConformCache
    from syncfoley.bridge.conform.plan import plan

    edl, media = cut

    def jobs(**fields: Any) -> list[Any]:
        options = ConformOptions.from_dict(fields)
        return [ep.job for ep in plan(edl, [media], options, ConformCache(tmp_path / "c")).to_compute]

    ckpt = tmp_path / "d.ckpt"
    ckpt.write_bytes(b"x")  # planning checks the name, not the weights
    diffusion = {"engine": "diffusion", "diffusion_checkpoint": str(ckpt), "batch": 2}
    gpu_box = {"CPU": 32.0, "GPU": 4.0}
    shape = cluster.worker_shape(jobs(**diffusion), gpu_box)
    assert (shape.count, shape.gpus, shape.events_per_call) == (3, 1, 2)  # 5 events in batches of 2
    assert "one per GPU (4), holding the diffusion model" in shape.why
    shape = cluster.worker_shape(jobs(**diffusion, device="cpu"), gpu_box)
    assert (shape.count, shape.gpus, shape.events_per_call) == (5, 0, 1)
    shape = cluster.worker_shape(jobs(), gpu_box)  # the built-in engine: CPU work
    assert (shape.count, shape.gpus, shape.events_per_call) == (5, 0, 1)
    with pytest.raises(cluster.ClusterError, match="--device cuda, but the Ray cluster has no GPU"):
        cluster.worker_shape(jobs(**diffusion, device="cuda"), {"CPU": 8.0})
    with pytest.raises(cluster.ClusterError, match="no CPU"):
        cluster.worker_shape(jobs(), {"GPU": 1.0})


def test_a_killed_worker_has_its_event_retried_with_identical_outputs(local_ray: Any, cut: Any,
                                                                      tiny_diffusion: Any, tmp_path: Path) -> None:
    fields = {**tiny_diffusion, "steps": 8, "batch": 1}
    _conform(cut, tmp_path / "undisturbed", executor="ray", **fields)
    runs: list[cluster.RayRun] = []
    killed: list[str] = []

    def killer() -> None:
        end = time.monotonic() + 120
        while time.monotonic() < end:
            busy = [w for r in runs for w in r.workers if w.busy is not None and w.info]
            if busy:
                time.sleep(0.5)  # well into the event
                killed.append(busy[0].name)
                ray.kill(busy[0].handle)
                return
            time.sleep(0.05)

    notes: list[str] = []
    options = ConformOptions.from_dict({"executor": "ray", **fields})
    thread = threading.Thread(target=killer)
    thread.start()
    problems = _execute(cut, options, cluster.ray_executor(None, notify=notes.append, on_start=runs.append),
                        tmp_path / "kc", tmp_path / "killed")
    thread.join()
    assert killed, "no worker was seen busy"
    assert any(re.search(r"the event showing SRC_\w\.mov from [\d.]+ s: the worker on .* died under it; retried "
                         r"\(attempt 2 of 3\)", n) for n in notes), notes
    assert problems == []
    _same_audio(tmp_path / "undisturbed", tmp_path / "killed", 0.0)
    assert _onsets(tmp_path / "undisturbed") == _onsets(tmp_path / "killed")
    assert runs[0].started == 3  # two workers, and one started in the killed one's place


def test_a_result_is_accepted_only_for_the_key_it_was_sent_with(local_ray: Any, cut: Any, tmp_path: Path) -> None:
    from syncfoley.bridge.conform.cache import ConformCache
    from syncfoley.bridge.conform.plan import plan

    edl, media = cut
    jobs = [ep.job for ep in plan(edl, [media], ConformOptions(), ConformCache(tmp_path / "c")).to_compute]
    shape = cluster.WorkerShape(1, 0, 2, "test")
    work = cluster.RayRun(ray, shape, None, lambda text: None)
    got: list[int] = []

    from collections import deque

    w = cluster._Worker(None, "x", None, {"host": "h", "node": "n"})
    ref = ray.put(  # a worker that answers with its two events' results swapped
[(jobs[1].key, "b"), (jobs[0].key, "a")])
    with pytest.raises(cluster.ClusterError, match="results for other events"):
        work._collect(ref, (w, [0, 1]), jobs, deque(), [0] * len(jobs), set(), lambda i, job, r: got.append(i))
    assert got == []
    # The right keys: taken, once; a late second answer for a finished event is dropped.
    finished: set[int] = set()
    ref = ray.put([(jobs[0].key, "a"), (jobs[1].key, "b")])
    work._collect(ref, (w, [0, 1]), jobs, deque(), [0] * len(jobs), finished, lambda i, job, r: got.append(i))
    work._collect(ref, (w, [0, 1]), jobs, deque(), [0] * len(jobs), finished, lambda i, job, r: got.append(i))
    assert got == [0, 1]


def test_cancel_stops_the_cluster_work(local_ray: Any, cut: Any, tiny_diffusion: Any, tmp_path: Path) -> None:
    from syncfoley.bridge.conform.cache import ConformCache
    from syncfoley.bridge.conform.plan import plan

    edl, media = cut
    options = ConformOptions.from_dict({"executor": "ray", **tiny_diffusion, "steps": 8, "batch": 1})
    jobs = [ep.job for ep in plan(edl, [media], options, ConformCache(tmp_path / "c")).to_compute]
    runs: list[cluster.RayRun] = []
    got: list[int] = []
    pids: list[int] = []

    def cancel() -> bool:
        pids.extend(w.info["pid"] for r in runs for w in r.workers if w.info and w.info["pid"] not in pids)
        return bool(got)

    started = time.monotonic()
    with pytest.raises(Cancelled):
        cluster.ray_executor(None, cancel, on_start=runs.append)(jobs, lambda i, job, r: got.append(i))
    assert 1 <= len(got) < len(jobs) and time.monotonic() - started < 60
    assert 1 <= len(pids) <= 2 and runs[0].workers == []
    # The workers' processes are gone: killed, not left to finish their events.
    end = time.monotonic() + 20
    while time.monotonic() < end and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_every_node_must_see_the_files(local_ray: Any, tmp_path: Path) -> None:
    there = tmp_path / "there.mov"
    there.write_bytes(b"x")
    nodes = cluster.check_nodes(ray, [str(there)], 0)
    assert len(nodes) == 1
    with pytest.raises(cluster.ClusterError, match=r"cannot see .*gone\.mov and 1 more: every machine"):
        cluster.check_nodes(ray, [str(there), str(tmp_path / "gone.mov"), str(tmp_path / "gone2.wav")], 0)


def test_the_options_say_what_fits(tmp_path: Path) -> None:
    assert ConformOptions().resolved_executor() == "serial"
    assert ConformOptions(jobs=3).resolved_executor() == "pool"
    assert ConformOptions(executor="ray", ray_address="10.0.0.5:6379").ray_address == "10.0.0.5:6379"
    for bad, match in (({"executor": "ray", "jobs": 4}, "jobs sizes the process pool"),
                       ({"executor": "serial", "jobs": 2}, "jobs sizes the process pool"),
                       ({"ray_address": "10.0.0.5:6379"}, "ray_address is for --executor ray"),
                       ({"executor": "ray", "ray_address": "10.0.0.5"}, "HOST:PORT"),
                       ({"executor": "ray", "ray_address": "a b:1"}, "HOST:PORT"),
                       ({"executor": "dask"}, "'serial', 'pool' or 'ray'")):
        with pytest.raises(FieldError, match=match):
            ConformOptions.from_dict(bad)


def test_without_ray_the_install_hint(cut: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(DependencyError, match=r"pip install 'syncfoley\[ray\]'"):
        _conform(cut, tmp_path / "out", executor="ray")
    assert not (tmp_path / "out").exists()
    edl, media = cut
    code = ("import sys; sys.modules['ray'] = None; from syncfoley.bridge.cli import main; "
            f"sys.exit(main(['conform', {str(edl)!r}, '--media-root', {str(media)!r}, '-o', "
            f"{str(tmp_path / 'cli')!r}, '--executor', 'ray']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "pip install 'syncfoley[ray]'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "cli").exists()


def test_an_address_that_answers_nothing_is_a_clear_error_within_seconds(cut: Any, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    edl, media = cut
    for address in (f"127.0.0.1:{closed}", "10.255.255.1:6379"):
        started = time.monotonic()
        proc = run_cli("conform", str(edl), "--media-root", str(media), "-o", str(tmp_path / "out"),
                       "--executor", "ray", "--ray-address", address, "--cache", str(tmp_path / "c"))
        took = time.monotonic() - started
        # Nothing at all answers, or (where a network proxy takes every connection, as on the CI
        # machines) something that is not a Ray head: either way one clear line.
        assert proc.returncode != 0, proc.stderr
        assert re.fullmatch(rf"{PROG}: error \[cluster\]: (no Ray cluster answers at|something answers at) "
                            rf"{re.escape(address)}[^\n]*ray start --head[^\n]*\n", proc.stderr), proc.stderr
        assert took < 20, took  # the CLI's start-up and the 5 s connect limit, not Ray's minute of retries
        assert not (tmp_path / "out").exists()


def test_the_daemon_uses_only_its_own_cluster(tmp_path: Path) -> None:
    from syncfoley.bridge.daemon.server import Daemon, ServeConfig

    d = Daemon(ServeConfig(port=0, workdir=tmp_path / "wd", ray_address="10.0.0.5:6379", verbose=False))
    try:
        edl = tmp_path / "cut.edl"
        edl.write_text("TITLE: x\n")
        base = {"timeline": str(edl)}
        given = d._validate("conform", {**base, "executor": "ray"})
        assert given["ray_address"] == "10.0.0.5:6379"
        with pytest.raises(FieldError, match="only to the Ray cluster it was started with"):
            d._validate("conform", {**base, "executor": "ray", "ray_address": "203.0.113.9:6379"})
        with pytest.raises(FieldError, match="at most this machine's"):
            d._validate("conform", {**base, "jobs": (os.cpu_count() or 1) + 1})
    finally:
        d.sock.close()
        d.store.close()


@pytest.fixture
def two_nodes() -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray cluster of two nodes on this machine, one CPU each, started as a user starts one."""
    exe = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    assert exe, "the ray command is installed with the ray package"
    # Ray's socket paths must stay short: not under pytest's long tmp_path.
    temp = tempfile.mkdtemp(prefix="sfray", dir="/tmp")
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen([exe, "start", "--head", "--block", f"--port={port}", "--num-cpus=1",
                               "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    address = f"127.0.0.1:{port}"
    try:
        _wait_for_port(port, 60)
        procs.append(subprocess.Popen([exe, "start", "--block", f"--address={address}", "--num-cpus=1"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
        yield address, env
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        shutil.rmtree(temp, ignore_errors=True)


def _wait_for_port(port: int, timeout: float) -> None:
    import socket

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the Ray head did not listen on {port}")


def test_events_run_on_both_nodes_of_a_cluster(two_nodes: Any, cut: Any, tmp_path: Path) -> None:
    address, env = two_nodes
    edl, media = cut
    cmd = [sys.executable, "-m", "syncfoley.bridge.cli", "conform", str(edl), "--media-root", str(media),
           "-o", str(tmp_path / "out"), "--cache", str(tmp_path / "c"), "--executor", "ray", "--ray-address", address]
    # The second node joins in its own time: wait until the head lists two nodes.
    check = [sys.executable, "-c", f"import ray; ray.init(address={address!r}, log_to_driver=False); "
             "print(sum(1 for n in ray.nodes() if n['Alive']))"]
    end = time.monotonic() + 60
    while time.monotonic() < end:
        alive = subprocess.run(check, env=env, capture_output=True, text=True, timeout=60).stdout.strip()
        if alive.endswith("2"):
            break
        time.sleep(1)
    else:
        pytest.fail(f"the second Ray node did not join (alive: {alive!r})")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "5 events: 5 computed" in proc.stdout
    nodes = {json.loads(p.read_text())["conform"]["computed_on"]
             for p in (tmp_path / "out" / "onsets").glob("*.json")}
    assert len(nodes) == 2 and all("Ray node" in n for n in nodes), nodes


def test_a_laptop_user_gets_a_ray_of_their_own(cut: Any, tmp_path: Path) -> None:
    """No address: the CLI starts a Ray for the conform, quietly, and stops it after."""
    edl, media = cut
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.run([sys.executable, "-m", "syncfoley.bridge.cli", "conform", str(edl), "--media-root",
                           str(media), "-o", str(tmp_path / "out"), "--cache", str(tmp_path / "c"), "--executor", "ray",
                           "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "5 events: 5 computed" in proc.stdout
    # No Ray start-up chatter, no token notice (a warning about a small /dev/shm may stand).
    assert "INFO" not in proc.stderr and "Token authentication" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
