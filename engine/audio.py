"""Reading audio with PyAV: the production sound of a video, or a guide WAV, streamed.

Times are seconds from the first video frame when the file has video (so guide-track
onsets line up with the picture as a player shows it), else from the audio's start.
Audio is decoded, mixed to mono and resampled in blocks, so memory does not grow
with the file's length.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import MediaError
from .media import _open
from .types import TimeRange


def has_audio(path: str | Path) -> bool:
    with _open(path) as container:
        return bool(container.streams.audio)


def iter_audio(
    path: str | Path,
    span: TimeRange,
    sample_rate: int,
    block: float = 10.0,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(start_time, samples)``: mono float32 blocks of about ``block`` seconds
    covering ``span``, contiguous, the first starting at ``span.start`` (or where the
    audio starts, if later)."""
    import av

    with _open(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path} has no audio stream to use as a guide track")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        origin = _origin(container)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        if span.start > 0:
            container.seek(int((span.start + origin) / stream.time_base), stream=stream, backward=True)
        pending: list[np.ndarray] = []
        pending_len = 0
        block_start: float | None = None
        target = int(block * sample_rate)
        first_needed = int(round(span.start * sample_rate))
        last_needed = int(round(span.end * sample_rate))
        cursor: int | None = None  # sample index (at sample_rate, from origin) of the next sample
        for frame in _decode_audio(container, stream, path):
            for out in resampler.resample(frame):
                if cursor is None:
                    t = float(out.pts * out.time_base) if out.pts is not None else 0.0
                    cursor = int(round((t - origin) * sample_rate))
                data = out.to_ndarray().reshape(-1).astype(np.float32)
                lo = max(0, first_needed - cursor)
                hi = min(len(data), last_needed - cursor)
                if hi > lo:
                    if block_start is None:
                        block_start = (cursor + lo) / sample_rate
                    pending.append(data[lo:hi])
                    pending_len += hi - lo
                cursor += len(data)
                if pending_len >= target and block_start is not None:
                    chunk = np.concatenate(pending)
                    yield block_start, chunk
                    block_start += len(chunk) / sample_rate
                    pending, pending_len = [], 0
            if cursor is not None and cursor >= last_needed:
                break
        if pending and block_start is not None:
            yield block_start, np.concatenate(pending)


def read_audio(path: str | Path, span: TimeRange, sample_rate: int) -> tuple[float, np.ndarray]:
    """The whole span at once (for short spans): (start_time, mono samples)."""
    start, parts = None, []
    for t, block in iter_audio(path, span, sample_rate):
        start = t if start is None else start
        parts.append(block)
    if start is None:
        return span.start, np.zeros(0, dtype=np.float32)
    return start, np.concatenate(parts)


def _origin(container) -> float:  # type: ignore[no-untyped-def]
    """Seconds of the first video frame (the zero of every time), else of the audio."""
    streams = container.streams.video or container.streams.audio
    s = streams[0]
    return float(s.start_time * s.time_base) if s.start_time is not None else 0.0


def _decode_audio(container, stream, path):  # type: ignore[no-untyped-def]
    import av

    frames = container.decode(stream)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path}: the audio cannot be decoded further ({exc})") from None
        yield frame
