"""WAV files: a 24-bit PCM writer (no extra dependency), and a reader for any audio file."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from syncfoley.core.atomic import atomic_path
from syncfoley.core.errors import MediaError


def encode_pcm24(samples: np.ndarray) -> bytes:
    """Interleaved little-endian 24-bit PCM from float samples in [-1, 1] (clipped)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    q = np.clip(np.round(x * 8388607.0), -8388608, 8388607).astype("<i4")
    return q.reshape(-1).view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


# Frames encoded at a time: the file is written in blocks, so writing costs no copy of the
# whole signal (a one-shot encode of an hour took three float64 copies: gigabytes).
BLOCK = 1 << 18
MAX_DATA = 0xFFFFFFFF - 1024  # RIFF sizes are 32-bit


def write_to(fh: BinaryIO, samples: np.ndarray, sample_rate: int, extra_chunks: bytes = b"") -> None:
    """The same file image as :func:`wav_bytes`, written to ``fh`` block by block."""
    x = np.asarray(samples)
    channels = 1 if x.ndim == 1 else x.shape[1]
    block_align = channels * 3
    size = len(x) * block_align
    if size > MAX_DATA:
        raise MediaError(f"{len(x) / sample_rate:g} s of {channels}-channel 24-bit audio is over the 4 GB a WAV "
                         "file can hold; render it in parts")
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, sample_rate * block_align, block_align, 24)
    head = b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunks + b"data" + struct.pack("<I", size)
    fh.write(b"RIFF" + struct.pack("<I", 4 + len(head) + size + size % 2) + b"WAVE" + head)
    for i in range(0, len(x), BLOCK):
        fh.write(encode_pcm24(np.ascontiguousarray(x[i: i + BLOCK])))
    if size % 2:
        fh.write(b"\0")


def wav_bytes(samples: np.ndarray, sample_rate: int, extra_chunks: bytes = b"") -> bytes:
    """A complete RIFF/WAVE file image: fmt, optional extra chunks (e.g. bext), data."""
    buf = io.BytesIO()
    write_to(buf, samples, sample_rate, extra_chunks)
    return buf.getvalue()


def write(path: str | Path, samples: np.ndarray, sample_rate: int, overwrite: bool = False) -> Path:
    """Write float samples (frames,) or (frames, channels) as 24-bit PCM WAV, atomically."""
    with atomic_path(path, overwrite) as tmp, open(tmp, "wb") as fh:
        write_to(fh, samples, sample_rate)
    return Path(path)


def read(path: str | Path) -> tuple[np.ndarray, int]:
    """Read any audio file libsndfile knows: float32 (frames, channels), sample rate."""
    import soundfile as sf

    from syncfoley.core.fence import check_read

    p = Path(path)
    if not p.is_file():
        raise MediaError(f"no such audio file: {p}")
    real = check_read(p, "audio file")
    try:
        data, sr = sf.read(str(real), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises its own LibsndfileError / RuntimeError
        raise MediaError(f"{p} is not an audio file that can be read ({exc})") from None
    return data, int(sr)
