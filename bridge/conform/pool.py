"""Conform events in parallel: worker processes behind conform's executor seam.

An event's work (:func:`~syncfoley.bridge.conform.render.render_event`) is a pure function of
its :class:`~syncfoley.bridge.conform.jobs.EventJob`, so events can run in any process and
any order. Only that work is parallel: results come back to this process, which
writes the cache, reports progress and lays out the outputs, as with one process.

Workers are spawned, not forked: forking a process that already runs torch, numba
or decoder threads can deadlock. Each worker's own thread pools get an equal share
of the cores, so N workers do not run N times the cores' worth of threads.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Optional, Sequence

from syncfoley.bridge.conform.jobs import EventJob
from syncfoley.bridge.conform.render import Executor, render_outcome, serial_executor
from syncfoley.core.errors import Cancelled, SyncfoleyError
from syncfoley.core.fence import Fence, current, install
from syncfoley.core.progress import Cancel


def resolve_jobs(jobs: int) -> int:
    """``jobs`` as a user gives it (checked by ConformOptions): 0 means one per core."""
    return jobs or (os.cpu_count() or 1)


def _start_worker(threads: int, fence: Optional[Fence] = None) -> None:
    # The daemon's fence goes with the events: a worker reads samples and media too.
    install(fence)
    # Before anything in this process imports numba or torch: both size their thread pools from
    # these on import. Importing torch here to set it would cost the built-in engine, which never
    # imports torch, a second or two per worker.
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Stop the workers without waiting for the events they are on (a cancel, an error)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    # Older Pythons have no public way; shutdown() forgets the processes and the results pipe,
    # so take them first.
    procs = list((getattr(pool, "_processes", None) or {}).values())
    results = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(5)
    # A worker killed while sending a result leaves half a message in the pipe, and the pool's
    # manager thread waiting for the rest: interpreter exit then joins it for ever (seen once in
    # CI, 2026-12-06). With this end closed too and the workers gone, that read ends (EOF).
    if results is not None:
        results.close()


def pool_executor(workers: int, cancel: Optional[Cancel] = None) -> Executor:
    """Run the jobs in ``workers`` processes; ``done(i, job, result_or_error)`` is called here, in
    the order they finish. One worker, or one job, runs in this process (no start-up cost)."""

    def run(jobs: Sequence[EventJob], done: Callable[[int, EventJob, Any], None]) -> None:
        n = min(workers, len(jobs))
        if n <= 1:
            serial_executor(cancel)(jobs, done)
            return
        threads = max(1, (os.cpu_count() or 1) // n)
        pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(threads, current()))
        pending: dict[Future, tuple[int, EventJob]] = {}
        clean = False
        try:
            pending = {pool.submit(render_outcome, job): (i, job) for i, job in enumerate(jobs)}
            while pending:
                if cancel is not None and cancel():
                    raise Cancelled("conform cancelled")
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in finished:
                    i, job = pending.pop(fut)
                    try:
                        result = fut.result()
                    except BrokenProcessPool as exc:
                        raise SyncfoleyError(
                            f"a conform worker process died (out of memory, or a crash in a decoder) while "
                            f"rendering {job.media}; run again with --jobs 1 to see which event") from exc
                    done(i, job, result)
            clean = True
        finally:
            if clean:
                pool.shutdown(wait=True)
            else:
                _stop_now(pool)

    return run
