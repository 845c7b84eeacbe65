"""Batch conform: a whole cut in, Foley conformed to the edit out, redoing only what changed.

``conform(timeline, media_roots, outdir)`` reads the cut (:mod:`syncfoley.adapters.timeline`),
finds each event's media (:mod:`.media_lookup`), and for each picture event detects
the onsets in the source range it shows, plus handles, and renders Foley for it at
record time: a speed change (``M2``) maps source onsets to the record frames they
land on, a freeze frame gets no hits. The per-event work is a pure function of an
:class:`EventJob` (media identity, source window, options), so its result is cached
under the job's key and a re-conform of a changed cut renders only new or changed
events. Then the outputs are laid out (:func:`syncfoley.bridge.conform_outputs.write`).

An event that cannot be conformed (media missing or too short, an unreadable file,
a line of the list that cannot be read) is reported with its line or number and
left out; the others are conformed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from syncfoley.adapters import edl
from syncfoley.adapters.timeline import Cut, CutEvent, Problem
from syncfoley.adapters.timeline import read as read_cut
from syncfoley.engine.errors import Cancelled, RequestError, SyncfoleyError
from syncfoley.engine.types import Curve, Envelope, Onset, OnsetTrack, Region, TimeRange

from .media_lookup import VIDEO_EXTENSIONS, MediaIndex, MediaMatch

Progress = Callable[[float, str], None]
CACHE_VERSION = 1
# Sound fields a conform passes through to generation (named as the CLI and the daemon name them).
SOUND_FIELDS = ("preset", "samples", "reference", "text", "embedding", "engine", "clap", "diffusion_checkpoint",
                "steps", "guidance", "batch", "channels")


@dataclass(frozen=True)
class ConformOptions:
    """How to conform; copied per request, never changed in place."""

    handles: int = 12  # frames of extra Foley before and after each event, so a trim does not cut a hit
    rate: Optional[str] = None  # the cut's frame rate when the list does not say
    detector: str = "auto"
    checkpoint: Optional[str] = None
    device: str = "auto"
    seed: int = 0
    sample_rate: int = 48000
    sound: tuple[tuple[str, Any], ...] = ()  # (field, value) pairs of SOUND_FIELDS

    def sound_fields(self) -> dict[str, Any]:
        return dict(self.sound)

    @staticmethod
    def with_sound(fields: Mapping[str, Any], **options: Any) -> "ConformOptions":
        unknown = sorted(set(fields) - set(SOUND_FIELDS))
        if unknown:
            raise RequestError(f"unknown sound field(s) {unknown}; known: {', '.join(SOUND_FIELDS)}")
        sound = tuple(sorted((k, v) for k, v in fields.items() if v is not None))
        return ConformOptions(sound=sound, **options)

    def check(self) -> None:
        if not isinstance(self.handles, int) or not 0 <= self.handles <= 600:
            raise RequestError(f"handles must be 0..600 frames, got {self.handles!r}")


def options_from_fields(fields: Mapping[str, Any]) -> ConformOptions:
    """Options from flat fields, as the CLI's options and the daemon's JSON name them."""
    sound = {k: fields.get(k) for k in SOUND_FIELDS}
    extra = {k: fields[k] for k in ("handles", "rate", "detector", "checkpoint", "device", "seed")
             if fields.get(k) is not None}
    return ConformOptions.with_sound(sound, **extra)


@dataclass(frozen=True)
class EventJob:
    """Everything one event's Foley depends on; its ``key`` names the cached result.

    Clip time 0 is the clip's first sample; source time ``t0 + tau * speed`` (seconds
    from the media's first frame) is on screen at clip time ``tau``.
    """

    key: str
    media: str
    fps: float
    t0: float
    speed: float
    length: float
    detect: Optional[tuple[float, float]]  # source seconds to analyse; None for a freeze frame
    detector: str
    checkpoint: Optional[str]
    device: str
    sound: tuple[tuple[str, Any], ...]
    sample_rate: int
    seed: int


@dataclass(frozen=True)
class EventPlan:
    """One picture event: its media, the record frames its clip spans, and its job (or why it has none)."""

    event: CutEvent
    clip_name: str
    match: Optional[MediaMatch] = None
    clip_in: int = 0  # record frames (timecode-absolute) of the clip's first and last+1 frame
    clip_out: int = 0
    job: Optional[EventJob] = None
    cached: bool = False
    problem: Optional[Problem] = None
    warnings: tuple[str, ...] = ()


@dataclass
class EventRender:
    """What an event's work returns (and the cache keeps)."""

    onsets: list[tuple[float, float]]  # (clip seconds, strength), hits inside the clip
    regions: list[tuple[float, float, float]]
    audio: np.ndarray
    detector: str
    engine: str
    source_onsets: int  # onsets the detector found in the analysed source range
    curve: Optional[tuple[list[float], list[float], str, float]] = None  # clip seconds, values, label, threshold
    seconds: float = 0.0  # how long the work took when it was computed


