"""Batch conform: a whole cut in, Foley conformed to the edit out, redoing only what changed.

``conform(timeline, media_roots, outdir)`` reads the cut (:mod:`syncfoley.adapters.timeline`),
finds each event's media (:mod:`.media_lookup`), and for each picture event detects
the onsets in the source range it shows, plus handles, and renders Foley for it at
record time: a speed change (``M2``) maps source onsets to the record frames they
land on, a freeze frame gets no hits. The per-event work is a pure function of an
:class:`EventJob` (media identity, source window, options), so its result is cached
under the job's key and a re-conform of a changed cut renders only new or changed
events. Then the outputs are laid out (:func:`syncfoley.bridge.conform.outputs.write`).

An event that cannot be conformed (media missing or too short, an unreadable file,
a line of the list that cannot be read) is reported with its line or number and
left out; the others are conformed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from syncfoley.adapters import edl
from syncfoley.adapters.timeline import Cut, CutEvent, Problem
from syncfoley.adapters.timeline import read as read_cut
from syncfoley.bridge.conform.cache import ConformCache
from syncfoley.bridge.conform.jobs import EventJob
from syncfoley.bridge.conform.media_lookup import VIDEO_EXTENSIONS, MediaIndex, MediaMatch
from syncfoley.bridge.conform.options import ConformOptions
from syncfoley.core.errors import SyncfoleyError, TimelineError
from syncfoley.core.identity import file_identity
from syncfoley.engine.generate.sound import SoundOptions
from syncfoley.engine.types import OnsetTrack

# In every job key: entries of another version are never looked up. 2: onsets keep their confidence.
CACHE_VERSION = 2


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


def plan(
    timeline: str | Path,
    media_roots: Sequence[str | Path],
    options: ConformOptions = ConformOptions(),
    cache: Optional[ConformCache] = None,
    read_roots: Optional[Sequence[str | Path]] = None,
) -> ConformPlan:
    """Read the cut, find the media, and decide per event: compute, reuse or skip (with why).
    ``read_roots``: use no media outside these folders, whatever the timeline names."""
    from syncfoley.engine.detect.onsets import check_detector

    # A bad detector, preset, engine or checkpoint fails before the cut or any media is read.
    check_detector(options.detector, None, options.checkpoint)
    sound = _sound_identity(options)
    detector = _detector_identity(options)
    cut = read_cut(timeline, rate=options.rate, strict=False)
    check_bounds(cut)
    index = MediaIndex(media_roots, allowed=read_roots)
    if options.rate is None and cut.kind == "edl" and cut.rate_source == "frame fields":
        better = _rate_from_media(cut, index)
        if better is not None:
            guess = cut.fps
            cut = read_cut(timeline, rate=better, strict=False)
            note = (f"{Path(cut.path).name}: the list does not give its frame rate and its timecode reads as "
                    f"{guess} fps; its media run at {better}, so the list is read at {better} (--rate overrides)")
            cut = dataclasses.replace(cut, rate_source="media", notes=cut.notes + (note,))
    check_bounds(cut)
    plans = [_plan_event(ev, cut, index, options, cache, sound, detector) for ev in cut.events]
    # Event numbers can repeat in a messy list (or restart after 999): file names may not.
    seen: dict[str, int] = {}
    for i, ep in enumerate(plans):
        n = seen[ep.clip_name] = seen.get(ep.clip_name, 0) + 1
        if n > 1:
            plans[i] = dataclasses.replace(ep, clip_name=f"{ep.clip_name}_{n}")
    return ConformPlan(cut, options, plans, list(cut.problems))


# A conform holds its whole stem in memory, like one render, and writes files per event.
MAX_EVENTS = 10000


def check_bounds(cut: Cut) -> None:
    """Refuse, before any work, a timeline no conform can hold: too many events, or a
    record span longer than one render may be (a 10-hour freeze frame, a 1e12 duration)."""
    from syncfoley.engine.generate.render import MAX_RENDER_SECONDS

    name = Path(cut.path).name
    if len(cut.events) > MAX_EVENTS:
        raise TimelineError(f"{name}: {len(cut.events)} picture events; a conform takes at most {MAX_EVENTS} "
                            "(conform it reel by reel)")
    span = (cut.record_end - cut.record_start) / float(cut.rate)
    if span > MAX_RENDER_SECONDS:
        raise TimelineError(f"{name}: the cut runs {span:.0f} s from first to last event "
                            f"({cut.tc(cut.record_start)} - {cut.tc(cut.record_end)}); a conform renders at most "
                            f"{MAX_RENDER_SECONDS:.0f} s (conform it reel by reel)")


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
    """The sound as it will be rendered, read from the sound's field definitions: every field the
    resolved engine reads (the diffusion sampling fields only for the diffusion engine, the seed
    apart), with defaults filled in and the engine ``auto`` picks, and the identity of every file
    it names. The same request spelled two ways (CLI defaults, a bare API call) shares entries."""
    from syncfoley.engine.generate.diffusion import resolve_checkpoint
    from syncfoley.engine.generate.render import GenerationRequest, check_request

    sound = options.sound
    probe = OnsetTrack(source="conform", duration=1.0, fps=24.0, detector="check", onsets=())
    request = GenerationRequest.of(probe, 0.0, 1.0, sound, sample_rate=options.sample_rate, device=options.device)
    engine = check_request(request)
    identity: dict[str, Any] = {}
    files: dict[str, Any] = {}
    for name, (spec, _) in SoundOptions.specs().items():
        if name == "seed" or spec.group == "diffusion":
            continue
        identity[name] = getattr(sound, name)
        if spec.kind == "path_in":
            files[name] = file_identity(getattr(sound, name))
    identity["engine"] = engine
    if engine == "diffusion":
        diffusion = dataclasses.asdict(request.diffusion)
        diffusion.pop("device", None)
        identity["diffusion"] = diffusion
        files["diffusion_checkpoint"] = file_identity(resolve_checkpoint(sound.diffusion_checkpoint))
    return {**identity, "files": files}


def _detector_identity(options: ConformOptions) -> Any:
    """The onset network's checkpoint as the detector will load it (``auto`` may use one too)."""
    if options.detector not in ("auto", "neural"):
        return None
    from syncfoley.engine.detect.onset_checkpoint import resolve_checkpoint

    return file_identity(resolve_checkpoint(options.checkpoint))


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
        "sr": options.sample_rate, "seed": options.sound.seed,
    }
    key = hashlib.sha256(json.dumps(key_material, sort_keys=True, default=str).encode()).hexdigest()[:32]
    job = EventJob(key=key, media=str(match.path), fps=match.info.fps, t0=t0, speed=ev.speed, length=length,
                   detect=detect, detector=options.detector, checkpoint=options.checkpoint, device=options.device,
                   sound=options.sound.replace(seed=int(key[:7], 16) ^ options.sound.seed),
                   sample_rate=options.sample_rate)
    return EventPlan(ev, name, match, clip_in, clip_out, job, cache is not None and cache.has(key), None,
                     tuple(warnings))


def _whole(frames: float) -> int:
    return 1 << 30 if math.isinf(frames) else int(math.floor(frames + 1e-6))
