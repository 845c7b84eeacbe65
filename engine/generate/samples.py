"""Sample mode: the user's own one-shots placed at the onsets.

Each sample's attack (its first sample within 20 dB of its peak) is what lands on
the onset, so one-shots with a little silence at the head still hit in sync.
Samples are used round-robin, each hit with its own gain and a slight pitch
variation, so a run of hits never repeats one recording identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from syncfoley.core.errors import MediaError
from syncfoley.core.progress import Progress
from syncfoley.engine.types import Onset

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
    from syncfoley.engine.media.sound_file import read_sound

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
        mono = read_sound(f, "sample", sample_rate, f"remove it from {d}")
        peak = float(np.abs(mono).max()) if len(mono) else 0.0
        if peak <= 1e-6:
            raise MediaError(f"sample {f} is silent; remove it from {d}")
        attack = int(np.flatnonzero(np.abs(mono) >= 0.1 * peak)[0])
        names.append(f.name)
        sounds.append((mono / peak).astype(np.float32))
        attacks.append(attack)
    return SampleBank(str(d), tuple(names), tuple(sounds), tuple(attacks), sample_rate)


def bank_from_reference(path: str | Path, sample_rate: int) -> SampleBank:
    """One-shots cut from a recording: each hit found in it, up to the next hit (at most 1.5 s).

    A recording with no distinct hit in it (a texture, a drone) cannot be cut into
    one-shots and is refused; a silent or unreadable one too.
    """
    from syncfoley.engine.detect.audio import detect_guide
    from syncfoley.engine.generate.clap import read_reference
    from syncfoley.engine.types import TimeRange

    audio = read_reference(path)  # checks: exists, readable, not silent; 48 kHz mono
    sr48 = 48000
    onsets = detect_guide(path, TimeRange(0.0, len(audio) / sr48)).onsets
    peak = float(np.abs(audio).max())
    starts = [max(0, int(o.time * sr48) - int(0.002 * sr48)) for o in onsets]
    sounds, attacks = [], []
    for k, a in enumerate(starts):
        b = min(len(audio), starts[k + 1] if k + 1 < len(starts) else len(audio), a + int(1.5 * sr48))
        seg = audio[a:b].copy()
        if len(seg) < int(0.02 * sr48) or float(np.abs(seg).max()) < 0.05 * peak:
            continue
        fade = min(len(seg) // 4, int(0.01 * sr48))
        seg[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        if sample_rate != sr48:
            from math import gcd

            from scipy.signal import resample_poly

            g = gcd(sr48, sample_rate)
            seg = resample_poly(seg, sample_rate // g, sr48 // g).astype(np.float32)
        top = float(np.abs(seg).max())
        sounds.append((seg / top).astype(np.float32))
        attacks.append(int(np.flatnonzero(np.abs(seg) >= 0.1 * top)[0]))
    if not sounds:
        raise MediaError(
            f"reference audio {path} has no distinct hits to cut into one-shots; give a recording of separate "
            "hits, a --samples folder, or use the diffusion engine, which takes any reference"
        )
    names = tuple(f"{Path(path).name}#{k + 1}" for k in range(len(sounds)))
    return SampleBank(str(path), names, tuple(sounds), tuple(attacks), sample_rate)


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
    channels: int = 1,
    pan_spread: float = 0.3,
) -> np.ndarray:
    """One-shots at the onsets: (N,) mono or (N, 2) stereo with each hit panned a little."""
    from syncfoley.engine.generate.synth import _pan_gains, limit

    sr = bank.sample_rate
    n = int(round(duration * sr))
    out = np.zeros((channels, n), dtype=np.float32)
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
            hit = 10 ** (db / 20) * sound[lo - pos : hi - pos]
            if channels == 1:
                out[0, lo:hi] += hit
            else:
                left, right = _pan_gains(float(rng.uniform(-1, 1)) * pan_spread)
                out[0, lo:hi] += left * hit
                out[1, lo:hi] += right * hit
        if progress is not None and i % 32 == 0:
            progress(i / max(1, len(onsets)), "placing samples")
    return limit(out, 0.97)