@dataclass
class ConformPlan:
    cut: Cut
    options: ConformOptions
    events: list[EventPlan]
    problems: list[Problem] = field(default_factory=list)

    @property
    def to_compute(self) -> list[EventPlan]:
        return [p for p in self.events if p.job is not None and not p.cached]

    @property
    def reused(self) -> list[EventPlan]:
        return [p for p in self.events if p.job is not None and p.cached]

    def summary(self) -> dict[str, int]:
        """Events to compute, to reuse, skipped (no media, too short...), and list lines left unread."""
        return {"events": len(self.events), "compute": len(self.to_compute), "reuse": len(self.reused),
                "skipped": sum(1 for p in self.events if p.job is None), "unread": len(self.problems)}


class ConformCache:
    """Finished events by job key: ``KEY.npz`` (audio) and ``KEY.json`` (onsets, detector, curve),
    each written to a temporary name and renamed, so a crash never leaves half an entry."""

    def __init__(self, folder: Optional[str | Path]) -> None:
        self.folder = Path(folder) if folder is not None else None

    def has(self, key: str) -> bool:
        return self.folder is not None and (self.folder / f"{key}.json").is_file() and \
            (self.folder / f"{key}.npz").is_file()

    def get(self, key: str) -> Optional[EventRender]:
        if not self.has(key):
            return None
        assert self.folder is not None
        try:
            meta = json.loads((self.folder / f"{key}.json").read_text())
            with np.load(self.folder / f"{key}.npz", allow_pickle=False) as z:
                audio = z["audio"]
        except (OSError, ValueError, KeyError):
            return None  # a damaged entry is recomputed, not trusted
        curve = tuple(meta["curve"]) if meta.get("curve") else None
        return EventRender([tuple(o) for o in meta["onsets"]], [tuple(r) for r in meta["regions"]], audio,
                           meta["detector"], meta["engine"], meta["source_onsets"], curve, meta.get("seconds", 0.0))  # type: ignore[arg-type]

    def put(self, key: str, r: EventRender) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:8]
        tmp_npz = self.folder / f".{key}.{tag}.npz"
        tmp_json = self.folder / f".{key}.{tag}.json"
        try:
            np.savez(tmp_npz, audio=r.audio)
            tmp_json.write_text(json.dumps({
                "onsets": r.onsets, "regions": r.regions, "detector": r.detector, "engine": r.engine,
                "source_onsets": r.source_onsets, "curve": list(r.curve) if r.curve else None, "seconds": r.seconds,
            }))
            os.replace(tmp_npz, self.folder / f"{key}.npz")
            os.replace(tmp_json, self.folder / f"{key}.json")  # last: its presence marks the entry complete
        finally:
            for t in (tmp_npz, tmp_json):
                if t.exists():
                    t.unlink()


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "syncfoley" / "conform"


def plan(
    timeline: str | Path,
    media_roots: Sequence[str | Path],
    options: ConformOptions = ConformOptions(),
    cache: Optional[ConformCache] = None,
    read_roots: Optional[Sequence[str | Path]] = None,
) -> ConformPlan:
    """Read the cut, find the media, and decide per event: compute, reuse or skip (with why).
    ``read_roots``: use no media outside these folders, whatever the timeline names."""
    from syncfoley.engine.onsets import check_detector

    options.check()
    # A bad detector, preset, engine or checkpoint fails before the cut or any media is read.
    check_detector(options.detector, None, options.checkpoint)
    sound = _sound_identity(options)
    detector = _detector_identity(options)
    cut = read_cut(timeline, rate=options.rate, strict=False)
    index = MediaIndex(media_roots, allowed=read_roots)
    if options.rate is None and cut.kind == "edl" and cut.rate_source == "frame fields":
        better = _rate_from_media(cut, index)
        if better is not None:
            guess = cut.fps
            cut = read_cut(timeline, rate=better, strict=False)
            note = (f"{Path(cut.path).name}: the list does not give its frame rate and its timecode reads as "
                    f"{guess} fps; its media run at {better}, so the list is read at {better} (--rate overrides)")
            cut = dataclasses.replace(cut, rate_source="media", notes=cut.notes + (note,))
    plans = [_plan_event(ev, cut, index, options, cache, sound, detector) for ev in cut.events]
    # Event numbers can repeat in a messy list (or restart after 999): file names may not.
    seen: dict[str, int] = {}
    for i, ep in enumerate(plans):
        n = seen[ep.clip_name] = seen.get(ep.clip_name, 0) + 1
        if n > 1:
            plans[i] = dataclasses.replace(ep, clip_name=f"{ep.clip_name}_{n}")
    return ConformPlan(cut, options, plans, list(cut.problems))


