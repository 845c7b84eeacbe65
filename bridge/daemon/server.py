"""``syncfoley serve``: the engine daemon. DAW scripts send OSC; jobs run here, models stay warm.

Two paths that never wait for each other:

- the control path, one thread on the UDP socket: it rejects junk, answers
  ``ping``, ``status`` and ``cancel`` at once, checks work requests (token, JSON,
  paths inside the roots) and queues them, or answers ``busy`` when the queue is full;
- one worker process (:mod:`.worker`) that runs jobs through
  :mod:`syncfoley.bridge.api` and keeps models loaded; a relay thread here hands it
  one job at a time and sends ``progress`` and then ``done`` or ``error`` to whoever
  asked. A job never shares the control path's interpreter, so it cannot delay it.

Jobs live in SQLite in the workdir (:mod:`.job_store`): a daemon that is killed and
started again still answers ``status`` for finished jobs and queues the unfinished
ones again. Outputs are written under temporary names and renamed, and leftovers of
an interrupted write are removed at start-up. Identical requests (same files by
size and modification time, same options) are answered from the finished job
instead of being computed again.
"""

from __future__ import annotations

import hashlib
import logging
import logging.handlers
import os
import queue
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional

from syncfoley.bridge.daemon import protocol as P
from syncfoley.bridge.daemon.guard import ReplyGuard, Throttle, is_loopback, socket_family
from syncfoley.bridge.daemon.job_store import JobStore
from syncfoley.bridge.requests import REQUESTS
from syncfoley.core.errors import FieldError, OutsideRootsError, RequestError, SyncfoleyError
from syncfoley.core.fence import Fence
from syncfoley.core.identity import file_identity

log = logging.getLogger("syncfoley.daemon")


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 9000
    workdir: Path = Path.home() / ".cache" / "syncfoley" / "daemon"
    token: Optional[str] = None
    media_roots: tuple[Path, ...] = ()  # empty: anything the user can read
    output_roots: tuple[Path, ...] = ()  # besides the workdir
    queue_limit: int = 32
    max_datagram: int = P.MAX_DATAGRAM
    device: str = "auto"
    verbose: bool = True
    # The one Ray cluster conform requests may send work to (--executor ray): a request cannot
    # name another, whose workers would then send results (pickles) back into this process.
    ray_address: Optional[str] = None


def normalise_config(cfg: ServeConfig) -> ServeConfig:
    """The configuration as the daemon uses it: a blank token is no token."""
    token = cfg.token if cfg.token is not None and cfg.token.strip() else None
    return replace(cfg, token=token)


def check_config(cfg: ServeConfig) -> None:
    cfg = normalise_config(cfg)
    if not is_loopback(cfg.host) and not cfg.token:
        raise RequestError(
            f"binding to {cfg.host} exposes the daemon beyond this machine; give --token SECRET "
            "(every request must then carry it) or bind to 127.0.0.1 or ::1"
        )
    if not 0 <= cfg.port <= 65535:
        raise RequestError(f"port must be within 0..65535, got {cfg.port}")
    if cfg.queue_limit < 1:
        raise RequestError(f"queue limit must be at least 1, got {cfg.queue_limit}")
    if cfg.ray_address is not None:
        from syncfoley.bridge.conform.options import check_ray_address

        check_ray_address(cfg.ray_address)


# Fields every request may carry besides its own (where to reply, the secret).
ENVELOPE = ("reply_host", "reply_port", "token")
# What a control request may carry besides the envelope.
CONTROL_FIELDS = {"ping": (), "status": ("job_id",), "cancel": ("job_id",), "shutdown": ()}


def schema(name: str) -> dict[str, str]:
    """What a work request may carry: field -> kind, read from the request type's definition."""
    return {key: spec.kind for key, (spec, _) in REQUESTS[name].specs().items()}


# Jobs whose result is not kept by the request's key: a conform keeps finished events in
# its own cache (keyed by media and source range), which sees changes inside the media roots.
UNCACHED = {"conform"}
# A job whose worker process died is run again this many times before it fails.
RETRIES = 1


