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

from syncfoley.core.errors import MediaError
from syncfoley.engine.media.video import decode_frames, open_media
from syncfoley.engine.types import TimeRange


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

    with open_media(path) as container:
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
        for frame in decode_frames(container, stream, path, None):
            for out in resampler.resample(frame):
                if cursor is None:
                    t = float(out.pts * out.time_base) if out.pts is not None and out.time_base is not None else 0.0
                    cursor = int(round((t - origin) * sample_rate))
                data = out.to_ndarray().reshape(-1).astype(np.float32)
                if not np.isfinite(data).all():
                    # Float PCM can carry NaN or infinity; a detector's levels would be NaN from there on.
                    at = (cursor + int(np.flatnonzero(~np.isfinite(data))[0])) / sample_rate
                    raise MediaError(f"{path}: its audio holds samples that are no numbers (NaN or infinity) "
                                     f"at {at:.3f} s; give audio that plays")
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


def _origin(container) -> float:
    """Seconds of the first video frame (the zero of every time), else of the audio."""
    streams = container.streams.video or container.streams.audio
    s = streams[0]
    return float(s.start_time * s.time_base) if s.start_time is not None else 0.0
