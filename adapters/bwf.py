"""Broadcast WAV: 24-bit PCM plus a ``bext`` chunk whose TimeReference places the file on the timeline.

soundfile cannot write ``bext``, so the chunk is built here (EBU Tech 3285, version 1).
TimeReference is the first sample's position in samples since midnight, so a DAW
spots the file at its record timecode. For 29.97 and 59.94 material the timecode's
frame count runs at 30000/1001 (60000/1001) frames per second of real time, drop
frame or not, and the sample position is computed from that real time.
"""

from __future__ import annotations

import struct
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from syncfoley.adapters.wav import write_to
from syncfoley.core.atomic import atomic_path


def time_reference(timecode_frames: int, rate: Fraction, sample_rate: int) -> int:
    """Samples since midnight of a timecode given as a frame count at ``rate``."""
    return int(round(Fraction(timecode_frames) / Fraction(rate) * sample_rate))


def bext_chunk(time_ref: int, description: str = "", originator: str = "syncfoley",
               reference: str = "", coding_history: str = "") -> bytes:
    def text(s: str, n: int) -> bytes:
        return s.encode("ascii", "replace")[:n].ljust(n, b"\0")

    now = time.gmtime()
    body = (
        text(description, 256) + text(originator, 32) + text(reference, 32)
        + text(time.strftime("%Y-%m-%d", now), 10) + text(time.strftime("%H:%M:%S", now), 8)
        + struct.pack("<II", time_ref & 0xFFFFFFFF, time_ref >> 32)
        + struct.pack("<H", 1) + b"\0" * 64  # version 1, no UMID
        + struct.pack("<5h", 0, 0, 0, 0, 0) + b"\0" * 180  # loudness unknown, reserved
        + coding_history.encode("ascii", "replace")
    )
    if len(body) % 2:
        body += b"\0"
    return b"bext" + struct.pack("<I", len(body)) + body


def write(path: str | Path, samples: np.ndarray, sample_rate: int, time_ref: int, *, description: str = "",
          overwrite: bool = False) -> Path:
    """Write a 24-bit BWF whose first sample sits at ``time_ref`` samples since midnight, atomically."""
    if time_ref < 0:
        raise ValueError(f"time reference must be >= 0 samples, got {time_ref}")
    chunk = bext_chunk(time_ref, description,
                       coding_history=f"A=PCM,F={sample_rate},W=24,M={'mono' if np.ndim(samples) == 1 else 'stereo'},"
                                      "T=syncfoley\r\n")
    with atomic_path(path, overwrite) as tmp:
        with open(tmp, "wb") as fh:
            write_to(fh, samples, sample_rate, extra_chunks=chunk)
    return Path(path)
