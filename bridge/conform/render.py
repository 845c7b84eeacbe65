"""An event's work (detect in its source window, render its clip) and the executor seam that runs it."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from syncfoley.adapters.timeline import Problem
from syncfoley.bridge.conform.cache import ConformCache
from syncfoley.bridge.conform.jobs import EventJob, EventRender
from syncfoley.bridge.conform.plan import ConformPlan, EventPlan
from syncfoley.core.errors import Cancelled, SyncfoleyError
from syncfoley.core.progress import Cancel, Progress
from syncfoley.engine.detect.options import DetectOptions
from syncfoley.engine.types import Curve, Envelope, Onset, OnsetTrack, Region, TimeRange

if TYPE_CHECKING:
    from syncfoley.engine.generate.render import GenerationRequest, Rendered


@dataclass
class _Detected:
    """An event's onsets in clip time, ready to render."""

    track: OnsetTrack
    detector: str
    found: int
    curve: Optional[tuple[list[float], list[float], str, float]]
    seconds: float  # the detection's


def _detect_event(job: EventJob) -> _Detected:
    """Detect onsets in the event's source window and map them to clip time."""
    from syncfoley.engine.detect.onsets import detect_file

    started = time.perf_counter()
    clip_onsets: list[Onset] = []
    regions: list[Region] = []
    envelope = None
    detector = "freeze frame"
    found = 0
    curve = None
    if job.detect is not None and job.detect[1] - job.detect[0] > 0:
        track = detect_file(job.media, DetectOptions(start=job.detect[0], end=job.detect[1], detector=job.detector,
                                                     checkpoint=job.checkpoint, device=job.device))
        detector = track.detector
        found = len(track.onsets)

        def clip_time(t: float) -> float:
            return (t - job.t0) / job.speed

        for o in track.onsets:
            tau = clip_time(o.time)
            if 0 <= tau < job.length:
                clip_onsets.append(dataclasses.replace(o, time=tau))
        for r in track.regions:
            a, b = sorted((clip_time(r.start), clip_time(r.end)))
            a, b = max(a, 0.0), min(b, job.length)
            if b > a:
                regions.append(Region(a, b, r.strength))
        if track.envelope is not None and job.speed > 0 and track.envelope.values:
            env = track.envelope
            envelope = Envelope(env.rate * job.speed, env.values, clip_time(env.start))
        if track.curve is not None:
            curve = _curve_in_clip_time(track.curve, clip_time, job.length)
    clip_track = OnsetTrack(source=job.media, duration=job.length, fps=job.fps, detector=detector,
                            onsets=tuple(clip_onsets), range=TimeRange(0.0, job.length), regions=tuple(regions),
                            envelope=envelope)
    return _Detected(clip_track, detector, found, curve, time.perf_counter() - started)


def _request(job: EventJob, d: _Detected) -> "GenerationRequest":
    from syncfoley.engine.generate.render import GenerationRequest

    return GenerationRequest.of(d.track, 0.0, job.length, job.sound, sample_rate=job.sample_rate, device=job.device)


def _finish(d: _Detected, rendered: "Rendered", seconds: float) -> EventRender:
    return EventRender([(o.time, o.strength, o.confidence) for o in d.track.onsets],
                       [(r.start, r.end, r.strength) for r in d.track.regions], rendered.audio, d.detector,
                       rendered.engine, d.found, d.curve, seconds, int(rendered.info.get("batched_with", 1)))


def render_event(job: EventJob, cancel: Optional[Cancel] = None) -> EventRender:
    """One event's work, a pure function of its job: detect onsets in the source window, map them
    to clip time, render the clip's Foley."""
    from syncfoley.engine.generate.render import render

    d = _detect_event(job)
    started = time.perf_counter()
    rendered = render(_request(job, d), cancel=cancel)
    return _finish(d, rendered, d.seconds + time.perf_counter() - started)


def render_outcome(job: EventJob, cancel: Optional[Cancel] = None) -> EventRender | SyncfoleyError:
    """:func:`render_event`, with a user-facing error as the event's outcome instead of raised: one
    bad event (unreadable media) must not stop the others. A cancel still raises."""
    try:
        return render_event(job, cancel)
    except Cancelled:
        raise
    except SyncfoleyError as exc:
        return exc


