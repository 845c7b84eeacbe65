"""A stand-in for DaVinci Resolve's scripting objects, with Resolve's documented and reported behaviour.

- ``MediaPool.AppendToTimeline`` takes an absolute ``recordFrame`` (the timeline's
  start frame + offset) and ``startFrame``/``endFrame`` (end exclusive) in the
  media's own frames. For an audio file those are frames at the file's own rate,
  ``AUDIO_FPS`` (24, as measured user reports of Resolve 21 say for a WAV), counted from
  its start timecode (a BWF's TimeReference, at that rate): frame ``Start TC + j`` is
  ``j / 24`` s into the file. The item on the timeline starts at ``recordFrame`` and is
  ``(endFrame - startFrame) / 24`` s long, rounded to whole timeline frames. A range
  outside the file is refused (nothing placed, nothing returned). A placement that
  overlaps an item on its track is dropped silently, and the call still returns a
  TimelineItem for it.
- ``MediaPoolItem.GetClipProperty`` gives an imported WAV's ``FPS`` (24), ``Start TC``,
  ``Frames`` and ``Duration`` in those units.
- ``Timeline.DeleteClips(items, ripple)`` removes items.
- ``Resolve.GetVersion()`` is ``[major, minor, patch, build, suffix]``; the fake plays
  the version it is given. Below 19.1 ``Timeline.GetMarkInOut`` answers None, as a
  scripting proxy does for a method its Resolve lacks; below 19.0.2 so does
  ``TimelineItem.GetSourceStartFrame``.
- ``Timeline.AddMarker`` takes a frame relative to the timeline start, and refuses
  a second marker on an occupied frame.
- ``MediaPool.ImportMedia`` imports into the current folder.
- ``MediaPool.CreateEmptyTimeline`` returns None when the name is taken.
- ``Timeline.Export(path, EXPORT_OTIO, EXPORT_NONE)`` writes the timeline as OTIO
  (this stand-in uses OpenTimelineIO for that; the script under test must not).
- ``Timeline.GetMarkInOut()`` gives In/Out relative to the timeline start, Out inclusive.
- ``Resolve.Fusion()`` returns the Fusion object whose ``UIManager`` scripts build
  windows with (tests/fake_uimanager.py).
Every call is recorded in ``calls``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

AUDIO_FPS = 24
_ids = itertools.count(1)


@dataclass
class VideoEvent:
    media: Path
    media_start: int  # the media's start timecode, frames
    source_in: int  # timecode-absolute frames
    record_in: int
    record_out: int


@dataclass
class Item:
    name: str
    start: int
    end: int
    media: Optional["MediaPoolItem"] = None
    source_start: Optional[int] = None
    version: tuple[int, ...] = (20, 2, 0)
    uid: str = field(default_factory=lambda: f"item-{next(_ids)}")

    def GetUniqueId(self) -> str:
        return self.uid

    def GetSourceStartFrame(self) -> Optional[int]:
        return self.source_start if self.version >= (19, 0, 2) else None

    def GetStart(self) -> int:
        return self.start

    def GetEnd(self) -> int:
        return self.end

    def GetName(self) -> str:
        return self.name

    def GetMediaPoolItem(self) -> Optional["MediaPoolItem"]:
        return self.media


@dataclass
class MediaPoolItem:
    path: str

    def __post_init__(self) -> None:
        self.audio = Path(self.path).suffix.lower() == ".wav"
        if self.audio:
            from wavinfo import WavInfoReader  # another project's reader of the fmt, data and bext chunks

            wav = WavInfoReader(self.path)
            sr, samples, ref = wav.fmt.sample_rate, wav.data.frame_count, wav.bext.time_reference if wav.bext else 0
            self.first = int(ref * AUDIO_FPS // sr)  # the start timecode, in the file's own frames
            self.frames = int(samples * AUDIO_FPS // sr)

    def GetClipProperty(self, key: str) -> str:
        props = {"File Path": self.path, "File Name": Path(self.path).name}
        if self.audio:
            from syncfoley.adapters.edl import frames_to_tc

            props.update({"FPS": str(AUDIO_FPS), "Start TC": frames_to_tc(self.first, AUDIO_FPS, False),
                          "Frames": str(self.frames), "Duration": frames_to_tc(self.frames, AUDIO_FPS, False),
                          "Type": "Audio"})
        return props.get(key, "")

    def GetName(self) -> str:
        return Path(self.path).name


@dataclass
class Folder:
    name: str
    subfolders: list["Folder"] = field(default_factory=list)
    clips: list[MediaPoolItem] = field(default_factory=list)

    def GetName(self) -> str:
        return self.name

    def GetSubFolderList(self) -> list["Folder"]:
        return list(self.subfolders)

    def GetClipList(self) -> list[MediaPoolItem]:
        return list(self.clips)


class Timeline:
    def __init__(self, name: str, rate: float, start_frame: int, events: list[VideoEvent], calls: list,
                 occupied: Optional[dict[int, list[tuple[int, int]]]] = None) -> None:
        self.name = name
        self.rate = rate
        self.start = start_frame
        self.events = events
        self.calls = calls
        self.occupied = occupied or {}
        self.audio: list[list[Item]] = []
        self.markers: dict[int, dict[str, Any]] = {}
        self.mark_in_out: dict[str, dict[str, int]] = {}
        self.version: tuple[int, ...] = (20, 2, 0)

    def GetMarkInOut(self) -> Optional[dict[str, dict[str, int]]]:
        """Resolve 19.1+: {"video": {"in", "out"}, "audio": {...}}, frames relative to the timeline start,
        out inclusive; an unset mark is absent. Older: None (the proxy has no such method)."""
        if self.version < (19, 1):
            return None
        return {k: dict(v) for k, v in self.mark_in_out.items()}

    def DeleteClips(self, items: list[Item], ripple: bool = False) -> bool:
        self.calls.append(("DeleteClips", len(items)))
        gone = {i.uid for i in items}
        for track in self.audio:
            track[:] = [i for i in track if i.uid not in gone]
        return True

    def GetName(self) -> str:
        return self.name

    def GetStartFrame(self) -> int:
        return self.start

    def GetEndFrame(self) -> int:
        return max(e.record_out for e in self.events) - 1

    def GetSetting(self, key: str) -> str:
        return {"timelineFrameRate": f"{self.rate:g}"}.get(key, "")

    def Export(self, path: str, kind: int, subtype: int) -> bool:
        import opentimelineio as otio

        self.calls.append(("Export", path, kind, subtype))
        if kind != Resolve.EXPORT_OTIO or subtype != Resolve.EXPORT_NONE:
            return False
        rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
        tl = otio.schema.Timeline(name=self.name, global_start_time=rt(self.start, self.rate))
        track = otio.schema.Track(name="Video 1", kind=otio.schema.TrackKind.Video)
        at = self.start
        for e in sorted(self.events, key=lambda e: e.record_in):
            if e.record_in > at:
                track.append(otio.schema.Gap(source_range=tr(rt(0, self.rate), rt(e.record_in - at, self.rate))))
            ref = otio.schema.ExternalReference(target_url=str(e.media),
                                                available_range=tr(rt(e.media_start, self.rate),
                                                                   rt(100000, self.rate)))
            track.append(otio.schema.Clip(name=e.media.name, media_reference=ref,
                                          source_range=tr(rt(e.source_in, self.rate),
                                                          rt(e.record_out - e.record_in, self.rate))))
            at = e.record_out
        tl.tracks.append(track)
        otio.adapters.write_to_file(tl, path)
        return True

    def AddTrack(self, kind: str, subtype: str = "") -> bool:
        self.calls.append(("AddTrack", kind, subtype))
        if kind != "audio":
            return False
        self.audio.append([Item("planted", a, b) for a, b in self.occupied.get(len(self.audio) + 1, [])])
        return True

    def GetTrackCount(self, kind: str) -> int:
        return len(self.audio) if kind == "audio" else 1

    def GetItemListInTrack(self, kind: str, index: int) -> list[Item]:
        return list(self.audio[index - 1]) if kind == "audio" and 1 <= index <= len(self.audio) else []

    def AddMarker(self, frame: int, color: str, name: str, note: str, duration: int, custom: str = "") -> bool:
        self.calls.append(("AddMarker", frame, color, name, custom))
        if frame in self.markers or not 0 <= frame <= self.GetEndFrame() - self.start:
            return False
        self.markers[frame] = {"color": color, "name": name, "note": note, "duration": duration,
                               "customData": custom}
        return True

    def GetMarkers(self) -> dict[int, dict[str, Any]]:
        return {k: dict(v) for k, v in self.markers.items()}

    def DeleteMarkerAtFrame(self, frame: int) -> bool:
        self.calls.append(("DeleteMarkerAtFrame", frame))
        return self.markers.pop(frame, None) is not None


class MediaPool:
    def __init__(self, project: "Project") -> None:
        self.project = project
        self.root = Folder("Master")
        self.current = self.root
        self.calls = project.calls

    def GetRootFolder(self) -> Folder:
        return self.root

    def AddSubFolder(self, parent: Folder, name: str) -> Folder:
        self.calls.append(("AddSubFolder", parent.name, name))
        folder = Folder(name)
        parent.subfolders.append(folder)
        return folder

    def SetCurrentFolder(self, folder: Folder) -> bool:
        self.calls.append(("SetCurrentFolder", folder.name))
        self.current = folder
        return True

    def GetCurrentFolder(self) -> Folder:
        return self.current

    def ImportMedia(self, paths: list[str]) -> list[MediaPoolItem]:
        self.calls.append(("ImportMedia", self.current.name, len(paths)))
        items = [MediaPoolItem(str(Path(p))) for p in paths if Path(p).is_file()]
        self.current.clips.extend(items)
        return items

    def AppendToTimeline(self, infos: list[dict[str, Any]]) -> list[Item]:
        tl = self.project.timeline
        out = []
        for info in infos:
            self.calls.append(("AppendToTimeline", {k: v for k, v in info.items() if k != "mediaPoolItem"}))
            media = info["mediaPoolItem"]
            a, b = int(info["startFrame"]), int(info["endFrame"])
            start = int(info["recordFrame"])
            if media.audio:
                if not media.first <= a < b <= media.first + media.frames:
                    continue  # a range outside the file: refused
                end = start + round((b - a) / AUDIO_FPS * tl.rate)
            else:
                end = start + b - a
            item = Item(media.GetName(), start, end, media, a, tl.version)
            track = tl.audio[int(info["trackIndex"]) - 1]
            if not any(o.start < end and start < o.end for o in track):  # overlaps are dropped silently
                track.append(item)
            out.append(item)  # ...and reported as placed anyway
        return out

    def CreateEmptyTimeline(self, name: str) -> Optional[Timeline]:
        if name == self.project.timeline.name:
            return None
        return Timeline(name, self.project.timeline.rate, self.project.timeline.start, [], self.calls)


class Project:
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.calls = timeline.calls
        self.pool = MediaPool(self)

    def GetCurrentTimeline(self) -> Timeline:
        return self.timeline

    def GetMediaPool(self) -> MediaPool:
        return self.pool


class ProjectManager:
    def __init__(self, project: Project) -> None:
        self.project = project

    def GetCurrentProject(self) -> Project:
        return self.project


class Resolve:
    EXPORT_OTIO = 27  # read from the live object by the script, never hard-coded there
    EXPORT_NONE = 0

    def __init__(self, timeline: Timeline, fusion: Any = None, version: tuple[int, int, int] = (20, 2, 0)) -> None:
        self.pm = ProjectManager(Project(timeline))
        self.fusion = fusion
        self.version = version
        timeline.version = version

    def GetVersion(self) -> list[Any]:
        return [*self.version, 12, ""]

    def Fusion(self) -> Any:
        return self.fusion

    def GetProjectManager(self) -> ProjectManager:
        return self.pm
