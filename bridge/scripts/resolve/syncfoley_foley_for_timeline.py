"""syncfoley: Foley for timeline (DaVinci Resolve, Workspace > Scripts > Edit).

Exports the current timeline as OTIO, asks the syncfoley engine daemon
(``syncfoley serve``) to conform Foley to it, then imports the clip WAVs into a
"Foley" bin, places each on a new audio track at its record frame, and adds an
onset marker per hit. Markers carry customData "syncfoley" so a re-run replaces
its own markers and nothing else. Resolve drops overlapping placements silently
and may return items that are not there, so the track is read back after placing
and every clip that did not land is reported.

Standard library only (OSC is encoded with struct): nothing needs installing into
Resolve's Python. Settings: SYNCFOLEY_HOST / SYNCFOLEY_PORT (default 127.0.0.1:9000),
SYNCFOLEY_TOKEN, SYNCFOLEY_PRESET.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import tempfile
import time

MARKER_TAG = "syncfoley"
BIN_NAME = "Foley"
MODE = "timeline"  # "selected": only events inside the timeline's In/Out range


# ----------------------------------------------------------------------------- OSC over UDP
def _pad(b):
    return b + b"\0" * (4 - len(b) % 4)


def osc_message(address, *args):
    tags, body = ",", b""
    for a in args:
        if isinstance(a, str):
            tags, body = tags + "s", body + _pad(a.encode("utf-8"))
        elif isinstance(a, float):
            tags, body = tags + "f", body + struct.pack(">f", a)
        else:
            tags, body = tags + "i", body + struct.pack(">i", int(a))
    return _pad(address.encode("ascii")) + _pad(tags.encode("ascii")) + body


def _read_str(data, i):
    end = data.index(b"\0", i)
    return data[i:end].decode("utf-8", "replace"), (end // 4 + 1) * 4


def osc_parse(data):
    address, i = _read_str(data, 0)
    tags, i = _read_str(data, i)
    args = []
    for t in tags[1:]:
        if t == "s":
            s, i = _read_str(data, i)
            args.append(s)
        elif t == "f":
            args.append(struct.unpack(">f", data[i:i + 4])[0])
            i += 4
        elif t == "i":
            args.append(struct.unpack(">i", data[i:i + 4])[0])
            i += 4
    return address, args


class Daemon:
    """A request to the daemon and its replies, with a cancel."""

    def __init__(self, host, port, timeout=3600.0):
        self.addr = (host, port)
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def _send(self, name, payload):
        token = os.environ.get("SYNCFOLEY_TOKEN")
        if token:
            payload = dict(payload, token=token)
        self.sock.sendto(osc_message("/syncfoley/" + name, json.dumps(payload)), self.addr)

    def _recv(self, wait):
        self.sock.settimeout(wait)
        data, _ = self.sock.recvfrom(65536)
        return osc_parse(data)

    def ping(self):
        self.sock.sendto(osc_message("/syncfoley/ping"), self.addr)
        try:
            return self._recv(2.0)[0] == "/syncfoley/pong"
        except (socket.timeout, OSError):
            return False

    def run(self, name, payload, on_progress, cancelled):
        """Send a job and wait for its result; progress and cancel are polled between replies."""
        self._send(name, payload)
        job = None
        end = time.monotonic() + self.timeout
        while time.monotonic() < end:
            if job is not None and cancelled():
                self._send("cancel", {"job_id": job})
            try:
                address, args = self._recv(0.25)
            except socket.timeout:
                continue
            if address == "/syncfoley/accepted":
                job = args[0]
            elif address == "/syncfoley/progress" and args and args[0] == job:
                on_progress(float(args[1]), str(args[2]))
            elif address == "/syncfoley/done" and args and args[0] == job:
                return json.loads(args[1])
            elif address == "/syncfoley/error" and (job is None or (len(args) > 2 and args[2] == job)):
                raise RuntimeError("%s: %s" % (args[0], args[1]))
        raise RuntimeError("no answer from the syncfoley daemon within %d s" % self.timeout)


# ----------------------------------------------------------------------------- the conformed timeline
def _frames(rt):
    return float(rt["value"]), float(rt["rate"])


def foley_clips(otio_path):
    """The Foley clips of foley.otio: wav, record in/out and the WAV's first frame (timecode-absolute
    frames), and the on-picture onset frames. Plain JSON walking: no OTIO inside Resolve."""
    with open(otio_path, encoding="utf-8") as fh:
        tl = json.load(fh)
    out = []
    for lane, track in enumerate(t for t in tl["tracks"]["children"]
                                 if t.get("kind") == "Audio" and str(t.get("name", "")).startswith("Foley")):
        for item in track["children"]:
            if not str(item.get("OTIO_SCHEMA", "")).startswith("Clip"):
                continue
            refs = item.get("media_references") or {}
            ref = refs.get(item.get("active_media_reference_key", "DEFAULT_MEDIA")) or item.get("media_reference")
            start, _ = _frames(item["source_range"]["start_time"])
            dur, _ = _frames(item["source_range"]["duration"])
            first, _ = _frames(ref["available_range"]["start_time"])
            rec_in, rec_out = int(round(start)), int(round(start + dur))
            onsets = []
            for m in item.get("markers", []):
                f, _ = _frames(m["marked_range"]["start_time"])
                if rec_in <= f < rec_out:
                    onsets.append(int(round(f)))
            out.append({"wav": ref["target_url"], "name": item.get("name", ""), "record_in": rec_in,
                        "record_out": rec_out, "wav_start": int(round(first)), "onsets": onsets, "lane": lane,
                        "event": (item.get("metadata", {}).get("syncfoley") or {}).get("event")})
    return out


# ----------------------------------------------------------------------------- Resolve
def find_resolve():
    """The ``resolve`` object: given to menu scripts, else through the scripting module (Studio)."""
    g = globals()
    if g.get("resolve") is not None:
        return g["resolve"]
    if g.get("app") is not None:
        return g["app"].GetResolve()
    if g.get("bmd") is not None:
        return g["bmd"].scriptapp("Resolve")
    import DaVinciResolveScript  # noqa: F401  (Resolve Studio's external scripting)

    return DaVinciResolveScript.scriptapp("Resolve")


def foley_bin(media_pool):
    root = media_pool.GetRootFolder()
    for folder in root.GetSubFolderList() or []:
        if folder.GetName() == BIN_NAME:
            return folder
    return media_pool.AddSubFolder(root, BIN_NAME)


def place(resolve, timeline, media_pool, clips, log):
    """Import, place and verify; returns (placed, missing) lists of clip dicts."""
    start = int(timeline.GetStartFrame())
    media_pool.SetCurrentFolder(foley_bin(media_pool))  # ImportMedia imports into the current folder
    items = media_pool.ImportMedia([c["wav"] for c in clips]) or []
    by_path = {}
    for item in items:
        by_path[os.path.normcase(os.path.abspath(item.GetClipProperty("File Path")))] = item
    lanes = sorted({c["lane"] for c in clips})
    tracks = {}
    for lane in lanes:
        timeline.AddTrack("audio", "mono")
        tracks[lane] = int(timeline.GetTrackCount("audio"))
    wanted = []
    for c in clips:
        item = by_path.get(os.path.normcase(os.path.abspath(c["wav"])))
        if item is None:
            log("not imported: %s" % c["wav"])
            continue
        info = {"mediaPoolItem": item, "startFrame": c["record_in"] - c["wav_start"],
                "endFrame": c["record_out"] - c["wav_start"], "trackIndex": tracks[c["lane"]],
                "recordFrame": c["record_in"], "mediaType": 2}
        media_pool.AppendToTimeline([info])
        wanted.append(c)
    # Read back: a placement Resolve dropped (an overlap) is not on the track, whatever it returned.
    landed = set()
    for lane, index in tracks.items():
        for ti in timeline.GetItemListInTrack("audio", index) or []:
            landed.add((lane, int(ti.GetStart()), int(ti.GetEnd())))
    placed, missing = [], []
    for c in wanted:
        (placed if (c["lane"], c["record_in"], c["record_out"]) in landed else missing).append(c)
    # Markers: ours only, replaced on a re-run.
    for frame, marker in list((timeline.GetMarkers() or {}).items()):
        if marker.get("customData") == MARKER_TAG:
            timeline.DeleteMarkerAtFrame(frame)
    for c in placed:
        for n, f in enumerate(c["onsets"], start=1):
            timeline.AddMarker(f - start, "Red", "onset %d" % n, "syncfoley event %s" % c["event"], 1, MARKER_TAG)
    return placed, missing


def in_out_range(timeline):
    """The timeline's In/Out marks (absolute frames), when set; Resolve 19 and later."""
    get = getattr(timeline, "GetMarkInOut", None)
    marks = get() if get else None
    video = (marks or {}).get("video") or {}
    if "in" in video and "out" in video:
        start = int(timeline.GetStartFrame())
        return start + int(video["in"]), start + int(video["out"]) + 1
    return None


