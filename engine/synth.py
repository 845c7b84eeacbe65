"""The built-in impact synthesiser: modal resonances plus a contact-noise transient.

Each onset becomes one hit: a sum of exponentially decaying sinusoids (the
object's modes), a short band-limited noise burst (the contact), and for granular
materials a spray of smaller bursts (grit, crackle). Every hit draws its own pitch,
decay, gain and noise from a seeded generator, so repeats are never identical but a
render is reproducible. Harder hits are louder and brighter, as struck objects are.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Optional, Sequence

import numpy as np

from syncfoley.presets import MaterialPreset

from .types import Onset

Progress = Callable[[float, str], None]

_T60 = 6.907755  # ln(1000): amplitude falls by 60 dB after t60 seconds


@lru_cache(maxsize=64)
def _bandpass(low: float, high: float, sr: int) -> np.ndarray:
    from scipy.signal import butter

    nyq = sr / 2
    lo = max(20.0, min(low, nyq * 0.9))
    hi = max(lo * 1.1, min(high, nyq * 0.95))
    return butter(2, [lo, hi], btype="bandpass", fs=sr, output="sos")


def _noise_burst(rng: np.random.Generator, n: int, duration: float, low: float, high: float, sr: int) -> np.ndarray:
    from scipy.signal import sosfilt

    length = max(8, int(duration * sr * 6))
    length = min(length, n)
    t = np.arange(length, dtype=np.float32) / sr
    burst = rng.standard_normal(length).astype(np.float32) * np.exp(-t / max(duration, 1e-4)).astype(np.float32)
    return sosfilt(_bandpass(low, high, sr), burst).astype(np.float32)


def render_hit(preset: MaterialPreset, strength: float, rng: np.random.Generator, sr: int) -> np.ndarray:
    """One hit as a mono float32 array starting at the moment of contact, peak 1.0 at full strength."""
    var = preset.variation
    pitch = float(np.exp(rng.normal(0.0, var.pitch)))
    decay = float(np.exp(rng.normal(0.0, var.decay)))
    longest = max([m.t60 for m in preset.modes] + [preset.transient.duration * 6, preset.grains.spread + 0.02])
    n = int(min(4.0, longest * decay * 1.05) * sr) + 1
    out = np.zeros(n, dtype=np.float32)
    count = max(1, len(preset.modes))
    for k, mode in enumerate(preset.modes):
        freq = mode.freq * pitch * float(np.exp(rng.normal(0.0, var.mode_jitter)))
        if freq >= 0.45 * sr:
            continue
        t60 = mode.t60 * decay
        m = min(n, int(t60 * sr) + 1)
        t = np.arange(m, dtype=np.float32) / sr
        # Harder hits excite the upper modes more: gain tilts with strength.
        tilt = strength ** (preset.brightness * k / count)
        gain = mode.gain * tilt * 10 ** (rng.normal(0.0, var.gain_db) / 20)
        phase = rng.uniform(0, 2 * np.pi)
        out[:m] += (gain * np.exp(-_T60 / t60 * t) * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)
    tr = preset.transient
    if tr.gain > 0:
        burst = _noise_burst(rng, n, tr.duration, tr.low, tr.high * (0.6 + 0.4 * strength), sr)
        out[: len(burst)] += tr.gain * burst / (np.abs(burst).max() + 1e-9)
    gr = preset.grains
    if gr.count > 0 and gr.gain > 0:
        offsets = np.sort(rng.uniform(0.002, max(gr.spread, 0.003), gr.count))
        for off in offsets:
            start = int(off * sr)
            if start >= n:
                continue
            burst = _noise_burst(rng, n - start, gr.duration, gr.low, gr.high, sr)
            amp = gr.gain * rng.uniform(0.3, 1.0) * np.exp(-3.0 * off / max(gr.spread, 1e-3))
            out[start : start + len(burst)] += amp * burst / (np.abs(burst).max() + 1e-9)
    peak = float(np.abs(out).max())
    if peak > 0:
        out /= peak
    return out


def hit_gain(preset: MaterialPreset, strength: float, rng: np.random.Generator) -> float:
    """Linear gain of a hit: preset level, onset strength over the dynamic range, a little variation."""
    db = preset.level_db + preset.dynamics_db * (float(np.clip(strength, 0.0, 1.0)) - 1.0)
    db += rng.normal(0.0, preset.variation.gain_db)
    return float(10 ** (db / 20))


def render_onsets(
    preset: MaterialPreset,
    onsets: Sequence[Onset],
    start: float,
    duration: float,
    sr: int,
    seed: int,
    progress: Optional[Progress] = None,
) -> np.ndarray:
    """Render every onset in ``[start, start + duration)`` into a mono track."""
    n = int(round(duration * sr))
    track = np.zeros(n, dtype=np.float32)
    for i, onset in enumerate(onsets):
        pos = int(round((onset.time - start) * sr))
        if pos < 0 or pos >= n:
            continue
        # One generator per hit, keyed by its index: a render is reproducible and
        # editing one onset does not change the sound of the others.
        hit_rng = np.random.default_rng([seed, i])
        hit = render_hit(preset, onset.strength, hit_rng, sr) * hit_gain(preset, onset.strength, hit_rng)
        end = min(n, pos + len(hit))
        track[pos:end] += hit[: end - pos]
        if progress is not None and i % 32 == 0:
            progress(i / max(1, len(onsets)), "synthesising")
    return soft_limit(track)


def soft_limit(x: np.ndarray, ceiling: float = 0.97) -> np.ndarray:
    """Leave everything below the knee alone; bend peaks above it smoothly under the ceiling."""
    knee = 0.8 * ceiling
    y = x.copy()
    over = np.abs(x) > knee
    if over.any():
        excess = np.abs(x[over]) - knee
        room = ceiling - knee
        y[over] = np.sign(x[over]) * (knee + room * np.tanh(excess / room))
    return y