_MEDIA_SUFFIXES = {".exr", ".dpx", ".r3d", ".braw", ".ari", ".arx", ".tif", ".tiff", ".jpg", ".png", ".wav"}


def _clip_name(ev: CutEvent) -> str:
    name = ev.name
    if Path(name).suffix.lower() in VIDEO_EXTENSIONS | _MEDIA_SUFFIXES:
        name = Path(name).stem
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:40].strip("._") or "event"
    return f"{ev.number:03d}_{safe}"


def _rate_from_media(cut: Cut, index: MediaIndex) -> Optional[str]:
    """The rate a CMX list runs at, when the list does not say, from its media.

    Without ``FCM`` or ``;`` the reader can only guess from the largest frame field
    (24 when every field is below 24), and timecode labels cannot tell 23.976 from
    24 at all. When the media the list names all run at one known rate whose
    labels fit, that rate is the list's.
    """
    seen = set()
    for ev in cut.events[:24]:
        for path, _ in index.candidates(ev)[:1]:
            try:
                fps = index.probe(path).fps
            except SyncfoleyError:
                continue
            seen.add(edl.rate_named(fps))
    if len(seen) != 1 or None in seen:
        return None
    name = seen.pop()
    assert name is not None
    if edl.RATES[name] == cut.rate or round(edl.RATES[name]) < cut.fps:
        return None
    return name


def _sound_identity(options: ConformOptions) -> dict[str, Any]:
    """The sound as it will be rendered: defaults filled in and the engine ``auto`` picks, so the
    same request spelled two ways (CLI defaults, a bare API call) shares cache entries."""
    from . import api

    kw = api.sound_kwargs(options.sound_fields(), options.device)
    probe = OnsetTrack(source="conform", duration=1.0, fps=24.0, detector="check", onsets=())
    engine = api.check_request(api.generation_request(probe, duration=1.0, sample_rate=options.sample_rate, **kw))
    diffusion = dataclasses.asdict(kw.pop("diffusion"))
    diffusion.pop("device", None)
    kw["engine"] = engine
    if engine == "diffusion":
        kw["diffusion"] = diffusion
    files = {k: _file_identity(v) for k, v in kw.items() if k in ("samples", "reference", "embedding", "clap")}
    if engine == "diffusion":
        from syncfoley.engine.diffusion import resolve_checkpoint

        files["diffusion_checkpoint"] = _file_identity(resolve_checkpoint(diffusion.get("checkpoint")))
    return {**{k: v for k, v in kw.items() if k != "seed"}, "files": files}


def _detector_identity(options: ConformOptions) -> Any:
    """The onset network's checkpoint as the detector will load it (``auto`` may use one too)."""
    if options.detector not in ("auto", "neural"):
        return None
    from syncfoley.engine.onset_checkpoint import resolve_checkpoint

    return _file_identity(resolve_checkpoint(options.checkpoint))


