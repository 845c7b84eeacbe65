"""The timeline of one ``run``: the video, the Foley WAV under it, a marker per onset.

The timeline starts at the analysed range's start in the video; markers sit on the
timeline itself (``timeline.tracks.markers``), in timeline time at the video's rate,
each with ``metadata["syncfoley"]``: onsets (kind "onset": source time, strength,
confidence), continuous-contact regions as markers with a duration (kind "region"),
and one marker spanning the range that carries the intensity envelope as a curve
(kind "envelope": rate, start, values). A re-run can recognise its own markers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syncfoley.adapters.aaf_metadata import mob_id
from syncfoley.core.atomic import atomic_path
from syncfoley.engine.types import OnsetTrack

NAMESPACE = "syncfoley"


def build(
    track: OnsetTrack,
    video: str | Path,
    foley_wav: str | Path,
    sample_rate: int,
    name: str,
    start: float = 0.0,
) -> Any:
    """The picture, the Foley WAV and the onsets as markers. Timeline time 0 is the range
    start; ``start`` (seconds: the source's timecode plus the range start) is the timeline's
    global start time, so an editor's tools place it where the WAV's BWF time says."""
    import opentimelineio as otio

    rate = track.fps or 24.0
    span = track.span
    rt = otio.opentime.RationalTime
    tr = otio.opentime.TimeRange

    def secs(t: float) -> Any:
        return rt.from_seconds(t, rate)

    timeline = otio.schema.Timeline(name=name, global_start_time=rt.from_seconds(start, rate).rescaled_to(rate))
    timeline.metadata[NAMESPACE] = {"source": str(video), "detector": track.detector, "range": [span.start, span.end]}

    v_ref = otio.schema.ExternalReference(
        target_url=str(Path(video).resolve()), available_range=tr(secs(0.0), secs(track.duration))
    )
    v_ref.metadata["AAF"] = {"MobID": mob_id(Path(video))}
    v_clip = otio.schema.Clip(name=Path(video).name, media_reference=v_ref,
                              source_range=tr(secs(span.start), secs(span.duration)))
    v_track = otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video)
    v_track.append(v_clip)

    # At the timeline's rate, not the sample rate: the FCP XML and AAF writers count every
    # range in the timeline's frames (and SMPTE timecode has no 48000 fps).
    a_ref = otio.schema.ExternalReference(
        target_url=str(Path(foley_wav).resolve()), available_range=tr(secs(0.0), secs(span.duration)),
    )
    a_ref.metadata["AAF"] = {"MobID": mob_id(Path(foley_wav))}
    a_clip = otio.schema.Clip(name=Path(foley_wav).name, media_reference=a_ref, source_range=tr(secs(0.0), secs(span.duration)))
    a_clip.metadata[NAMESPACE] = {"kind": "foley"}
    a_track = otio.schema.Track(name="Foley", kind=otio.schema.TrackKind.Audio)
    a_track.append(a_clip)

    timeline.tracks.append(v_track)
    timeline.tracks.append(a_track)
    for i, o in enumerate(track.onsets, start=1):
        if not span.start <= o.time < span.end:
            continue
        marker = otio.schema.Marker(
            name=o.label(i),
            marked_range=tr(secs(o.time - span.start), rt(0, rate)),
            color=otio.schema.MarkerColor.RED,
        )
        marker.metadata[NAMESPACE] = {
            "kind": "onset",
            "index": i,
            "time": o.time,
            "strength": o.strength,
            "confidence": o.confidence,
            **({"x": o.x, "y": o.y} if o.x is not None and o.y is not None else {}),
        }
        timeline.tracks.markers.append(marker)
    for i, r in enumerate(track.regions, start=1):
        lo, hi = max(r.start, span.start), min(r.end, span.end)
        if hi <= lo:
            continue
        marker = otio.schema.Marker(
            name=f"contact {i}", marked_range=tr(secs(lo - span.start), secs(hi - lo)),
            color=otio.schema.MarkerColor.ORANGE,
        )
        marker.metadata[NAMESPACE] = {"kind": "region", "index": i, "start": r.start, "end": r.end, "strength": r.strength}
        timeline.tracks.markers.append(marker)
    if track.envelope is not None and track.envelope.values:
        env = track.envelope
        marker = otio.schema.Marker(
            name="intensity", marked_range=tr(secs(0.0), secs(span.duration)), color=otio.schema.MarkerColor.PURPLE
        )
        marker.metadata[NAMESPACE] = {
            "kind": "envelope", "rate": env.rate, "start": env.start, "values": list(env.values),
        }
        timeline.tracks.markers.append(marker)
    return timeline


def write(timeline: Any, path: str | Path, overwrite: bool = False) -> Path:
    import opentimelineio as otio

    with atomic_path(path, overwrite) as tmp:
        otio.adapters.write_to_file(timeline, str(tmp))
    return Path(path)


def read_markers(path: str | Path) -> list[dict[str, Any]]:
    """The onset markers of a timeline file this module wrote: their metadata, in order."""
    import opentimelineio as otio

    return read_markers_from(otio.adapters.read_from_file(str(path)))


def read_markers_from(timeline: Any) -> list[dict[str, Any]]:
    """The onset markers of a timeline: their metadata plus their timeline time (s)."""
    out = []
    for m in timeline.tracks.markers:
        meta = m.metadata.get(NAMESPACE)
        if meta and meta.get("kind") == "onset":
            out.append({**dict(meta), "timeline_time": m.marked_range.start_time.to_seconds()})
    return out
