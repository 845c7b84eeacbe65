"""Reading video with PyAV: probing, and streaming small grey frames for analysis.

Times are seconds from the file's first frame as a player shows it: the stream's
start time is subtracted, so a file whose first PTS is 10 s still starts at 0.
Frames are streamed one at a time, so memory does not grow with the file's length.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Optional, TypeVar, cast

import numpy as np

from syncfoley.core.errors import MediaError, RequestError
from syncfoley.engine.types import TimeRange

T = TypeVar("T")

# Demuxers that open a single picture as a one-frame "video".
# GIF is refused on its own, by name: FFmpeg reads one, still or animated, as a video stream.
_STILL_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe"}


@dataclass(frozen=True)
class VideoInfo:
    """What the engine needs to know about a video file."""

    path: str
    width: int
    height: int
    fps: float
    duration: float
    codec: str
    start_time: float
    has_audio: bool
    rotation: int = 0
    # The start timecode a camera or NLE embedded ("19:11:54:10"), if any: the source
    # timecode of the first frame, which an EDL's source in/out points are counted from.
    timecode: Optional[str] = None


def open_media(path: str | Path):
    import av

    from syncfoley.core.fence import check_read

    p = Path(path)
    if not p.exists():
        raise MediaError(f"no such file: {p}")
    if p.is_dir():
        raise MediaError(f"{p} is a folder; give a video file")
    real = check_read(p, "media")
    try:
        return av.open(str(real))
    except av.error.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MediaError(f"{p} is not a video file FFmpeg can read ({reason})") from None


def probe(path: str | Path) -> VideoInfo:
    """Describe a video file, or raise :class:`MediaError` saying why it is not one."""
    with open_media(path) as container:
        if container.format.name == "gif":
            raise MediaError(f"{path} is a GIF, an image format (still or animated); give a video file "
                             f"(an animation converts with: ffmpeg -i {Path(path).name} {Path(path).stem}.mp4)")
        if container.format.name in _STILL_FORMATS:
            codec = container.streams.video[0].codec_context.name if container.streams.video else "no picture"
            raise MediaError(f"{path} is a still image ({codec}); give a video file")
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["no streams"]
            raise MediaError(f"{path} has no video stream (it holds: {', '.join(kinds)}); give a video file")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise MediaError(f"{path}: cannot tell the frame rate of its video stream")
        tb = stream.time_base
        start = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        if stream.duration is not None and stream.duration > 0:
            duration = float(stream.duration * tb)
        elif container.duration is not None:
            duration = container.duration / 1_000_000 - (start - _container_start(container))
        else:
            duration = _count_duration(container, stream)
        width, height, rotation = _display_size(container, stream)
        return VideoInfo(
            path=str(path),
            width=width,
            height=height,
            fps=float(rate),
            duration=max(0.0, duration),
            codec=stream.codec_context.name,
            start_time=start,
            has_audio=bool(container.streams.audio),
            rotation=rotation,
            timecode=_timecode(container, stream),
        )


def _timecode(container, stream) -> Optional[str]:
    """The embedded start timecode: the video stream's tag, a timecode (tmcd) track's, or the file's."""
    tagged = [stream] + [s for s in container.streams if s.type == "data"] + [container]
    for holder in tagged:
        tc = (holder.metadata or {}).get("timecode")
        if tc and re.fullmatch(r"\d{1,2}[:;.]\d{2}[:;.]\d{2}[:;.]\d{2}", tc.strip()):
            return tc.strip()
    return None


def _display_size(container, stream) -> tuple[int, int, int]:
    """(width, height, degrees) as shown: PyAV exposes the rotation on frames only."""
    import av

    width, height = stream.codec_context.width, stream.codec_context.height
    try:
        frame = next(container.decode(stream))
    except (StopIteration, av.error.FFmpegError):  # a broken file is reported when decoded
        return width, height, 0
    finally:
        try:
            container.seek(0)
        except av.error.FFmpegError:
            pass
    turns = _quarter_turns(frame)
    return (height, width, turns * 90) if turns % 2 else (width, height, turns * 90)


