"""WAV files: a 24-bit PCM writer (no extra dependency), and a reader for any audio file."""

from __future__ import annotations

import struct
from pathlib import Path

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


def wav_bytes(samples: np.ndarray, sample_rate: int, extra_chunks: bytes = b"") -> bytes:
    """A complete RIFF/WAVE file image: fmt, optional extra chunks (e.g. bext), data."""
    x = np.asarray(samples)
    channels = 1 if x.ndim == 1 else x.shape[1]
    data = encode_pcm24(x)
    block_align = channels * 3
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, sample_rate * block_align, block_align, 24)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunks
    chunks += b"data" + struct.pack("<I", len(data)) + data
    if len(data) % 2:
        chunks += b"\0"
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def write(path: str | Path, samples: np.ndarray, sample_rate: int, overwrite: bool = False) -> Path:
    """Write float samples (frames,) or (frames, channels) as 24-bit PCM WAV, atomically."""
    with atomic_path(path, overwrite) as tmp:
        tmp.write_bytes(wav_bytes(samples, sample_rate))
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