class Daemon:
    def __init__(self, cfg: ServeConfig) -> None:
        check_config(cfg)
        cfg = normalise_config(cfg)
        self.cfg = cfg
        self.workdir = cfg.workdir.expanduser().resolve()
        (self.workdir / "jobs").mkdir(parents=True, exist_ok=True)
        self._lock_file = _lock_workdir(self.workdir)
        _setup_logging(self.workdir, cfg.verbose)
        family = socket_family(cfg.host)
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((cfg.host, cfg.port))
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()[:2]
        self.replies = ReplyGuard(self.address, family)
        self.refusals = Throttle(50, "refused datagrams")
        self.fence = job_fence(cfg, self.workdir)
        self.store = JobStore(self.workdir / "jobs.sqlite")
        self.queue: "queue.Queue[str]" = queue.Queue()
        self.queued = 0
        self.running: Optional[str] = None
        self.cancels: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.started = time.time()
        self._clean_partials()
        for job in self.store.unfinished():  # interrupted by a crash or a kill: run again
            if self._recover(job.id):
                continue
            try:  # against the roots this daemon has now, which may not be those it had
                self._validate(job.address[len(P.PREFIX):], _given(job.request))
            except SyncfoleyError as err:
                self.store.update(job.id, state="error", error_code=err.code, error=str(err))
                log.info("job %s not re-queued: %s %s", job.id, err.code, err)
                continue
            self.store.update(job.id, state="queued", progress=0.0)
            self._enqueue(job.id)
            log.info("job %s re-queued after a restart (%s)", job.id, job.address)
        self.worker = threading.Thread(target=self._work, name="syncfoley-relay", daemon=True)

    # ----------------------------------------------------------------- lifecycle
    def serve_forever(self) -> None:
        # Short GIL slices: the control thread answers within a millisecond even while
        # the relay thread is busy (jobs themselves run in another process).
        sys.setswitchinterval(0.0005)
        self.worker.start()
        log.info("listening on udp://%s:%d, workdir %s", self.address[0], self.address[1], self.workdir)
        try:
            while not self.stopping.is_set():
                try:
                    dgram, sender = self.sock.recvfrom(65536)
                except socket.timeout:
                    self.refusals.tick()
                    continue
                except OSError:
                    if self.stopping.is_set():
                        break
                    continue
                try:
                    self.handle(dgram, sender)
                except Exception:  # the control path must survive anything
                    log.exception("unexpected error handling a datagram from %s:%d", *sender)
                    self._send(sender, "/syncfoley/error", P.INTERNAL, "internal error; see the daemon log", "")
        finally:
            self.stopping.set()
            self.queue.put("")  # wake the worker
            self.worker.join(timeout=10)
            self.sock.close()
            self.store.close()
            log.info("stopped")

    def stop(self) -> None:
        """Stop taking requests; a running job is interrupted and queued again for the next start."""
        self.stopping.set()

    # ----------------------------------------------------------------- control path
    def handle(self, dgram: bytes, sender: tuple[str, int]) -> None:
        sender = (str(sender[0]), int(sender[1]))
        if self.replies.is_self(sender):  # spoofed: answering would be talking to ourselves for ever
            self._refused(sender, "", "a datagram claiming to come from the daemon's own address", reply=False)
            return
        reject = P.quick_reject(dgram, self.cfg.max_datagram)
        if reject is None:
            try:
                messages = P.parse(dgram)
            except P.ProtocolError as err:
                reject = err
        if reject is not None:
            self._refused(sender, reject.code, str(reject), f"{len(dgram)} bytes: ")
            return
        for msg in messages:
            if msg.address in P.REPLIES:  # someone's reply aimed here: never answered
                self._refused(sender, "", f"a reply address {msg.address}", reply=False)
                continue
            reply_to, trusted = sender, False
            try:
                name = msg.address[len(P.PREFIX):] if msg.address.startswith(P.PREFIX) else ""
                if name not in P.CONTROL + P.WORK:
                    raise P.ProtocolError(P.UNKNOWN_ADDRESS, f"unknown address {msg.address!r}; the daemon "
                                                             f"answers {', '.join(P.ADDRESSES)}")
                data = self._arguments(msg, name)
                # The token first: until it checks out, the answer goes to the sender only.
                self._check_token(data, msg.address)
                trusted = True
                if name in CONTROL_FIELDS:
                    _check_control(name, data)
                reply_to = self.replies.reply_address(data, sender)
                log.info("request %s from %s:%d", msg.address, sender[0], sender[1])
                self._dispatch(name, data, reply_to)
            except SyncfoleyError as err:  # with a stable code
                if not trusted:  # junk or no token: rate-limited, and only ever to the sender
                    self._refused(sender, err.code, str(err), f"{msg.address[:80]}: ")
                    continue
                log.info("request %s from %s:%d refused: %s %s", msg.address, sender[0], sender[1], err.code, err)
                self._send(reply_to, "/syncfoley/error", err.code, str(err), "")

    def _refused(self, sender: tuple[str, int], code: str, message: str, context: str = "",
                 reply: bool = True) -> None:
        """Junk and unauthenticated requests: logged and answered within a rate limit."""
        if not self.refusals.allow():
            return
        log.info("refused from %s:%d: %s%s", sender[0], sender[1], context, message)
        if reply:
            self._send(sender, "/syncfoley/error", code, message, "")

    def _arguments(self, msg: P.Message, name: str) -> dict[str, Any]:
        if name == "cancel" and len(msg.args) == 1 and isinstance(msg.args[0], str) \
                and not msg.args[0].lstrip().startswith("{"):
            return {"job_id": msg.args[0]}  # `cancel <job id>`, for clients without JSON
        return P.json_arg(msg, required=name in P.WORK or self.cfg.token is not None)

    def _check_token(self, data: dict[str, Any], address: str) -> None:
        if self.cfg.token is None:
            return
        given = data.get("token")
        if not isinstance(given, str) or not _same(given, self.cfg.token):
            raise P.ProtocolError(P.FORBIDDEN, f"{address}: missing or wrong token")

    def _dispatch(self, name: str, data: dict[str, Any], reply_to: tuple[str, int]) -> None:
        from syncfoley.core.version import version

        if name == "ping":
            self._send(reply_to, "/syncfoley/pong", version())
        elif name == "status":
            self._send(reply_to, "/syncfoley/status", self._status(data))
        elif name == "cancel":
            self._cancel(data, reply_to)
        elif name == "shutdown":
            self._send(reply_to, "/syncfoley/bye")
            log.info("shutdown requested")
            self.stop()
        else:
            self._submit(name, data, reply_to)

    def _status(self, data: dict[str, Any]) -> str:
        jid = data.get("job_id")
        if jid is not None:
            job = self.store.get(str(jid))
            if job is None:
                raise P.ProtocolError(P.NOT_FOUND, f"no job {jid!r}")
            return _fit(job.summary())
        recent = [j.summary() for j in self.store.recent(10)]
        for j in recent:
            j.pop("result", None)
        proc = getattr(self, "process", None)
        body = {"version": 1, "running": self.running, "queued": self.queued, "jobs": self.store.counts(),
                "recent": recent, "uptime": round(time.time() - self.started, 1),
                "worker_pid": proc.pid if proc is not None and proc.is_alive() else None}
        return _fit(body)

    def _cancel(self, data: dict[str, Any], reply_to: tuple[str, int]) -> None:
        jid = data.get("job_id")
        if not isinstance(jid, str):
            raise P.ProtocolError(P.BAD_REQUEST, "cancel needs {\"job_id\": \"...\"} (or the job id as a string)")
        job = self.store.get(jid)
        if job is None:
            raise P.ProtocolError(P.NOT_FOUND, f"no job {jid!r}")
        if job.state not in ("queued", "running"):
            raise P.ProtocolError(P.BAD_REQUEST, f"job {jid} is already {job.state}")
        with self.lock:
            ev = self.cancels.setdefault(jid, threading.Event())
        ev.set()
        if job.state == "queued":
            self.store.update(jid, state="cancelled")
        log.info("job %s cancel requested", jid)
        self._send(reply_to, "/syncfoley/cancelled", jid)

    def _submit(self, name: str, data: dict[str, Any], reply_to: tuple[str, int]) -> None:
        request = self._validate(name, data)
        if name == "conform" and self.cfg.media_roots:
            # A timeline names its media itself (OTIO target_url): the roots bind those too.
            request["read_roots"] = [str(r.expanduser().resolve()) for r in self.cfg.media_roots]
        key = self._cache_key(name, request)
        cached = self.store.cached(key) if name not in UNCACHED else None
        if cached is not None and cached.result is not None and _outputs_exist(cached.result):
            jid = _new_id()
            result = {**cached.result, "cached": True, "cached_from": cached.id}
            self.store.add(jid, "/syncfoley/" + name, request, key, reply_to, state="done", result=result)
            log.info("job %s done from the cache of %s (%s)", jid, cached.id, name)
            self._send(reply_to, "/syncfoley/accepted", jid)
            self._send(reply_to, "/syncfoley/done", jid, _fit(result))
            return
        with self.lock:
            if self.queued >= self.cfg.queue_limit:
                raise P.ProtocolError(P.BUSY, f"{self.queued} jobs are waiting (limit {self.cfg.queue_limit}); "
                                              "try again later")
        jid = _new_id()
        self.store.add(jid, "/syncfoley/" + name, request, key, reply_to)
        self._enqueue(jid)
        log.info("job %s queued (%s)", jid, name)
        self._send(reply_to, "/syncfoley/accepted", jid)

    def _enqueue(self, jid: str) -> None:
        with self.lock:
            self.queued += 1
            self.cancels[jid] = threading.Event()
        self.queue.put(jid)

    # ----------------------------------------------------------------- requests
    def _validate(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """The request as given, each field checked by its definition (a bad one is ``bad_request``
        naming it) and each path made absolute and checked against the roots."""
        cls = REQUESTS[name]
        given = {k: v for k, v in data.items() if k not in ENVELOPE and v is not None}
        flat = cls.from_dict(given).to_dict()
        specs = cls.specs()
        out: dict[str, Any] = {}
        for key in given:
            value, kind = flat[key], specs[key][0].kind
            if key == "preset":
                from syncfoley import presets

                try:
                    presets.check_name(value)
                except SyncfoleyError as err:
                    raise FieldError(key, str(err)) from None
                out[key] = value
            elif key == "ray_address":
                if value != self.cfg.ray_address:
                    raise FieldError(key, "this daemon sends conform work only to the Ray cluster it was started "
                                          f"with (serve --ray-address: {self.cfg.ray_address or 'none, a local Ray'});"
                                          " leave ray_address out")
                out[key] = value
            elif key == "jobs" and value > (os.cpu_count() or 1):
                raise FieldError(key, f"jobs must be at most this machine's {os.cpu_count() or 1} cores (0 = one "
                                      f"per core), got {value}")
            elif kind == "paths_in":
                out[key] = [str(self._path(key, v, "in")) for v in value]
            elif kind in ("path_in", "path_out"):
                out[key] = str(self._path(key, value, "in" if kind == "path_in" else "out"))
            else:
                out[key] = value
        if name == "conform" and flat.get("executor") == "ray" and self.cfg.ray_address and "ray_address" not in out:
            out["ray_address"] = self.cfg.ray_address
        return out

    def _path(self, key: str, value: str, kind: str) -> Path:
        """An absolute path, resolved and inside the roots for reading (``in``) or writing (``out``)."""
        p = Path(value).expanduser()
        if not p.is_absolute():
            raise FieldError(key, f"{key} must be an absolute path, got {value!r}")
        try:
            return self.fence.readable(p, key) if kind == "in" else self.fence.writable(p, key)
        except OutsideRootsError as err:
            raise P.ProtocolError(P.OUTSIDE_ROOTS, str(err)) from None

    def _cache_key(self, name: str, request: dict[str, Any]) -> str:
        files = {}
        for key, kind in schema(name).items():
            if kind == "path_in" and key in request:
                files[key] = file_identity(request[key])
        blob = P.dumps({"address": name, "request": request, "files": files, "device": self.cfg.device})
        return hashlib.sha256(blob.encode()).hexdigest()

    # ----------------------------------------------------------------- worker
    def _start_worker(self) -> None:
        import multiprocessing as mp

        from syncfoley.bridge.daemon.worker import worker_main

        ctx = mp.get_context("spawn")
        self.jobs_out = ctx.Queue()
        self.events_in = ctx.Queue()
        self.cancel_running = ctx.Event()
        self.process = ctx.Process(target=worker_main, name="syncfoley-worker",
                                   args=(self.jobs_out, self.events_in, self.cancel_running, os.getpid()),
                                   daemon=True)
        self.process.start()

    def _work(self) -> None:
        """Hand queued jobs to the worker process one at a time and relay what it reports."""
        self._start_worker()
        while not self.stopping.is_set():
            jid = self.queue.get()
            if not jid:
                continue
            with self.lock:
                self.queued -= 1
            job = self.store.get(jid)
            if job is None or job.state != "queued":
                continue
            cancel = self.cancels.get(jid) or threading.Event()
            if cancel.is_set():
                self.store.update(jid, state="cancelled")
                continue
            self.running = jid
            self.store.update(jid, state="running", progress=0.0)
            log.info("job %s running (%s)", jid, job.address)
            reply_to = (job.reply_host, job.reply_port)
            try:
                self._relay(jid, job.address[len(P.PREFIX):], job.request, cancel, reply_to)
            finally:
                self.running = None
                again = self.store.get(jid)
                if again is None or again.state != "queued":  # not queued again after a dead worker
                    with self.lock:
                        self.cancels.pop(jid, None)
        self.jobs_out.put(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()

    def _relay(self, jid: str, name: str, request: dict[str, Any], cancel: threading.Event,
               reply_to: tuple[str, int]) -> None:
        if not self.process.is_alive():
            self._start_worker()
        self.cancel_running.clear()
        self.jobs_out.put((jid, name, request, str(self.workdir), self.cfg.device, self.fence))
        while True:
            if cancel.is_set() or self.stopping.is_set():
                self.cancel_running.set()
            try:
                event = self.events_in.get(timeout=0.1)
            except queue.Empty:
                if not self.process.is_alive():
                    self._worker_died(jid, reply_to)
                    return
                continue
            kind, ev_job = event[0], event[1]
            if ev_job != jid:
                continue
            if kind == "progress":
                self.store.update(jid, progress=event[2])
                self._send(reply_to, "/syncfoley/progress", jid, float(event[2]), event[3])
                continue
            if kind == "done":
                from syncfoley.bridge.daemon.worker import journal_of

                self.store.update(jid, state="done", progress=1.0, result=event[2])
                _forget(journal_of(self.workdir, jid))  # recorded: the journal has done its work
                log.info("job %s done", jid)
                self._send(reply_to, "/syncfoley/done", jid, _fit(event[2]))
            elif kind == "cancelled" and self.stopping.is_set() and not cancel.is_set():
                # Interrupted by shutdown, not by a user: run it again at the next start.
                self.store.update(jid, state="queued", progress=0.0)
                log.info("job %s interrupted by shutdown; queued for the next start", jid)
            elif kind == "cancelled":
                self.store.update(jid, state="cancelled", error_code=event[2], error=event[3])
                log.info("job %s cancelled", jid)
                self._send(reply_to, "/syncfoley/error", event[2], event[3], jid)
            else:
                self.store.update(jid, state="error", error_code=event[2], error=event[3])
                if kind == "crash":
                    log.error("job %s failed:\n%s", jid, event[4])
                else:
                    log.info("job %s error %s: %s", jid, event[2], event[3])
                self._send(reply_to, "/syncfoley/error", event[2], event[3], jid)
            return

    def _worker_died(self, jid: str, reply_to: tuple[str, int]) -> None:
        """Killed from outside (the OOM killer, a user) or crashed in native code: the job is
        run once more on a new worker; a second death is its error (``worker_died``)."""
        code = self.process.exitcode
        self._start_worker()
        if self._recover(jid):
            job = self.store.get(jid)
            self._send(reply_to, "/syncfoley/done", jid, _fit(job.result or {} if job else {}))
            return
        job = self.store.get(jid)
        attempts = (job.attempts if job is not None else 0) + 1
        if attempts <= RETRIES and not self.stopping.is_set():
            self.store.update(jid, state="queued", progress=0.0, attempts=attempts)
            log.error("job %s: the worker process died (exit code %s); running it again on a new worker", jid, code)
            self._enqueue(jid)
            return
        message = (f"the worker process died twice running this job (exit code {code}); "
                   "see the daemon log, and try a shorter range or more memory")
        self.store.update(jid, state="error", error_code=P.WORKER_DIED, error=message, attempts=attempts)
        log.error("job %s: %s", jid, message)
        self._send(reply_to, "/syncfoley/error", P.WORKER_DIED, message, jid)

    def _recover(self, jid: str) -> bool:
        """Finish an interrupted job's output set if it was renaming (the job is then done,
        with its result), else remove the temporary files it had written, wherever they are."""
        from syncfoley.bridge.daemon.worker import journal_of
        from syncfoley.core.atomic import recover

        journal = journal_of(self.workdir, jid)
        try:
            finished, result = recover(journal)
        except OSError as exc:
            log.error("job %s: its interrupted outputs could not be finished: %s", jid, exc)
            return False
        if finished:
            self.store.update(jid, state="done", progress=1.0, result=result)
            _forget(journal)
            log.info("job %s: its outputs were being renamed when it stopped; finished now", jid)
        return finished

    # ----------------------------------------------------------------- housekeeping
    def _send(self, to: tuple[str, int], address: str, *args: Any) -> None:
        try:
            self.sock.sendto(P.build(address, *args), to)
        except OSError as exc:  # an unreachable client must not stop the daemon
            log.info("reply %s to %s:%d failed: %s", address, to[0], to[1], exc)

    def _clean_partials(self) -> None:
        for p in list((self.workdir / "jobs").rglob(".*.partial*")):
            try:
                p.unlink()
                log.info("removed an interrupted write: %s", p)
            except OSError:
                pass


def job_fence(cfg: ServeConfig, workdir: Path) -> Fence:
    """Where the daemon's jobs may read and write: the media roots (and the preset
    folders and the package's own weights, which the operator chose), the output roots
    and the jobs' folders and conform cache; never the daemon's state beside them."""
    from syncfoley import presets

    weights = Path(__file__).resolve().parents[2] / "engine" / "detect" / "weights"
    return Fence.of(tuple(cfg.media_roots), (*cfg.output_roots, workdir / "jobs", workdir / "conform-cache"),
                    forbidden=(workdir,), trusted=(*presets.search_path(), weights))


def _given(request: dict[str, Any]) -> dict[str, Any]:
    """A stored request as its fields were given (the daemon adds ``read_roots`` to conforms)."""
    return {k: v for k, v in request.items() if k != "read_roots"}


def _check_control(name: str, data: dict[str, Any]) -> None:
    """A control request carries only its own fields (a status reply sent back here is not one)."""
    extra = sorted(k for k in data if k not in ENVELOPE and k not in CONTROL_FIELDS[name])
    if extra:
        allowed = CONTROL_FIELDS[name] + ENVELOPE
        raise P.ProtocolError(P.BAD_REQUEST, f"/syncfoley/{name} takes no field {extra[0][:40]!r}; it takes "
                                             f"{', '.join(allowed)}")


def _lock_workdir(workdir: Path) -> Any:
    """One daemon per workdir: two would both re-run the same unfinished jobs."""
    handle = open(workdir / "daemon.lock", "a+")
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; run one daemon per workdir yourself
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        other = handle.read().strip() or "another process"
        handle.close()
        raise RequestError(f"workdir {workdir} is in use by another syncfoley daemon (pid {other}); "
                           "stop it or give --workdir DIR") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _forget(journal: Path) -> None:
    try:
        journal.unlink()
    except OSError:
        pass


def _outputs_exist(result: dict[str, Any]) -> bool:
    paths = [v for k, v in result.items() if isinstance(v, str) and k not in ("detector", "engine")
             and os.path.isabs(v)]
    return all(os.path.exists(p) for p in paths)


def _fit(data: dict[str, Any]) -> str:
    text = P.dumps(data)
    if len(text) <= P.MAX_REPLY:
        return text
    return P.dumps({"truncated": True, **{k: v for k, v in data.items() if not isinstance(v, (list, dict))}})


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def _new_id() -> str:
    return "j" + uuid.uuid4().hex[:12]


def _setup_logging(workdir: Path, verbose: bool) -> None:
    if getattr(log, "_syncfoley_configured", False):
        return
    log.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    fh = logging.handlers.RotatingFileHandler(workdir / "syncfoley.log", maxBytes=1_000_000, backupCount=3)
    fh.setFormatter(fmt)
    log.addHandler(fh)
    if verbose:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(fmt)
        log.addHandler(sh)
    log.propagate = False
    log._syncfoley_configured = True  # type: ignore[attr-defined]


def serve(cfg: ServeConfig, ready: Optional[Callable[[tuple[str, int]], None]] = None) -> int:
    """Run the daemon until ``shutdown`` or Ctrl-C."""
    daemon = Daemon(cfg)
    if ready is not None:
        ready(daemon.address)
    try:
        daemon.serve_forever()
    except KeyboardInterrupt:
        daemon.stop()
    return 0


__all__ = ["Daemon", "ServeConfig", "serve", "check_config", "is_loopback", "schema"]