def _container_start(container) -> float:
    return container.start_time / 1_000_000 if container.start_time is not None else 0.0


def _count_duration(container, stream) -> float:
    last = 0.0
    for frame in container.decode(stream):
        if frame.time is not None:
            last = frame.time
    return last + 1.0 / float(stream.average_rate or 25)


def check_range(info: VideoInfo, start: Optional[float], end: Optional[float]) -> TimeRange:
    """Resolve an optional ``[start, end)`` against the file; errors name the valid span."""
    lo = 0.0 if start is None else float(start)
    hi = info.duration if end is None else float(end)
    valid = f"valid: 0 <= start < end <= {info.duration:.3f} s"
    for name, value in (("start", lo), ("end", hi)):
        if not math.isfinite(value):
            raise RequestError(f"--{name} must be a finite number of seconds, got {value}")
    if lo < 0:
        raise RequestError(f"--start {lo:g} is before the start of {info.path} ({valid})")
    if lo >= info.duration:
        raise RequestError(f"--start {lo:g} is beyond the end of {info.path} ({valid})")
    if hi > info.duration + 1e-6:
        raise RequestError(f"--end {hi:g} is beyond the end of {info.path} ({valid})")
    if hi <= lo:
        raise RequestError(f"--end {hi:g} must be after --start {lo:g} ({valid})")
    return TimeRange(lo, hi)


# Fewest rows (and columns) a picture is scaled down to for analysis. OpenCV's DIS optical
# flow crashes the process (SIGSEGV) on pictures 20-30 or under 16 pixels tall, which a
# very wide picture (600x32) scaled to 512 across would be.
MIN_ANALYSIS = 32


def analysis_size(width: int, height: int, target_width: int, upscale_below: int = 0) -> tuple[int, int]:
    """(width, height) for analysis, keeping the aspect ratio, even numbers: scaled down to
    ``target_width`` across; a picture wider than that allows keeps ``MIN_ANALYSIS`` rows (or
    all it has), and is scaled down less. A picture narrower than ``upscale_below`` (and
    smaller than ``target_width`` both ways) is scaled up until its width or its height
    reaches ``target_width``, whichever comes first (a tiny or very tall picture is not blown
    up past that)."""
    if width < min(upscale_below, target_width) and height < target_width:
        factor = min(target_width / width, target_width / height)
        return max(2, int(round(width * factor / 2)) * 2), max(2, int(round(height * factor / 2)) * 2)
    w = min(target_width, width)
    h = max(2, int(round(height * w / width / 2)) * 2)
    if h < MIN_ANALYSIS:
        h = min(height, MIN_ANALYSIS)
        h -= h % 2
        w = min(width, max(w, int(round(width * h / height / 2)) * 2))
    return w - (w % 2), h


@dataclass
class DecodeReport:
    """Where decoding stopped early, if it did: a damaged file yields what it can."""

    stopped_at: Optional[float] = None
    reason: str = ""

    def as_extra(self) -> dict[str, object]:
        if self.stopped_at is None:
            return {}
        return {"decode_stopped_at": round(self.stopped_at, 6), "decode_error": self.reason}