def main(resolve=None, mode=None, host=None, port=None, log=print, progress=None):
    resolve = resolve or find_resolve()
    mode = mode or MODE
    project = resolve.GetProjectManager().GetCurrentProject()
    timeline = project.GetCurrentTimeline() if project else None
    if timeline is None:
        log("syncfoley: open a timeline first")
        return 2
    host = host or os.environ.get("SYNCFOLEY_HOST", "127.0.0.1")
    port = int(port or os.environ.get("SYNCFOLEY_PORT", "9000"))
    daemon = Daemon(host, port)
    if not daemon.ping():
        log("syncfoley: no engine daemon at %s:%d; start it with: syncfoley serve" % (host, port))
        return 2
    work = tempfile.mkdtemp(prefix="syncfoley-resolve-")
    exported = os.path.join(work, "timeline.otio")
    if not timeline.Export(exported, resolve.EXPORT_OTIO, resolve.EXPORT_NONE):
        log("syncfoley: Resolve could not export the timeline as OTIO to %s" % exported)
        return 2
    request = {"timeline": exported}
    if os.environ.get("SYNCFOLEY_PRESET"):
        request["preset"] = os.environ["SYNCFOLEY_PRESET"]
    show = progress or (lambda f, text: log("syncfoley: %3d%% %s" % (round(100 * f), text)))
    try:
        result = daemon.run("conform", request, show, lambda: False)
    except RuntimeError as err:
        log("syncfoley: %s" % err)
        return 2
    clips = foley_clips(result["timeline"])
    if mode == "selected":
        span = in_out_range(timeline)
        if span is None:
            log("syncfoley: set In and Out around the clips first (or run 'Foley for timeline')")
            return 2
        clips = [c for c in clips if c["record_out"] > span[0] and c["record_in"] < span[1]]
    placed, missing = place(resolve, timeline, project.GetMediaPool(), clips, log)
    for problem in result.get("problems", []):
        log("syncfoley: skipped: %s" % problem)
    for c in missing:
        log("syncfoley: did not land (an overlap on the track?): %s at record frame %d" % (c["name"], c["record_in"]))
    log("syncfoley: %d Foley clips placed, %d did not land, %d events skipped; files in %s"
        % (len(placed), len(missing), result.get("skipped", 0), os.path.dirname(result["timeline"])))
    return 0 if not missing and not result.get("problems") else 1


if __name__ == "__main__":
    main()
