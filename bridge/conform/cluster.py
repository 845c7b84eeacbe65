"""Conform's events on a Ray cluster (``--executor ray``): many machines, models kept loaded.

The driver (this process) keeps what it owns with the other executors: the plan, the cache,
progress per event and the outputs. The cluster only computes: long-lived actors
(:class:`EventWorker`), one per GPU when the work runs a model on a GPU (``num_gpus=1``),
else one per CPU, are fed event jobs and return each event's render, tagged with its job
key. An actor keeps the models it loaded (the onset network, the diffusion model) between
events, and a diffusion actor renders several events at once, their windows sharing the
network's batches.

Faults: when an actor or its node dies, the events it held go back to the queue and a
replacement actor is started; each event is tried at most :data:`MAX_ATTEMPTS` times, then
fails on its own like an unreadable clip. A result is accepted only for the key its job
was sent with, once, so a retry can never put one event's audio in another's place. A
cancel kills the actors, which stops their work at once.

Every machine needs the same paths (shared storage) and the same syncfoley: before any
work, a probe on every node checks the media and model files, and each actor reports its
syncfoley version.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from syncfoley.bridge.conform.jobs import EventJob, EventRender
from syncfoley.bridge.conform.options import ray_head
from syncfoley.bridge.conform.render import Executor
from syncfoley.core.errors import Cancelled, DependencyError, SyncfoleyError
from syncfoley.core.fence import Fence, current, install
from syncfoley.core.progress import Cancel

log = logging.getLogger("syncfoley.conform")

INSTALL_HINT = "pip install 'syncfoley[ray]'"
MAX_ATTEMPTS = 3  # tries per event: its first and two retries after a worker died under it
CONNECT_TIMEOUT = 5.0  # seconds for a cluster's head to answer at all
START_TIMEOUT = 120.0  # seconds to wait for a worker when none is running
PROBE_TIMEOUT = 60.0  # seconds for every node to say which files it cannot see
NAMESPACE = "syncfoley"
LOCAL_OBJECT_STORE = 1 << 30  # bytes, for a Ray started here
# The driver's settings that decide what a worker loads: given to the workers, so that a
# checkpoint named by an environment variable here is the one used there.
PASSED_ENV = ("SYNCFOLEY_DIFFUSION_CHECKPOINT", "SYNCFOLEY_ONSET_CHECKPOINT", "SYNCFOLEY_CLAP_CHECKPOINT",
              "SYNCFOLEY_MOTION_WEIGHTS", "SYNCFOLEY_PRESETS")


class ClusterError(SyncfoleyError):
    """The Ray cluster cannot be reached or cannot run the conform's events."""

    code = "cluster"


def import_ray() -> Any:
    """Ray, or a message saying what to install."""
    try:
        import ray
    except ImportError:
        raise DependencyError(f"--executor ray needs Ray: {INSTALL_HINT} (on every machine of the cluster), or "
                              "use --executor pool") from None
    return ray


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail fast when nothing answers at ``address``: Ray itself retries for a minute or more."""
    head = ray_head(address)
    if head is None:
        return
    try:
        with socket.create_connection(head, timeout=timeout):
            pass
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ClusterError(f"no Ray cluster answers at {address} ({why} within {timeout:g} s): start one with "
                           f"`ray start --head` on that machine, check the address and port (`ray status` "
                           f"there prints it), or leave --ray-address out for a Ray on this machine") from None


class EventWorker:
    """One worker of the cluster: computes event jobs, keeping its models loaded between them."""

    def __init__(self, fence: Optional[Fence]) -> None:
        # The daemon's fence goes with the events: a worker reads media, samples and weights.
        install(fence)

    def hello(self) -> dict[str, Any]:
        import ray

        from syncfoley.core.version import version

        return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(),
                "version": version()}

    def run(self, jobs: Sequence[EventJob]) -> list[tuple[str, Any]]:
        """Each job's key and outcome (its render, or the user-facing error it ended in)."""
        import ray

        from syncfoley.bridge.conform.render import render_outcomes

        outcomes = render_outcomes(jobs)
        where = f"{socket.gethostname()} (Ray node {ray.get_runtime_context().get_node_id()[:8]})"
        for outcome in outcomes:
            if isinstance(outcome, EventRender):
                outcome.computed_on = where
        return [(job.key, outcome) for job, outcome in zip(jobs, outcomes)]


def missing_files(paths: Sequence[str]) -> list[str]:
    """The paths this machine cannot see (run on every node)."""
    return [p for p in paths if not os.path.exists(p)]


