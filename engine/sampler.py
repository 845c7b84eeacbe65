"""Sample mode: the user's own one-shots placed at the onsets.

Each sample's attack (its first sample within 20 dB of its peak) is what lands on
the onset, so one-shots with a little silence at the head still hit in sync.
Samples are used round-robin, each hit with its own gain and a slight pitch
variation, so a run of hits never repeats one recording identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from .errors import MediaError
from .types import Onset

Progress = Callable[[float, str], None]

AUDIO_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3")


@dataclass(frozen=True)
class SampleBank:
    """One-shots at the render rate (mono float32) and where each one's attack is."""

    folder: str
    names: tuple[str, ...]
    sounds: tuple[np.ndarray, ...]
    attacks: tuple[int, ...]
    sample_rate: int


def load_bank(folder: str | Path, sample_rate: int) -> SampleBank:
    import soundfile as sf
    from scipy.signal import resample_poly

    d = Path(folder)
    if not d.is_dir():
        raise MediaError(f"samples folder {d} does not exist or is not a folder")
    files = sorted(f for f in d.iterdir() if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file())
    if not files:
        raise MediaError(
            f"samples folder {d} holds no audio files; put one-shots there ({', '.join(AUDIO_EXTENSIONS)})"
        )
    names, sounds, attacks = [], [], []
    for f in files:
        try:
            data, sr = sf.read(str(f), dtype="float32", always_2d=True)
        except Exception as exc:  # soundfile's own error types vary by version
            raise MediaError(f"sample {f} cannot be read ({exc})") from None
        mono = data.mean(axis=1)
        if sr != sample_rate:
            from math import gcd

            g = gcd(sr, sample_rate)
            mono = resample_poly(mono, sample_rate // g, sr // g).astype(np.float32)
        peak = float(np.abs(mono).max()) if len(mono) else 0.0
        if peak <= 1e-6:
            raise MediaError(f"sample {f} is silent; remove it from {d}")
        attack = int(np.flatnonzero(np.abs(mono) >= 0.1 * peak)[0])
        names.append(f.name)
        sounds.append((mono / peak).astype(np.float32))
        attacks.append(attack)
    return SampleBank(str(d), tuple(names), tuple(sounds), tuple(attacks), sample_rate)


def _repitch(x: np.ndarray, ratio: float) -> np.ndarray:
    """Play ``x`` faster by ``ratio`` (linear interpolation; ratios stay within a semitone)."""
    n = int(len(x) / ratio)
    return np.interp(np.arange(n) * ratio, np.arange(len(x)), x).astype(np.float32)


def render_samples(
    bank: SampleBank,
    onsets: Sequence[Onset],
    start: float,
    duration: float,
    seed: int,
    level_db: float = -3.0,
    dynamics_db: float = 24.0,
    pitch_spread: float = 0.02,
    gain_spread_db: float = 1.5,
    progress: Optional[Progress] = None,
) -> np.ndarray:
    from .synth import soft_limit

    sr = bank.sample_rate
    n = int(round(duration * sr))
    out = np.zeros(n, dtype=np.float32)
    count = len(bank.sounds)
    for i, onset in enumerate(onsets):
        rng = np.random.default_rng([seed, i])
        k = i % count
        ratio = float(np.exp(rng.normal(0.0, pitch_spread)))
        sound = _repitch(bank.sounds[k], ratio)
        attack = int(bank.attacks[k] / ratio)
        db = level_db + dynamics_db * (onset.strength - 1.0) + rng.normal(0.0, gain_spread_db)
        pos = int(round((onset.time - start) * sr)) - attack
        lo, hi = max(0, pos), min(n, pos + len(sound))
        if lo < hi:
            out[lo:hi] += 10 ** (db / 20) * sound[lo - pos : hi - pos]
        if progress is not None and i % 32 == 0:
            progress(i / max(1, len(onsets)), "placing samples")
    return soft_limit(out)
