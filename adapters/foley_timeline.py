"""A conformed cut as OpenTimelineIO and as a CMX 3600 audio EDL: the Foley clips at record time.

Each Foley clip WAV carries its record timecode as its own (BWF TimeReference), so
its source range is timecode-absolute and equal to where it sits on the record
side: the shape DaVinci Resolve imports and conforms by timecode. A dissolve in
the picture is a transition between the two Foley clips. Clips that would overlap
on one track (events on several picture tracks) go to a second Foley track.
Onset markers sit on the Foley clips, in the clip's (timecode-absolute) time, with
``metadata["syncfoley"]``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional, Sequence

from syncfoley.adapters import edl
from syncfoley.adapters.aaf_metadata import audio_dissolve, mob_id
from syncfoley.adapters.timeline import Cut, CutEvent, read_otio
from syncfoley.engine.types import onset_label

NAMESPACE = "syncfoley"


@dataclass(frozen=True)
class FoleyClip:
    event: CutEvent
    wav: Path
    clip_in: int  # record frames (timecode-absolute) the WAV spans, handles included
    clip_out: int
    onsets: tuple[tuple[float, float, float], ...]  # (record frame, strength, confidence)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PictureClip:
    event: CutEvent
    media: Optional[Path]  # None: the media was not found
    # The media's first frame and length, in frames at the cut's rate (its start timecode).
    media_start: int = 0
    media_frames: int = 0


def tracks_for(clips: Sequence[FoleyClip]) -> list[list[FoleyClip]]:
    """Foley clips in record order, on as few tracks as keep their visible ranges apart."""
    lanes: list[list[FoleyClip]] = []
    for c in sorted(clips, key=lambda c: (c.event.record_in, c.event.number)):
        for lane in lanes:
            if lane[-1].event.record_out <= c.event.record_in:
                lane.append(c)
                break
        else:
            lanes.append([c])
    return lanes


def build(cut: Cut, pictures: Sequence[PictureClip], foley: Sequence[FoleyClip], name: str) -> Any:
    """The cut as a timeline (or, for an OTIO input, the input itself) plus the Foley tracks."""
    import opentimelineio as otio

    rate = float(cut.rate)
    rt = otio.opentime.RationalTime
    tr = otio.opentime.TimeRange
    if cut.kind == "otio":
        timeline = read_otio(cut.path)  # read afresh: the Foley tracks are added to it
        origin = int(round(timeline.global_start_time.rescaled_to(rate).value)) \
            if timeline.global_start_time is not None else 0
    else:
        origin = cut.record_start
        timeline = otio.schema.Timeline(name=name, global_start_time=rt(origin, rate))
        timeline.tracks.append(_picture_track(cut, pictures, origin))
    timeline.metadata[NAMESPACE] = {"conformed_from": str(cut.path), "rate": str(cut.rate),
                                    "drop_frame": cut.drop_frame}
    # An OTIO track may be trimmed (OTIO's CMX reader keeps the record start as a negative track
    # start); the Foley tracks take the first picture track's trim so that they line up with it.
    pictures_track = timeline.video_tracks()[0] if timeline.video_tracks() else None
    trim = pictures_track.source_range if pictures_track is not None else None
    shift = -int(round(trim.start_time.rescaled_to(rate).value)) if trim is not None else 0
    for n, lane in enumerate(tracks_for(foley), start=1):
        track = otio.schema.Track(name="Foley" if n == 1 else f"Foley {n}", kind=otio.schema.TrackKind.Audio,
                                  source_range=copy.deepcopy(trim) if trim is not None else None)
        at = origin + shift
        prev: Optional[FoleyClip] = None
        for c in lane:
            ev = c.event
            if ev.record_in > at:
                track.append(otio.schema.Gap(source_range=tr(rt(0, rate), rt(ev.record_in - at, rate))))
            elif prev is not None and ev.fade_in and prev.event.record_out == ev.record_in:
                fade = otio.schema.Transition(
                    name="dissolve", transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=rt(ev.lead, rate), out_offset=rt(ev.fade_in - ev.lead, rate))
                fade.metadata["AAF"] = audio_dissolve(ev.lead)
                track.append(fade)
            ref = otio.schema.ExternalReference(
                target_url=str(c.wav.resolve()), available_range=tr(rt(c.clip_in, rate), rt(c.clip_out - c.clip_in, rate)))
            ref.metadata["AAF"] = {"MobID": mob_id(c.wav)}
            clip = otio.schema.Clip(name=c.wav.name, media_reference=ref,
                                    source_range=tr(rt(ev.record_in, rate), rt(ev.record_frames, rate)))
            clip.metadata[NAMESPACE] = {"kind": "foley", "event": ev.number, **c.metadata}
            for i, (frame, strength, confidence) in enumerate(c.onsets, start=1):
                m = otio.schema.Marker(name=onset_label(i, confidence), marked_range=tr(rt(frame, rate), rt(0, rate)),
                                       color=otio.schema.MarkerColor.RED)
                m.metadata[NAMESPACE] = {"kind": "onset", "event": ev.number, "index": i,
                                         "record_tc": cut.tc(int(frame)), "strength": round(strength, 4),
                                         "confidence": round(confidence, 4)}
                clip.markers.append(m)
            track.append(clip)
            at = ev.record_out
            prev = c
        timeline.tracks.append(track)
    return timeline


def _picture_track(cut: Cut, pictures: Sequence[PictureClip], origin: int) -> Any:
    import opentimelineio as otio

    rate = float(cut.rate)
    rt = otio.opentime.RationalTime
    tr = otio.opentime.TimeRange
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    at = origin
    for pc in sorted(pictures, key=lambda p: p.event.record_in):
        ev = pc.event
        if ev.record_in < at:
            continue  # overlaps the clip before it on the record side; OTIO tracks cannot hold that
        if ev.record_in > at:
            track.append(otio.schema.Gap(source_range=tr(rt(0, rate), rt(ev.record_in - at, rate))))
        if pc.media is not None:
            # Every clip carries what its media holds: FCP XML and AAF writers need it.
            ref: Any = otio.schema.ExternalReference(
                target_url=str(pc.media.resolve()),
                available_range=tr(rt(pc.media_start, rate), rt(max(pc.media_frames, 1), rate)))
            ref.metadata["AAF"] = {"MobID": mob_id(pc.media)}
        else:
            ref = otio.schema.MissingReference()
        clip = otio.schema.Clip(name=ev.name, media_reference=ref,
                                source_range=tr(rt(ev.source_in, rate), rt(ev.record_frames, rate)))
        clip.metadata["cmx_3600"] = {"reel": ev.reel}
        clip.metadata[NAMESPACE] = {"event": ev.number, "where": ev.where}
        if ev.speed == 0:
            clip.effects.append(otio.schema.FreezeFrame())
        elif ev.speed != 1:
            clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=ev.speed))
        track.append(clip)
        at = ev.record_out
    return track


def audio_events(cut: Cut, foley: Sequence[FoleyClip]) -> list[edl.AudioEvent]:
    """The audio EDL's events: a Foley clip's source timecode is its record timecode.

    A dissolve in the cut becomes a dissolve between the two Foley clips. CMX starts a
    dissolve at the incoming event's record in, so when the cut centres it on the cut
    point (an OTIO transition with an in offset), the outgoing event ends, and the
    incoming one starts, where the cross-fade starts. Each clip WAV runs on past its
    event (tail and handles), so a DAW finds the audio the dissolve needs.
    """
    out = []
    for n, lane in enumerate(tracks_for(foley), start=1):
        channels = "A" if n == 1 else f"A{n}"
        made: list[edl.AudioEvent] = []
        for c in lane:
            ev = c.event
            a = edl.AudioEvent(reel=f"F{ev.number:03d}"[:8], source_in=ev.record_in, source_out=ev.record_out,
                               record_in=ev.record_in, record_out=ev.record_out, clip_name=c.wav.name,
                               channels=channels)
            before = made[-1] if made else None
            start = ev.record_in - ev.lead
            if before is not None and ev.fade_in > 0 and before.record_out == ev.record_in \
                    and before.record_in < start and ev.fade_in <= 999:
                made[-1] = replace(before, source_out=start, record_out=start)
                a = replace(a, source_in=start, record_in=start, dissolve=ev.fade_in,
                                        from_reel=before.reel, from_source=start, from_clip_name=before.clip_name)
            made.append(a)
        out += made
    return sorted(out, key=lambda a: (a.record_in, a.channels))


def write_edl(path: str | Path, cut: Cut, foley: Sequence[FoleyClip], title: str, overwrite: bool = False) -> Path:
    return edl.write_audio(path, audio_events(cut, foley), title, Fraction(cut.rate), cut.drop_frame, overwrite)


def write_aaf(path: str | Path, timeline: Any, drop_frame: bool, overwrite: bool = False) -> Path:
    """The Foley tracks of ``timeline`` as an AAF for the mixer (Pro Tools and the like):
    at record timecode, each clip referencing its BWF as external essence (the AAF stays
    small), cross-fades where the cut dissolves. Written by OpenTimelineIO's AAF adapter."""
    import opentimelineio as otio

    from syncfoley.core.atomic import atomic_path

    foley = otio.schema.Timeline(name=timeline.name, global_start_time=copy.deepcopy(timeline.global_start_time))
    foley.metadata[NAMESPACE] = dict(timeline.metadata.get(NAMESPACE, {}))
    for track in timeline.tracks:
        if track.kind == otio.schema.TrackKind.Audio:
            foley.tracks.append(copy.deepcopy(track))
    with atomic_path(path, overwrite) as tmp:
        try:
            otio.adapters.write_to_file(foley, str(tmp))
        except otio.exceptions.NoKnownAdapterForExtensionError:
            from syncfoley.core.errors import DependencyError

            raise DependencyError("foley.aaf needs OpenTimelineIO's AAF adapter: pip install otio-aaf-adapter") \
                from None
        _mark_drop_frame(tmp, drop_frame)
    return Path(path)


def _mark_drop_frame(path: Path, drop: bool) -> None:
    """Say in every timecode of the AAF whether it counts drop frame. OTIO's writer marks
    the sequence's timecode non-drop always, and the clips' drop whenever the rate is not
    whole (so 23.976 too); the frame counts it writes are right either way, the labels not."""
    import aaf2

    with aaf2.open(str(path), "rw") as f:
        for mob in f.content.mobs:
            for slot in mob.slots:
                if isinstance(slot.segment, aaf2.components.Timecode):
                    slot.segment.drop = drop