def render_outcomes(jobs: Sequence[EventJob], cancel: Optional[Cancel] = None) -> list[EventRender | SyncfoleyError]:
    """Several events' work, each outcome as :func:`render_outcome`'s, with the diffusion engine's
    renders batched together (:func:`~syncfoley.engine.generate.render.render_many`): many short
    events fill the GPU's batches. Each event's ``seconds`` is its share of the batch's time."""
    from syncfoley.engine.generate.render import check_request, render_many

    out: list[EventRender | SyncfoleyError | None] = [None] * len(jobs)
    ready: list[tuple[int, _Detected, "GenerationRequest"]] = []
    engines: list[str] = []
    for i, job in enumerate(jobs):
        try:
            d = _detect_event(job)
            request = _request(job, d)
            engines.append(check_request(request))
            ready.append((i, d, request))
        except Cancelled:
            raise
        except SyncfoleyError as exc:
            out[i] = exc
    if ready:
        started = time.perf_counter()
        try:
            rendered = render_many([r for _, _, r in ready], cancel=cancel, engines=engines)
        except Cancelled:
            raise
        except SyncfoleyError as exc:
            for i, _, _ in ready:
                out[i] = exc
        else:
            share = (time.perf_counter() - started) / len(ready)
            for (i, d, _), r in zip(ready, rendered):
                out[i] = _finish(d, r, d.seconds + share)
    return [o if o is not None else SyncfoleyError("event produced no outcome") for o in out]


def _curve_in_clip_time(c: Curve, clip_time: Callable[[float], float], length: float
                        ) -> tuple[list[float], list[float], str, float]:
    pts = sorted((clip_time(t), v) for t, v in zip(c.times, c.values))
    pts = [(t, v) for t, v in pts if 0 <= t <= length]
    step = max(1, len(pts) // 400)  # a report's sparkline, not the detector's full curve
    pts = pts[::step]
    return [round(t, 4) for t, _ in pts], [round(float(v), 5) for _, v in pts], c.label, float(c.threshold)


Executor = Callable[[Sequence[EventJob], Callable[[int, EventJob, Any], None]], None]


def serial_executor(cancel: Optional[Cancel] = None) -> Executor:
    """Run jobs one after another in this process (models stay loaded between events).

    The seam for other schedulers (a process pool, a cluster): call ``done(i, job,
    result_or_error)`` once per job, in any order.
    """

    def run(jobs: Sequence[EventJob], done: Callable[[int, EventJob, Any], None]) -> None:
        for i, job in enumerate(jobs):
            if cancel is not None and cancel():
                raise Cancelled("conform cancelled")
            done(i, job, render_outcome(job, cancel))

    return run


def execute(
    p: ConformPlan,
    cache: ConformCache,
    progress: Optional[Progress] = None,
    cancel: Optional[Cancel] = None,
    executor: Optional[Executor] = None,
) -> dict[str, EventRender]:
    """Compute what the plan says to compute (into the cache), read back what it reuses.

    Returns the renders by job key; an event whose work failed gets a problem and no render.
    """
    results: dict[str, EventRender] = {}
    # Events showing the same source window with the same options share one job.
    by_key: dict[str, list[EventPlan]] = {}
    for ep in p.to_compute:
        if ep.job is not None:
            by_key.setdefault(ep.job.key, []).append(ep)
    jobs = [eps[0].job for eps in by_key.values() if eps[0].job is not None]
    total = max(1, len(jobs))
    finished = [0]

    def done(i: int, job: EventJob, result: Any) -> None:
        finished[0] += 1
        numbers = ", ".join(str(ep.event.number) for ep in by_key.get(job.key, []))
        if isinstance(result, SyncfoleyError):
            for ep in by_key.get(job.key, []):
                p.problems.append(Problem(f"event {ep.event.number} ({ep.event.where})", str(result),
                                          ep.event.number))
            state = f"failed: {result}"
        else:
            results[job.key] = result
            cache.put(job.key, result)
            state = f"{len(result.onsets)} onsets"
        if progress is not None:
            progress(finished[0] / total, f"event {numbers}: {state} ({finished[0]}/{len(jobs)})")

    (executor or serial_executor(cancel))(jobs, done)
    for i, ep in enumerate(p.events):
        if ep.job is None or not ep.cached:
            continue
        got = results.get(ep.job.key) or cache.get(ep.job.key)
        if got is None:  # removed or damaged since planning: compute it now, and say so
            got = render_event(ep.job, cancel)
            cache.put(ep.job.key, got)
            p.events[i] = dataclasses.replace(ep, cached=False)
        results[ep.job.key] = got
    return results
