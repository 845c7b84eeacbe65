"""The daemon's worker process: runs jobs through the Python API, keeps models warm.

Jobs run in their own process, not in a thread of the daemon, so that nothing a
job does (long NumPy operations that hold the GIL, page-fault storms of large
buffers, compute threads) can delay the control path: the daemon answers ``ping``
while a generation runs at full speed here. It talks to the daemon through two
queues: jobs in; progress, results and errors out. Cancellation is an event the
daemon sets and the job's progress callback checks. The process dies with the
daemon (Linux: the kernel kills it when its parent dies; elsewhere it checks).
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import time
from pathlib import Path
from typing import Any

from syncfoley.bridge.requests import REQUESTS, ConformRequest, DetectRequest, GenerateRequest, RunRequest
from syncfoley.core.atomic import output_set
from syncfoley.core.errors import Cancelled, SyncfoleyError
from syncfoley.core.fence import Fence, fenced
from syncfoley.core.progress import Cancel, Progress


class ParentGone(BaseException):
    """The daemon died: stop at once (not an error to report to anyone)."""


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _lower_priority() -> None:
    """Leave the daemon's control thread a core: lower priority, one compute thread fewer."""
    try:
        os.nice(10)
    except OSError:
        pass
    cores = os.cpu_count() or 1
    if cores > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(cores - 1))
        os.environ.setdefault("NUMBA_NUM_THREADS", str(cores - 1))


def worker_main(jobs: Any, events: Any, cancel: Any, parent: int) -> None:
    """Loop: take ``(job id, name, request, workdir, device)``, run it, report back."""
    _die_with_parent()
    _lower_priority()
    while True:
        try:
            item = jobs.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if item is None:
            return
        jid, name, request, workdir, device, fence = item
        cancel.clear()
        try:
            with fenced(fence):
                recheck(name, request, fence)
                # Every output of the job renamed together at the end, journalled so that a
                # kill at any point leaves either nothing or a set the daemon can finish.
                with output_set(journal_of(Path(workdir), jid)) as outs:
                    result = execute(name, request, jid, Path(workdir), device,
                                     _reporter(jid, events, cancel, parent), cancel.is_set)
                    outs.commit(result)
        except ParentGone:
            return
        except Cancelled as err:
            events.put(("cancelled", jid, err.code, str(err)))
        except SyncfoleyError as err:
            events.put(("error", jid, err.code, str(err)))
        except Exception as err:  # a bug: report it, keep the process serving
            import traceback

            events.put(("crash", jid, "internal", f"internal error: {err!r}", traceback.format_exc()))
        else:
            events.put(("done", jid, result))


def _reporter(jid: str, events: Any, cancel: Any, parent: int) -> Progress:
    last = [0.0, -1.0]

    def report(fraction: float, text: str) -> None:
        if cancel.is_set():
            raise Cancelled("job cancelled")
        now = time.monotonic()
        if now - last[0] >= 0.1 or fraction >= 1.0:  # at most ten replies a second
            if os.getppid() != parent:
                raise ParentGone()
            last[0] = now
            f = max(0.0, min(1.0, float(fraction)))
            if f != last[1]:
                last[1] = f
                events.put(("progress", jid, f, text))

    return report


def journal_of(workdir: Path, jid: str) -> Path:
    """Where a job's output set is journalled (see :mod:`syncfoley.core.atomic`)."""
    return workdir / "jobs" / jid / ".outputs.json"


def recheck(name: str, request: dict[str, Any], fence: Fence) -> None:
    """The request's paths as they resolve now, when the job starts: a symlink swapped in
    while it waited in the queue must not lead it outside the roots. (What the job
    opens later is checked again where it is opened: :mod:`syncfoley.core.fence`.)"""
    specs = REQUESTS[name].specs()
    for key, value in request.items():
        kind = specs[key][0].kind if key in specs else ""
        if kind == "paths_in":
            for v in value:
                fence.readable(v, key)
        elif kind == "path_in" and value is not None:
            fence.readable(value, key)
        elif kind == "path_out" and value is not None:
            fence.writable(value, key)


def execute(name: str, req: dict[str, Any], jid: str, workdir: Path, device_default: str,
            progress: Progress, cancelled: Cancel) -> dict[str, Any]:
    """Run one job: the request (checked by the daemon) read back into its type, then the API.
    A request that gives no ``device`` runs where the daemon was told to (``serve --device``)."""
    from syncfoley.bridge import api
    from syncfoley.core.atomic import check_writable

    jobdir = workdir / "jobs" / jid
    fields = {k: v for k, v in req.items() if k != "read_roots"}
    fields.setdefault("device", device_default)
    request = REQUESTS[name].from_dict(fields)

    if isinstance(request, DetectRequest):
        track = api.detect(request.video, request.detect, progress=progress)
        outdir = Path(request.outdir or jobdir)
        stem = Path(request.video).stem
        js = api.save_onsets(track, outdir / f"{stem}.onsets.json", overwrite=request.overwrite)
        mid = api.save_onsets(track, outdir / f"{stem}.onsets.mid", overwrite=request.overwrite)
        return {"onsets_json": str(js), "onsets_midi": str(mid), "onsets": len(track.onsets),
                "regions": len(track.regions), "detector": track.detector}
    if isinstance(request, GenerateRequest):
        track = api.load_onsets(request.onsets)
        gen = api.generation_request(track, start=request.start, duration=request.duration, sound=request.sound,
                                     device=request.device)
        out = Path(request.output or jobdir / f"{Path(request.onsets).stem}.foley.wav")
        api.check_request(gen)
        check_writable([out], request.overwrite)
        rendered = api.render(gen, progress=progress, cancel=cancelled)
        progress(1.0, "writing")
        wav = api.write_wav(out, rendered.audio, gen.sample_rate, overwrite=request.overwrite)
        return {"wav": str(wav), "engine": rendered.engine, "seconds": gen.duration,
                "sample_rate": gen.sample_rate, "channels": gen.channels}
    if isinstance(request, RunRequest):
        result = api.run(request.video, request.outdir or str(jobdir), detect=request.detect, sound=request.sound,
                         overwrite=request.overwrite, progress=progress, cancel=cancelled)
        return result.to_dict()
    if isinstance(request, ConformRequest):
        from syncfoley.bridge.conform.outputs import event_plan_row

        cache = request.cache or str(workdir / "conform-cache")
        roots = request.media_root
        if request.dry_run:
            plan = api.conform_plan(request.timeline, roots, request.options, cache=cache,
                                    read_roots=req.get("read_roots"))
            return {**plan.summary(), "plan": [event_plan_row(ep) for ep in plan.events],
                    "problems": [str(p) for p in plan.problems]}
        done = api.conform(request.timeline, request.outdir or str(jobdir), roots, request.options, cache=cache,
                           overwrite=request.overwrite, progress=progress, cancel=cancelled,
                           read_roots=req.get("read_roots"))
        return done.to_dict()
    raise SyncfoleyError(f"/syncfoley/{name} is not available", code="unsupported")
