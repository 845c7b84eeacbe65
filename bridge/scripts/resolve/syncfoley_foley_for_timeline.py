"""syncfoley: Foley for timeline (DaVinci Resolve, Workspace > Scripts > Edit).

Exports the current timeline as OTIO, asks the syncfoley engine daemon
(``syncfoley serve``) to conform Foley to it, with a progress window and a Cancel
button (Fusion's UIManager; the console when there is none), then imports the clip WAVs into a
"Foley" bin, places each on a new audio track at its record frame, and adds an
onset marker per hit. Markers carry customData "syncfoley" so a re-run replaces
its own markers and nothing else. Resolve drops overlapping placements silently
and may return items that are not there, so the track is read back after placing
and every clip that did not land is reported.

Standard library only (OSC is encoded with struct): nothing needs installing into
Resolve's Python. Settings: SYNCFOLEY_HOST / SYNCFOLEY_PORT (default 127.0.0.1:9000),
SYNCFOLEY_TOKEN, SYNCFOLEY_PRESET.

Resolve versions: 18.5 or later (OTIO export, placing on a new audio track at a
record frame); "Foley for selected clips" needs 19.1 (Timeline.GetMarkInOut). The
script says so, before doing anything, on an older one. Python: what Resolve runs
scripts with, 3.6 and later (so no syntax newer than 3.6 here).
"""

import json
import os
import re
import socket
import struct
import tempfile
import time

NEEDS = {"timeline": ((18, 5), "OTIO export and audio placement at a record frame"),
         "selected": ((19, 1), "the timeline's In/Out marks (Timeline.GetMarkInOut)")}

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

    def start(self, name, payload):
        return Job(self, name, payload)


class Job:
    """One request to the daemon, polled without blocking.

    Resolve runs a script's window on its UI thread: a socket wait there freezes the
    window, and Python threads get little time beside Resolve's event loop. So the
    window's timer (or the console loop) calls poll(), which takes what has arrived.
    """

    CANCEL_GRACE = 5.0  # seconds to wait for the daemon to confirm a cancel

    def __init__(self, daemon, name, payload):
        self.daemon = daemon
        self.id = None
        self.fraction, self.text = 0.0, "sent to the engine"
        self.result = self.error = None
        self.finished = self.cancel_requested = False
        self.deadline = time.monotonic() + daemon.timeout
        daemon._send(name, payload)

    def cancel(self):
        if self.finished or self.cancel_requested:
            return
        self.cancel_requested = True
        self.text = "cancelling"
        self.deadline = min(self.deadline, time.monotonic() + self.CANCEL_GRACE)
        if self.id is not None:
            self.daemon._send("cancel", {"job_id": self.id})

    def _finish(self, result=None, error=None):
        self.finished, self.result = True, result
        self.error = "cancelled" if self.cancel_requested and result is None else error

    def poll(self, wait=0.0):
        """Take the replies that have arrived (waiting up to ``wait`` s for the first); True once finished."""
        while not self.finished:
            try:
                address, args = self.daemon._recv(wait)
            except (socket.timeout, BlockingIOError):
                break
            except ConnectionError:  # ICMP port unreachable (refused on Linux, reset on Windows)
                self._finish(error="the syncfoley daemon at %s:%d went away" % self.daemon.addr)
                break
            wait = 0.0
            mine = args and args[0] == self.id
            if address == "/syncfoley/accepted" and self.id is None and args:
                self.id = args[0]
                if self.cancel_requested:
                    self.daemon._send("cancel", {"job_id": self.id})
            elif address == "/syncfoley/progress" and mine and not self.cancel_requested:
                self.fraction, self.text = float(args[1]), str(args[2])
            elif address == "/syncfoley/done" and mine:
                self._finish(result=json.loads(args[1]))
            elif address == "/syncfoley/cancelled" and mine:
                self._finish()
            elif address == "/syncfoley/error" and (self.id is None or (len(args) > 2 and args[2] == self.id)):
                self._finish(error="%s: %s" % (args[0], args[1]))
        if not self.finished and time.monotonic() > self.deadline:
            self._finish(error="no answer from the syncfoley daemon within %d s" % self.daemon.timeout)
        return self.finished