def iter_gray_frames(
    path: str | Path,
    span: TimeRange,
    width: int,
    report: Optional[DecodeReport] = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time, frame)`` for each frame in ``span``: float32 luma, ``width`` wide
    (aspect kept). See :func:`iter_frames`."""
    for t, img in iter_frames(path, span, width, None, "gray", report):
        yield t, img.astype(np.float32)


def prefetch(items: Iterator[T], depth: int = 8) -> Iterator[T]:
    """Yield from ``items``, produced up to ``depth`` ahead in a background thread.

    Decoding and scaling (FFmpeg, outside the GIL) then overlap with the analysis
    of earlier frames (numba, outside the GIL too). An error in the producer is
    raised in the consumer; stopping early stops the producer.
    """
    import queue
    import threading

    q: "queue.Queue[tuple[str, object]]" = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(("error", exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # in this thread, where the generator runs: its files close here

    from threadpoolctl import threadpool_limits

    worker = threading.Thread(target=produce, name="syncfoley-decode", daemon=True)
    worker.start()
    # The decoder has one core; the analysis gets the other. OpenBLAS would start a thread
    # per core for every small matrix product of the analysis (camera fits, the motion
    # scorer) and spin them against the decoder: on two cores under load that cost the
    # physics detector a fifth of its time. Held while the frames are consumed.
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            while True:
                kind, value = q.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise value  # type: ignore[misc]
                yield value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def decoder_threads() -> int:
    """Threads for a decoder that runs beside one analysing thread: every core it may use
    but one (at least one). FFmpeg's own choice is a thread more than there are cores,
    which then fight the analysis for them."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity outside Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def iter_frames(
    path: str | Path,
    span: TimeRange,
    width: int,
    height: Optional[int] = None,
    pix_fmt: str = "gray",
    report: Optional[DecodeReport] = None,
    threads: int = 0,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time, frame)`` for each frame in ``span``, as a player shows it.

    Frames are scaled to ``width`` x ``height`` (``height`` None: keep the aspect
    ratio, ``width`` at most the source's) in ``pix_fmt`` (``gray`` or ``rgb24``)
    and turned upright when the stream carries rotation metadata (phone footage),
    so ``width`` is always the displayed width; each is a C-contiguous array. Seeks to the keyframe before
    ``span.start`` and decodes forward, so a range deep inside a long file costs
    only what it covers. If the file breaks part-way, decoding stops there: with a
    ``report`` the frames so far are kept and the report says where and why;
    without one, :class:`MediaError` is raised. ``threads``: the decoder's threads (0: as
    many as FFmpeg likes, which is a core more than there are).
    """
    from av.video.reformatter import VideoReformatter

    with open_media(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.thread_count = threads
        tb: Fraction = stream.time_base
        first = stream.start_time if stream.start_time is not None else 0
        half_frame = 0.5 / float(stream.average_rate or stream.guessed_rate or 25)
        if span.start > 0:
            container.seek(first + int(span.start / tb), stream=stream, backward=True)
        size: Optional[tuple[int, int]] = None
        last = span.start - 2 * half_frame
        # One scaler for the whole file: a frame's own reformat() sets up a new one every
        # frame, which cost more than the scaling itself (1.7 ms against 0.6 ms a 1080p
        # frame, the same pixels).
        scaler = VideoReformatter()
        for frame in decode_frames(container, stream, path, report):
            if frame.pts is None:
                continue
            t = float((frame.pts - first) * tb)
            if t < span.start - half_frame:
                continue
            if t >= span.end - 1e-9:
                return
            turns = _quarter_turns(frame)
            if size is None:
                dw, dh = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
                size = (width, height) if height is not None else analysis_size(dw, dh, width)
            w, h = (size[1], size[0]) if turns % 2 else size
            img = scaler.reformat(frame, width=w, height=h, format=pix_fmt, interpolation="AREA").to_ndarray()
            last = t
            # FFmpeg pads each row of a picture to its alignment, and PyAV hands the padded
            # rows over as a strided view: a picture 330 wide arrived 336 bytes a row, and
            # OpenCV's optical flow refuses anything but contiguous rows.
            yield t, np.ascontiguousarray(np.rot90(img, turns) if turns else img)
        # The frames ran out without an error before the header's duration: a file cut short
        # (a copy that did not finish, a fast-start MP4 whose index promises frames it lacks).
        if report is not None and report.stopped_at is not None:
            return
        end = last + 2 * half_frame
        if span.end - end > max(5 * half_frame, 0.1):
            why = (f"the file ends early: its frames stop at {end:.3f} s of the {span.end:.3f} s its header "
                   "promises (truncated?)")
            if report is None:
                raise MediaError(f"{path}: {why}")
            report.stopped_at, report.reason = end, why


def _quarter_turns(frame) -> int:
    """Counter-clockwise quarter turns that make a decoded frame upright."""
    try:
        degrees = frame.rotation
    except AttributeError:  # PyAV before 14 exposes no display matrix
        return 0
    return int(round((degrees or 0) / 90.0)) % 4


def decode_frames(container, stream, path: str | Path, report: Optional[DecodeReport]):
    """Decode frames; a file that breaks part-way stops there (see iter_gray_frames)."""
    import av

    first = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    last = 0.0
    frames = container.decode(stream)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            if report is None:
                raise MediaError(
                    f"{path} cannot be decoded past {last:.3f} s ({exc}); the file may be damaged"
                ) from None
            report.stopped_at, report.reason = last, str(exc)
            return
        if frame.time is not None:
            last = frame.time - first
        yield frame


# Encoder settings for the codecs editorial media comes in (used to make test media).
CODECS: dict[str, dict[str, object]] = {
    "h264": {"codec": "libx264", "pix_fmt": "yuv420p", "options": {"crf": "20", "preset": "veryfast", "bf": "0"}},
    "hevc": {"codec": "libx265", "pix_fmt": "yuv420p",
             "options": {"crf": "24", "preset": "ultrafast", "x265-params": "log-level=error"}},
    "prores": {"codec": "prores_ks", "pix_fmt": "yuv422p10le", "options": {"profile": "1"}},
    "dnxhd": {"codec": "dnxhd", "pix_fmt": "yuv422p", "options": {"profile": "dnxhr_lb"}},
    "vp9": {"codec": "libvpx-vp9", "pix_fmt": "yuv420p",
            "options": {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0"}},
    "mjpeg": {"codec": "mjpeg", "pix_fmt": "yuvj420p", "options": {"q:v": "4"}},
}


def write_video(
    path: str | Path,
    frames: Iterator[np.ndarray],
    fps: Fraction | int,
    codec: str = "h264",
    audio: Optional[tuple[np.ndarray, int]] = None,
    times: Optional[list[float]] = None,
    start: float = 0.0,
    rotation: int = 0,
    timecode: Optional[str] = None,
) -> None:
    """Encode RGB uint8 frames (and optional mono float audio) to a file.

    ``codec`` is a key of :data:`CODECS`. ``times`` gives each frame's own time
    (variable frame rate); ``start`` shifts every timestamp, as a file cut from a
    longer recording starts at a non-zero time. ``rotation`` (a multiple of 90,
    counter-clockwise) stores the upright ``frames`` turned the other way and
    tags the stream so players turn them back, as phones do. ``timecode``
    ("01:00:00:00") is written as the file's start timecode (a tmcd track in
    MOV/MP4), as cameras do. Used to make example and test
    media; not part of the detection path.
    """
    import av

    spec = CODECS[codec]
    tb = Fraction(1, 90000)
    with av.open(str(path), "w") as out:
        if timecode:
            out.metadata["timecode"] = timecode
        vs = cast("av.video.stream.VideoStream", out.add_stream(str(spec["codec"]), rate=fps))
        vs.pix_fmt = str(spec["pix_fmt"])
        vs.options = {k: str(v) for k, v in dict(spec["options"]).items()}  # type: ignore[call-overload]
        if times is not None or start:
            vs.codec_context.time_base = tb
        astream = None
        if audio is not None:
            astream = out.add_stream("aac", rate=audio[1])
            astream.layout = "mono"
        turns = (rotation // 90) % 4
        if turns:
            vs.set_display_rotation(turns * 90)
        first = True
        for i, rgb in enumerate(frames):
            if turns:
                rgb = np.ascontiguousarray(np.rot90(rgb, -turns))
            if first:
                vs.height, vs.width = rgb.shape[:2]
                first = False
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if times is not None or start:
                t = (times[i] if times is not None else i / float(fps)) + start
                frame.pts = int(round(t / tb))
                frame.time_base = tb
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if astream is not None and audio is not None:
            samples, rate = audio
            chunk = 1024
            pcm = np.asarray(samples, dtype=np.float32).reshape(1, -1)
            offset = int(round(start * rate))
            for i in range(0, pcm.shape[1], chunk):
                aframe = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(pcm[:, i : i + chunk]), format="fltp", layout="mono"
                )
                aframe.sample_rate = rate
                aframe.pts = offset + i
                for packet in astream.encode(aframe):
                    out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