def _plan_event(ev: CutEvent, cut: Cut, index: MediaIndex, options: ConformOptions,
                cache: Optional[ConformCache], sound_identity: dict[str, Any], detector_identity: Any) -> EventPlan:
    name = _clip_name(ev)
    try:
        match = index.resolve(ev, cut)
    except SyncfoleyError as exc:
        return EventPlan(ev, name, problem=Problem(f"event {ev.number} ({ev.where})", str(exc), ev.number))
    rate = float(cut.rate)
    dur = match.info.duration
    warnings: list[str] = []
    if abs(match.info.fps - rate) > 0.01 * rate:
        warnings.append(f"media runs at {match.info.fps:.3f} fps, the cut at {rate:.3f}; source timecode is "
                        "counted at the cut's rate")
    # How far the media lets the clip reach beyond the event's record in and out.
    s_in = match.seconds(ev.source_at(ev.record_in), rate)
    s_out = match.seconds(ev.source_at(ev.record_out), rate)
    if ev.speed > 0:
        room_in, room_out = s_in * rate / ev.speed, (dur - s_out) * rate / ev.speed
    elif ev.speed < 0:
        room_in, room_out = (dur - s_in) * rate / -ev.speed, s_out * rate / -ev.speed
    else:
        room_in = room_out = math.inf
    room_in = min(room_in, ev.record_in)  # a clip cannot start before 00:00:00:00
    pre = min(ev.lead + options.handles, _whole(room_in))
    post = min(ev.tail + options.handles, _whole(room_out))
    pre, post = max(pre, 0), max(post, 0)
    if pre < ev.lead or post < ev.tail:
        warnings.append(f"the media ends before the transition does; its overlap is shortened to "
                        f"{min(pre, ev.lead)} + {min(post, ev.tail)} frames")
        ev = dataclasses.replace(ev, lead=min(pre, ev.lead), tail=min(post, ev.tail),
                                 fade_in=min(ev.fade_in, min(pre, ev.lead) + ev.record_frames),
                                 fade_out=min(ev.fade_out, min(post, ev.tail) + ev.record_frames))
    if pre - ev.lead < options.handles or post - ev.tail < options.handles:
        warnings.append(f"handles shortened to {pre - ev.lead} frames before and {post - ev.tail} after: "
                        "the media (or 00:00:00:00) ends there")
    clip_in, clip_out = ev.record_in - pre, ev.record_out + post
    length = (clip_out - clip_in) / rate
    t0 = match.seconds(ev.source_at(clip_in), rate)
    if ev.speed == 0:
        detect = None
        warnings.append("freeze frame: a still picture has no action, so no hits")
    else:
        a, b = sorted((t0, t0 + length * ev.speed))
        detect = (max(0.0, a), min(dur, b))
    st = match.path.stat()
    key_material = {
        "v": CACHE_VERSION, "media": str(match.path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "t0": round(t0, 6), "speed": round(ev.speed, 6), "length": round(length, 6),
        "detect": [round(x, 6) for x in detect] if detect else None, "detector": options.detector,
        "checkpoint": detector_identity, "sound": sound_identity,
        "sr": options.sample_rate, "seed": options.seed,
    }
    key = hashlib.sha256(json.dumps(key_material, sort_keys=True, default=str).encode()).hexdigest()[:32]
    job = EventJob(key=key, media=str(match.path), fps=match.info.fps, t0=t0, speed=ev.speed, length=length,
                   detect=detect, detector=options.detector, checkpoint=options.checkpoint, device=options.device,
                   sound=options.sound, sample_rate=options.sample_rate, seed=int(key[:7], 16) ^ options.seed)
    return EventPlan(ev, name, match, clip_in, clip_out, job, cache is not None and cache.has(key), None,
                     tuple(warnings))


def _whole(frames: float) -> int:
    return 1 << 30 if math.isinf(frames) else int(math.floor(frames + 1e-6))


def _file_identity(path: Any) -> Any:
    """A file's identity for cache keys: path, size and modification time (a folder: its files')."""
    if not path:
        return None
    p = Path(str(path))
    if p.is_dir():
        return [_file_identity(c) for c in sorted(p.iterdir()) if c.is_file()]
    try:
        st = p.stat()
    except OSError:
        return str(p)
    return [str(p.resolve()), st.st_size, st.st_mtime_ns]


def render_event(job: EventJob, cancel: Optional[Callable[[], bool]] = None) -> EventRender:
    """One event's work, a pure function of its job: detect onsets in the source window, map them
    to clip time, render the clip's Foley."""
    from . import api

    started = time.perf_counter()
    clip_onsets: list[Onset] = []
    regions: list[Region] = []
    envelope = None
    detector = "freeze frame"
    found = 0
    curve = None
    if job.detect is not None and job.detect[1] - job.detect[0] > 0:
        track = api.detect(job.media, start=job.detect[0], end=job.detect[1], detector=job.detector,
                           checkpoint=job.checkpoint, device=job.device)
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
    fields = dict(job.sound)
    request = api.generation_request(clip_track, start=0.0, duration=job.length, sample_rate=job.sample_rate,
                                     **{**api.sound_kwargs(fields, job.device), "seed": job.seed})
    rendered = api.render(request, cancel=cancel)
    return EventRender([(o.time, o.strength) for o in clip_track.onsets],
                       [(r.start, r.end, r.strength) for r in regions], rendered.audio, detector, rendered.engine,
                       found, curve, time.perf_counter() - started)


def render_outcome(job: EventJob, cancel: Optional[Callable[[], bool]] = None) -> EventRender | SyncfoleyError:
    """:func:`render_event`, with a user-facing error as the event's outcome instead of raised: one
    bad event (unreadable media) must not stop the others. A cancel still raises."""
    try:
        return render_event(job, cancel)
    except Cancelled:
        raise
    except SyncfoleyError as exc:
        return exc


def _curve_in_clip_time(c: Curve, clip_time: Callable[[float], float], length: float
                        ) -> tuple[list[float], list[float], str, float]:
    pts = sorted((clip_time(t), v) for t, v in zip(c.times, c.values))
    pts = [(t, v) for t, v in pts if 0 <= t <= length]
    step = max(1, len(pts) // 400)  # a report's sparkline, not the detector's full curve
    pts = pts[::step]
    return [round(t, 4) for t, _ in pts], [round(float(v), 5) for _, v in pts], c.label, float(c.threshold)


Executor = Callable[[Sequence[EventJob], Callable[[int, EventJob, Any], None]], None]


def serial_executor(cancel: Optional[Callable[[], bool]] = None) -> Executor:
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
    cancel: Optional[Callable[[], bool]] = None,
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