# ----------------------------------------------------------------------------- what the user sees
class ConsoleView:
    """Progress and outcome as lines in Resolve's console (Workspace > Console)."""

    def __init__(self, log):
        self.log = log

    def status(self, text):
        self.log("syncfoley: " + text)

    def wait(self, job):
        shown = None
        while not job.poll(0.25):
            if (job.fraction, job.text) != shown:
                shown = (job.fraction, job.text)
                self.status("%3d%% %s" % (round(100 * job.fraction), job.text))

    def end(self, lines, code):
        for line in lines:
            self.status(line)
        return code


class WindowView(ConsoleView):
    """A small window (Fusion's UIManager): a progress bar, the engine's progress line and
    Cancel while the daemon works; then the outcome, until the user closes it. Everything
    also goes to the console."""

    ID = "SyncfoleyProgress"
    TIMER_ID = "SyncfoleyPoll"
    TICK_MS = 100

    def __init__(self, ui, disp, title, log):
        super().__init__(log)
        self.ui, self.disp = ui, disp
        self.job = None
        self.closing = False
        self.closed = False  # by the user, with the window's close box
        self.win = disp.AddWindow(
            {"ID": self.ID, "WindowTitle": title, "Geometry": [200, 200, 520, 150]},
            ui.VGroup([
                ui.Label({"ID": "SyncfoleyText", "Text": "", "WordWrap": True}),
                ui.Slider({"ID": "SyncfoleyBar", "Minimum": 0, "Maximum": 1000, "Value": 0, "Enabled": False}),
                ui.HGroup({"Weight": 0}, [ui.HGap(0, 1), ui.Button({"ID": "SyncfoleyButton", "Text": "Cancel"})]),
            ]))
        self.items = self.win.GetItems()
        self.win.On.SyncfoleyButton.Clicked = self._button
        self.win.On[self.ID].Close = self._close
        self.timer = ui.Timer({"ID": self.TIMER_ID, "Interval": self.TICK_MS, "SingleShot": False})
        # Published scripts receive a timer's Timeout on the dispatcher or under the timer's ID
        # on the window, depending on the Resolve version: listen to both (a poll is idempotent).
        disp.On.Timeout = self._tick
        self.win.On[self.TIMER_ID].Timeout = self._tick
        self.win.Show()

    def status(self, text):
        super().status(text)
        self.items["SyncfoleyText"].Text = text

    def _button(self, ev):
        if self.job is not None and not self.job.finished:
            self.job.cancel()
            self.items["SyncfoleyButton"].Enabled = False
            self.items["SyncfoleyText"].Text = "Cancelling…"
        elif self.closing:
            self.disp.ExitLoop()

    def _close(self, ev):
        # A closed window cannot be answered: the outcome goes to the console only.
        self.closed = True
        self._button(ev)

    def _tick(self, ev):
        job = self.job
        if job is None:
            return
        try:
            over = job.poll()
        except Exception as exc:  # noqa: BLE001  (an exception here would leave the loop running forever)
            job._finish(error="lost the daemon's replies: %s" % exc)
            over = True
        if over:
            self.job = None
            self.timer.Stop()
            self.disp.ExitLoop()
        elif not job.cancel_requested:
            self.items["SyncfoleyBar"].Value = int(round(1000 * job.fraction))
            self.items["SyncfoleyText"].Text = "%d%%  %s" % (round(100 * job.fraction), job.text)

    def wait(self, job):
        self.job = job
        self.items["SyncfoleyButton"].Text = "Cancel"
        self.timer.Start()
        self.disp.RunLoop()
        self.timer.Stop()
        if job.result is not None:
            self.items["SyncfoleyBar"].Value = 1000

    def end(self, lines, code):
        for line in lines:
            ConsoleView.status(self, line)
        self.items["SyncfoleyText"].Text = "\n".join(lines)
        if not self.closed:
            button = self.items["SyncfoleyButton"]
            button.Text, button.Enabled = "Close", True
            self.closing = True
            self.disp.RunLoop()
        self.win.Hide()
        return code