@dataclass(frozen=True)
class WorkerShape:
    """What the actors are: how many, what each reserves, how many events each call takes."""

    count: int
    gpus: int  # per actor: 1 for GPU work, 0 for CPU work
    events_per_call: int
    why: str


def worker_shape(jobs: Sequence[EventJob], resources: dict[str, float], batch_on_cpu: bool = False) -> WorkerShape:
    """One actor per GPU when the events run a model on a GPU, else one per CPU (never more than
    there are events). A diffusion actor on a GPU takes a batch's worth of events per call, to
    fill the GPU; on a CPU one event (a CPU is as busy with one window as with eight, and larger
    batches only cost memory bandwidth: 1.5x slower measured) unless ``batch_on_cpu``."""
    from syncfoley.engine.detect.onset_checkpoint import resolve_checkpoint as resolve_onset
    from syncfoley.engine.generate.diffusion import resolve_checkpoint

    first = jobs[0]
    sound = first.sound
    diffusion = sound.engine == "diffusion" or (sound.engine == "auto" and
                                                resolve_checkpoint(sound.diffusion_checkpoint) is not None)
    neural = first.detector == "neural" or (first.detector == "auto" and resolve_onset(first.checkpoint) is not None)
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
    batched = max(1, sound.batch) if diffusion else 1
    if first.device == "cuda" and gpus == 0:
        raise ClusterError(f"--device cuda, but the Ray cluster has no GPU (its resources: {_resources(resources)}); "
                           "start the GPU machines with `ray start`, or give --device cpu")
    if (diffusion or neural) and first.device != "cpu" and gpus > 0:
        what = "the diffusion model" if diffusion else "the onset network"
        return WorkerShape(min(gpus, -(-len(jobs) // batched)), 1, batched, f"one per GPU ({gpus}), holding {what}")
    if cpus < 1:
        raise ClusterError(f"the Ray cluster has no CPU to run events on (its resources: {_resources(resources)})")
    per_call = batched if batch_on_cpu else 1
    return WorkerShape(min(cpus, -(-len(jobs) // per_call)), 0, per_call, f"one per CPU ({cpus})")


def _resources(resources: dict[str, float]) -> str:
    shown = {k: v for k, v in resources.items() if k in ("CPU", "GPU")}
    return ", ".join(f"{k} {v:g}" for k, v in sorted(shown.items())) or "none"


def needed_files(jobs: Sequence[EventJob]) -> list[str]:
    """Every file the events read: their media, and the sound's and models' files as the
    driver resolves them (the workers resolve them the same way: see PASSED_ENV)."""
    from syncfoley.engine.detect.onset_checkpoint import resolve_checkpoint as resolve_onset
    from syncfoley.engine.generate.diffusion import resolve_checkpoint

    paths: dict[str, None] = {}
    for job in jobs:
        paths[job.media] = None
        s = job.sound
        for p in (s.samples, s.reference, s.embedding, s.clap, resolve_checkpoint(s.diffusion_checkpoint),
                  resolve_onset(job.checkpoint) if job.detector in ("auto", "neural") else None):
            if p:
                paths[str(p)] = None
    return list(paths)


@dataclass
class _Worker:
    handle: Any
    name: str
    ready: Any  # the hello() call until it answers, then None
    info: dict[str, Any] = field(default_factory=dict)
    busy: Any = None  # the run() call in flight


class RayRun:
    """One conform's events on the cluster; see the module's description."""

    def __init__(self, ray: Any, shape: WorkerShape, cancel: Optional[Cancel], notify: Callable[[str], None]):
        self.ray = ray
        self.shape = shape
        self.cancel = cancel
        self.notify = notify
        self.tag = uuid.uuid4().hex[:8]
        self.started = 0
        self.workers: list[_Worker] = []

    def start_worker(self) -> None:
        ray = self.ray
        name = f"conform-{self.tag}-{self.started}"
        self.started += 1
        env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        if not self.shape.gpus:
            # One core per CPU worker: numba's and torch's pools sized to it before they load.
            env.update({"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        cls = ray.remote(EventWorker).options(
            name=name, namespace=NAMESPACE, num_cpus=1, num_gpus=self.shape.gpus, max_restarts=0,
            max_task_retries=0, runtime_env={"env_vars": env})
        handle = cls.remote(current())
        self.workers.append(_Worker(handle, name, handle.hello.remote()))

    def stop(self) -> None:
        for w in self.workers:
            try:
                self.ray.kill(w.handle, no_restart=True)
            except Exception:  # already gone with its node
                pass
        self.workers.clear()

    def run(self, jobs: Sequence[EventJob], done: Callable[[int, EventJob, Any], None]) -> None:
        from syncfoley.core.version import version

        ray = self.ray
        mine = version()
        queue: deque[int] = deque(range(len(jobs)))
        attempts = [0] * len(jobs)
        finished: set[int] = set()
        held: dict[Any, tuple[_Worker, list[int]]] = {}  # run() call -> its worker and jobs
        for _ in range(self.shape.count):
            self.start_worker()
        idle_since = time.monotonic()
        while len(finished) < len(jobs):
            if self.cancel is not None and self.cancel():
                raise Cancelled("conform cancelled")
            for w in self.workers:
                if w.ready is None and w.busy is None and queue:
                    batch = [queue.popleft() for _ in range(min(self.shape.events_per_call, len(queue)))]
                    w.busy = w.handle.run.remote([jobs[i] for i in batch])
                    held[w.busy] = (w, batch)
            if any(w.ready is None for w in self.workers):
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > START_TIMEOUT:
                raise ClusterError(
                    f"no Ray worker started within {START_TIMEOUT:g} s (the cluster has "
                    f"{_resources(ray.cluster_resources())}; each worker needs 1 CPU"
                    f"{' and 1 GPU' if self.shape.gpus else ''}): is a node still starting, or are its resources "
                    "taken by other work?")
            waiting = [w.ready for w in self.workers if w.ready is not None] + list(held)
            if not waiting:  # every worker idle with nothing queued: cannot last (finished < jobs)
                time.sleep(0.05)
                continue
            ready, _ = ray.wait(waiting, num_returns=1, timeout=0.2)
            for ref in ready:
                if ref in held:
                    self._collect(ref, held.pop(ref), jobs, queue, attempts, finished, done)
                else:
                    self._greet(ref, mine)

    def _greet(self, ref: Any, version: str) -> None:
        ray = self.ray
        w = next(w for w in self.workers if w.ready is not None and w.ready == ref)
        try:
            w.info = ray.get(ref)
        except ray.exceptions.RayError as exc:
            self._lost(w, f"a Ray worker did not start ({_short(exc)})")
            return
        w.ready = None
        if w.info["version"] != version:
            raise ClusterError(f"node {w.info['host']} runs syncfoley {w.info['version']}, this machine "
                               f"{version}: install the same version on every machine of the cluster")

    def _collect(self, ref: Any, held: tuple[_Worker, list[int]], jobs: Sequence[EventJob], queue: deque[int],
                 attempts: list[int], finished: set[int], done: Callable[[int, EventJob, Any], None]) -> None:
        ray = self.ray
        w, batch = held
        w.busy = None
        try:
            results = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None  # a bug, not a lost worker: as the other executors
        except ray.exceptions.RayError as exc:
            where = w.info.get("host", "?")
            self._lost(w, f"the worker on {where} died ({_short(exc)})")
            for i in batch:
                attempts[i] += 1
                if attempts[i] >= MAX_ATTEMPTS:
                    finished.add(i)
                    done(i, jobs[i], ClusterError(f"{MAX_ATTEMPTS} workers died computing this event (out of "
                                                  "memory? a crash in a decoder?); try it with --executor serial"))
                else:
                    self.notify(f"the event showing {Path(jobs[i].media).name} from {jobs[i].t0:.2f} s: the worker "
                                f"on {where} died under it; retried (attempt {attempts[i] + 1} of {MAX_ATTEMPTS})")
                    queue.appendleft(i)
            return
        if len(results) != len(batch) or any(key != jobs[i].key for (key, _), i in zip(results, batch)):
            raise ClusterError("a Ray worker returned results for other events than it was sent; is every "
                               "machine running the same syncfoley?")
        for (_, outcome), i in zip(results, batch):  # keys checked above
            if i in finished:  # computed twice (a retry raced a late answer): the first one stands
                continue
            finished.add(i)
            done(i, jobs[i], outcome)

    def _lost(self, w: _Worker, why: str) -> None:
        log.warning("%s; starting another", why)
        try:
            self.ray.kill(w.handle, no_restart=True)
        except Exception:
            pass
        self.workers.remove(w)
        self.start_worker()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def connect(ray: Any, address: Optional[str]) -> bool:
    """Join ``address``'s cluster, or start a Ray on this machine; True when this call started
    (and so must stop) Ray in this process. A Ray already initialised here is used as it is."""
    if ray.is_initialized():
        return False
    # As Ray's own tools do, $RAY_ADDRESS names the cluster when no address is given.
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {"namespace": NAMESPACE, "log_to_driver": False, "logging_level": logging.WARNING,
                              "configure_logging": True}
    env: dict[str, str] = {}
    if address is None:
        # "local": a new Ray for this conform, never one a `ray start` left behind here. Its
        # object store holds finished events until the driver takes them (a few MB each), not
        # the 30% of memory Ray reserves by default.
        kwargs.update(include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE)
    else:
        check_reachable(address)
        # Something answers; if it is not a Ray head, Ray would retry for 20 s, logging each try.
        env = {"RAY_gcs_server_port_wait_time_s": str(int(CONNECT_TIMEOUT))}
    # A Ray started here turns on token authentication and says so at every start: it is Ray's
    # default, not news to a user who asked for a conform.
    quiet = logging.getLogger("ray._private.authentication.authentication_token_setup")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: v for k, v in env.items() if saved[k] is None})  # a user's own setting wins
    try:
        with _quiet_stderr(address is not None):
            ray.init(address=address or "local", **kwargs)
    except ConnectionError as exc:
        raise ClusterError(f"something answers at {address}, but no Ray head did within {CONNECT_TIMEOUT:g} s "
                           f"({_short(exc)}): give the address `ray start --head` printed (port 6379 unless it "
                           "said otherwise), and run the cluster's Ray version here") from None
    except Exception as exc:  # ray.exceptions.AuthenticationError and kin
        if not type(exc).__module__.startswith("ray") and not isinstance(exc, (RuntimeError, ValueError)):
            raise
        where = f"the Ray cluster at {address}" if address else "a Ray on this machine"
        hint = " (a cluster with token authentication needs its token here: $RAY_AUTH_TOKEN or " \
               "~/.ray/auth_token)" if "auth" in str(exc).lower() else ""
        raise ClusterError(f"could not start or join {where}: {_short(exc)}{hint}") from None
    finally:
        quiet.setLevel(level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
    return True


@contextlib.contextmanager
def _quiet_stderr(on: bool) -> Iterator[None]:
    """Hold back what Ray's C++ core prints while it connects (a warning a second while it
    retries); it is shown after a success, and a failure is said in one clear line instead."""
    if not on:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        ok = False
        try:
            yield
            ok = True
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if ok:
                held.seek(0)
                sys.stderr.write(held.read().decode(errors="replace"))


def check_nodes(ray: Any, paths: Sequence[str], gpus: int) -> dict[str, str]:
    """Every node that can run a worker sees every path; returns node id -> address."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("GPU" if gpus else "CPU", 0) > 0]
    probe = ray.remote(missing_files)
    calls = {n["NodeID"]: probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(
        n["NodeID"], soft=False)).remote(list(paths)) for n in nodes}
    where = {n["NodeID"]: n.get("NodeManagerAddress", "?") for n in nodes}
    try:
        answers = dict(zip(calls, ray.get(list(calls.values()), timeout=PROBE_TIMEOUT)))
    except ray.exceptions.GetTimeoutError:
        raise ClusterError(f"the Ray nodes did not answer a file check within {PROBE_TIMEOUT:g} s") from None
    for node, missing in answers.items():
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise ClusterError(
                f"node {where[node]} (Ray node {node[:8]}) cannot see {missing[0]}{more}: every machine of the "
                "cluster needs the media and model files at the same paths (shared storage, mounted alike)")
    return where


def ray_executor(address: Optional[str] = None, cancel: Optional[Cancel] = None,
                 notify: Optional[Callable[[str], None]] = None,
                 on_start: Optional[Callable[[RayRun], None]] = None, batch_on_cpu: bool = False) -> Executor:
    """Run the jobs on a Ray cluster: the one at ``address`` (HOST:PORT of its head, or 'auto'),
    or a Ray started on this machine for the conform. ``done(i, job, result_or_error)`` is called
    here, in the order events finish. ``notify`` hears about retried events; ``on_start`` gets
    the run once its workers are being started (tests, monitoring); ``batch_on_cpu`` batches
    diffusion events on CPU workers too (see :func:`worker_shape`)."""
    ray = import_ray()

    def run(jobs: Sequence[EventJob], done: Callable[[int, EventJob, Any], None]) -> None:
        if not jobs:
            return
        started = connect(ray, address)
        work: Optional[RayRun] = None
        try:
            shape = worker_shape(jobs, ray.cluster_resources(), batch_on_cpu)
            check_nodes(ray, needed_files(jobs), shape.gpus)
            work = RayRun(ray, shape, cancel, notify or (lambda text: log.warning("%s", text)))
            if on_start is not None:
                on_start(work)
            work.run(jobs, done)
        finally:
            if work is not None:
                work.stop()
            if started:
                ray.shutdown()

    return run