def make_view(resolve, log, title):
    """The window when the script runs inside Resolve (Fusion's UIManager and ``bmd`` are there), else the console."""
    g = globals()
    bmd = g.get("bmd")
    fusion = g.get("fusion") or g.get("fu")
    if fusion is None and bmd is not None:
        try:
            fusion = resolve.Fusion()
        except Exception:  # noqa: BLE001  (external scripting may have no Fusion)
            fusion = None
    ui = getattr(fusion, "UIManager", None) if fusion is not None else None
    if bmd is None or ui is None:
        return ConsoleView(log)
    return WindowView(ui, bmd.UIDispatcher(ui), title, log)


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
            start, rate = _frames(item["source_range"]["start_time"])
            dur, _ = _frames(item["source_range"]["duration"])
            first, _ = _frames(ref["available_range"]["start_time"])
            rec_in, rec_out = int(round(start)), int(round(start + dur))
            onsets = []
            for m in item.get("markers", []):
                f, _ = _frames(m["marked_range"]["start_time"])
                if rec_in <= f < rec_out:
                    # The engine's name for it (with its confidence), kept for Resolve's marker.
                    onsets.append((int(round(f)), str(m.get("name") or "onset")))
            out.append({"wav": ref["target_url"], "name": item.get("name", ""), "rate": rate, "record_in": rec_in,
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


def resolve_version(resolve):
    """(major, minor, patch) from Resolve.GetVersion() ([major, minor, patch, build, suffix]; some builds hand
    the list over as a dict keyed 1..5) or GetVersionString(); None when neither answers."""
    for name in ("GetVersion", "GetVersionString"):
        get = getattr(resolve, name, None)
        try:
            value = get() if callable(get) else None
        except Exception:  # noqa: BLE001  (a proxy without the method)
            value = None
        if isinstance(value, dict):
            value = [value[k] for k in sorted(value)]
        if isinstance(value, str):
            value = re.findall(r"\d+", value)
        numbers = []
        for part in list(value or [])[:3]:
            try:
                numbers.append(int(part))
            except (TypeError, ValueError):
                break
        if numbers:
            return tuple(numbers + [0] * (3 - len(numbers)))
    return None


def version_problem(resolve, mode):
    """Why this Resolve cannot run ``mode``, or None."""
    have = resolve_version(resolve)
    for need_mode in ("timeline", mode):
        need, what = NEEDS[need_mode]
        if have is None:
            return "this Resolve does not report its version; syncfoley needs DaVinci Resolve %d.%d or later" % need
        if have[:2] < need:
            action = "Foley for selected clips" if need_mode == "selected" else "syncfoley"
            return "%s needs DaVinci Resolve %d.%d or later for %s; this is %s" % (
                action, need[0], need[1], what, ".".join(str(n) for n in have))
    return None


def tc_to_frames(tc, fps):
    """A timecode string ("01:00:00:00", drop frame with ';') as a frame count at ``fps`` (its nominal rate)."""
    parts = [int(p) for p in re.split(r"[:;.,]", tc.strip())]
    if len(parts) != 4:
        raise ValueError("not a timecode: %r" % tc)
    h, m, sec, f = parts
    nominal = int(round(fps))
    frames = ((h * 60 + m) * 60 + sec) * nominal + f
    if re.search(r"[;.,]", tc) and nominal in (30, 60):
        minutes = 60 * h + m
        frames -= (nominal // 15) * (minutes - minutes // 10)
    return frames


def exact_rate(text):
    """A frame rate as Resolve writes it ("24", "23.976", "29.97") in frames per second."""
    value = float(text)
    if abs(value - round(value)) > 0.001:
        return round(value) * 1000.0 / 1001.0
    return float(round(value))


def item_units(item, fallback_rate):
    """The frames an imported item's startFrame/endFrame count in: (frames per second, frame of the file's first
    sample). Resolve counts an audio file's frames at the file's own rate (24 for a WAV) from its start timecode
    (a BWF's TimeReference); the item's clip properties say which."""
    try:
        fps = exact_rate(item.GetClipProperty("FPS"))
        return fps, tc_to_frames(item.GetClipProperty("Start TC"), fps)
    except (TypeError, ValueError, AttributeError):
        return fallback_rate, 0  # no clip properties: the old assumption, timeline frames from the first sample


def _key(ti):
    """A timeline item's identity: its unique id where Resolve gives one (proxies are new objects each call)."""
    get = getattr(ti, "GetUniqueId", None)
    value = get() if callable(get) else None
    return value if value else id(ti)


def _find(timeline, index, item_name, start, before):
    """The timeline item of this placement: on the track, new since ``before``, at ``start``, of this file."""
    for ti in timeline.GetItemListInTrack("audio", index) or []:
        if _key(ti) in before or int(ti.GetStart()) != start:
            continue
        media = ti.GetMediaPoolItem() if hasattr(ti, "GetMediaPoolItem") else None
        if media is None or media.GetName() == item_name:
            return ti
    return None


def place_one(timeline, media_pool, item, clip, index):
    """Place one clip so that it covers its record frames with the WAV audio of those frames. Returns
    (timeline item or None, a note on what differs from what was asked, or "")."""
    rate = clip["rate"]
    fps, first = item_units(item, rate)
    s0 = (clip["record_in"] - clip["wav_start"]) / rate  # seconds from the WAV's first sample
    s1 = (clip["record_out"] - clip["wav_start"]) / rate
    start = first + int(round(s0 * fps))
    end = first + int(round(s1 * fps))
    want = clip["record_out"]

    def append(end_frame):
        before = {_key(ti) for ti in timeline.GetItemListInTrack("audio", index) or []}
        media_pool.AppendToTimeline([{"mediaPoolItem": item, "startFrame": start, "endFrame": end_frame,
                                      "trackIndex": index, "recordFrame": clip["record_in"], "mediaType": 2}])
        return _find(timeline, index, item.GetName(), clip["record_in"], before)

    # Resolve rounds the item's length to whole timeline frames: where the first end does not land on the
    # record out, try one WAV frame either way (each try removed again), then keep the best that does not
    # reach into the next clip's frames.
    best, best_end, lands = None, None, {}
    for _ in range(3):
        if end <= start or end in lands:
            break
        ti = append(end)
        if ti is None:
            break  # dropped (an overlap) or refused: the read-back reports it
        got = int(ti.GetEnd())
        if got == want:
            best, best_end = ti, got
            break
        timeline.DeleteClips([ti], False)
        lands[end] = got
        end += 1 if got < want else -1
    if best is None:
        short = sorted((got, e) for e, got in lands.items() if got < want)
        if short:
            best = append(short[-1][1])
            best_end = int(best.GetEnd()) if best is not None else None
    if best is None:
        return None, ""
    notes = []
    if best_end != want:
        notes.append("ends at record frame %d, not %d (the WAV's frames at %.3f fps cannot end there)"
                     % (best_end, want, fps))
    offset = (start - first) / fps - s0
    src = getattr(best, "GetSourceStartFrame", None)
    actual = src() if callable(src) else None
    if isinstance(actual, (int, float)) and int(actual) != start:
        offset = (int(actual) - first) / fps - s0
        notes.append("Resolve took source frame %d for %d" % (int(actual), start))
    if abs(offset) > 0.0005:
        notes.append("its audio plays %.1f ms %s (source frames at %.3f fps)"
                     % (abs(offset) * 1000, "late" if offset < 0 else "early", fps))
    return best, "; ".join(notes)


def place(resolve, timeline, media_pool, clips, log):
    """Import, place and verify; returns (placed, missing, notes, markers_not_added)."""
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
    placed, missing, notes = [], [], []
    for c in clips:
        item = by_path.get(os.path.normcase(os.path.abspath(c["wav"])))
        if item is None:
            log("not imported: %s" % c["wav"])
            missing.append(c)
            continue
        ti, note = place_one(timeline, media_pool, item, c, tracks[c["lane"]])
        if ti is None:
            missing.append(c)
            continue
        placed.append(c)
        if note:
            notes.append("%s at record frame %d: %s" % (c["name"], c["record_in"], note))
    # Markers: ours only, replaced on a re-run.
    for frame, marker in list((timeline.GetMarkers() or {}).items()):
        if marker.get("customData") == MARKER_TAG:
            timeline.DeleteMarkerAtFrame(frame)
    refused = 0
    for c in placed:
        for f, name in c["onsets"]:
            if not timeline.AddMarker(f - start, "Red", name, "syncfoley event %s" % c["event"], 1, MARKER_TAG):
                refused += 1
    return placed, missing, notes, refused


def in_out_range(timeline):
    """The timeline's In/Out marks (absolute frames), when set; Resolve 19.1 and later (checked in main)."""
    get = getattr(timeline, "GetMarkInOut", None)
    marks = get() if get else None
    video = (marks or {}).get("video") or {}
    if "in" in video and "out" in video:
        start = int(timeline.GetStartFrame())
        return start + int(video["in"]), start + int(video["out"]) + 1
    return None


def main(resolve=None, mode=None, host=None, port=None, log=print, window=True):
    """Run the action; returns 0 when every clip landed, 1 when some did not or events were
    skipped, 2 when nothing was placed. ``window=False`` keeps everything in the console."""
    resolve = resolve or find_resolve()
    mode = mode or MODE
    title = "syncfoley: Foley for " + ("selected clips" if mode == "selected" else "timeline")
    view = make_view(resolve, log, title) if window else ConsoleView(log)
    problem = version_problem(resolve, mode)
    if problem is not None:
        return view.end([problem], 2)
    project = resolve.GetProjectManager().GetCurrentProject()
    timeline = project.GetCurrentTimeline() if project else None
    if timeline is None:
        return view.end(["open a timeline first"], 2)
    span = None
    if mode == "selected":
        span = in_out_range(timeline)
        if span is None:
            return view.end(["set In and Out around the clips first (or run 'Foley for timeline')"], 2)
    host = host or os.environ.get("SYNCFOLEY_HOST", "127.0.0.1")
    port = int(port or os.environ.get("SYNCFOLEY_PORT", "9000"))
    daemon = Daemon(host, port)
    if not daemon.ping():
        return view.end(["no engine daemon at %s:%d; start it with: syncfoley serve" % (host, port)], 2)
    work = tempfile.mkdtemp(prefix="syncfoley-resolve-")
    exported = os.path.join(work, "timeline.otio")
    view.status("exporting '%s' as OTIO" % timeline.GetName())
    if not timeline.Export(exported, resolve.EXPORT_OTIO, resolve.EXPORT_NONE):
        return view.end(["Resolve could not export the timeline as OTIO to %s" % exported], 2)
    request = {"timeline": exported}
    if os.environ.get("SYNCFOLEY_PRESET"):
        request["preset"] = os.environ["SYNCFOLEY_PRESET"]
    job = daemon.start("conform", request)
    view.wait(job)
    if job.error is not None:
        return view.end([job.error + "; the timeline is unchanged"], 2)
    result = job.result
    clips = foley_clips(result["timeline"])
    if span is not None:
        clips = [c for c in clips if c["record_out"] > span[0] and c["record_in"] < span[1]]
    view.status("placing %d Foley clips" % len(clips))
    lines = []
    placed, missing, notes, refused = place(resolve, timeline, project.GetMediaPool(), clips, lines.append)
    lines += ["skipped: %s" % problem for problem in result.get("problems", [])]
    lines += ["did not land (an overlap on the track?): %s at record frame %d" % (c["name"], c["record_in"])
              for c in missing]
    lines += ["placed, but %s" % note for note in notes]
    if refused:
        lines.append("%d onset markers could not be added (a marker already on that frame: two hits on one frame?)"
                     % refused)
    lines.append("%d Foley clips placed, %d did not land, %d events skipped; files in %s"
                 % (len(placed), len(missing), result.get("skipped", 0), os.path.dirname(result["timeline"])))
    return view.end(lines, 0 if not missing and not result.get("problems") else 1)


if __name__ == "__main__":
    main()
