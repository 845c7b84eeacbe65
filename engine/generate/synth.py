"""The built-in engine: modal impacts, contact noise, sustained textures.

Each onset becomes one hit: a sum of exponentially decaying sinusoids (the
object's modes), a short band-limited noise burst (the contact), and for granular
materials a spray of smaller bursts (grit, crackle). Every hit draws its own pitch,
decay, strike position (which modes ring loudest), gain, pan and noise from a
seeded generator keyed by its index, so repeats are never identical, a render is
reproducible, and editing one onset leaves the others' sound alone. Harder hits are
louder and brighter. A hit still ringing when the next one lands is damped (the
preset's ``choke``), so dense passages stay articulate.

Regions (scrape, rub, roll) become band-limited noise with a slow roughness, faded
in and out smoothly so they never sound like extra hits; their level follows the
intensity envelope when the onsets carry one. Output is mono or stereo.

Speed: the modes are rotating phasors in a numba kernel (a few ns per sample and
mode); filters are SciPy's. One core renders hundreds of times faster than real time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional, Sequence

import numba
import numpy as np

from syncfoley.core.progress import Progress
from syncfoley.engine.types import Envelope, Onset, Region
from syncfoley.presets import MaterialPreset

_T60 = 6.907755  # ln(1000): amplitude falls by 60 dB after t60 seconds


@numba.njit(cache=True, nogil=True, fastmath=True)
def _modes_into(out, freqs, t60s, gains, phases, sr, choke_at, choke_t60):
    """Add decaying sinusoids to ``out``; from sample ``choke_at`` on they decay with ``choke_t60``."""
    n_out = out.shape[0]
    for m in range(freqs.shape[0]):
        w = 2.0 * np.pi * freqs[m] / sr
        r = np.exp(-_T60 / (t60s[m] * sr))
        rc = np.exp(-_T60 / (min(choke_t60, t60s[m]) * sr))
        length = min(n_out, int(t60s[m] * sr) + 1)
        zr = gains[m] * np.cos(phases[m])
        zi = gains[m] * np.sin(phases[m])
        cr = r * np.cos(w)
        ci = r * np.sin(w)
        ccr = rc * np.cos(w)
        cci = rc * np.sin(w)
        for n in range(length):
            out[n] += zi
            if n < choke_at:
                zr, zi = zr * cr - zi * ci, zr * ci + zi * cr
            else:
                zr, zi = zr * ccr - zi * cci, zr * cci + zi * ccr
                if zr * zr + zi * zi < 1e-12 * gains[m] * gains[m]:
                    break


@numba.njit(cache=True, nogil=True)
def _sosfilt(sos, x):
    """Cascaded biquads, direct form II transposed (scipy.signal.sosfilt without its call overhead)."""
    y = x.copy()
    for s in range(sos.shape[0]):
        b0, b1, b2, a1, a2 = sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5]
        z1 = 0.0
        z2 = 0.0
        for n in range(y.shape[0]):
            xn = y[n]
            yn = b0 * xn + z1
            z1 = b1 * xn - a1 * yn + z2
            z2 = b2 * xn - a2 * yn
            y[n] = yn
    return y


@lru_cache(maxsize=512)
def _bandpass(low: float, high: float, sr: int) -> np.ndarray:
    from scipy.signal import butter

    nyq = sr / 2
    lo = max(20.0, min(low, nyq * 0.9))
    hi = max(lo * 1.1, min(high, nyq * 0.95))
    return butter(2, [lo, hi], btype="bandpass", fs=sr, output="sos")


@numba.njit(cache=True, nogil=True)
def _burst(seed, length, tau, sos):
    """A band-limited noise burst with an exponential decay of time constant ``tau`` samples, peak 1."""
    x = np.empty(length)
    g = 1.0
    k = np.exp(-1.0 / tau)
    state = np.uint64(seed * 2654435761 + 1)
    for n in range(length):
        # xorshift64*: fast, and reproducible across platforms.
        state ^= state >> np.uint64(12)
        state ^= state << np.uint64(25)
        state ^= state >> np.uint64(27)
        u = float((state * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        x[n] = (u * 2.0 - 1.0) * 1.7320508 * g  # uniform noise of unit variance
        g *= k
    y = _sosfilt(sos, x)
    peak = 1e-9
    for n in range(length):
        if abs(y[n]) > peak:
            peak = abs(y[n])
    return y / peak


@numba.njit(cache=True, nogil=True)
def _grains_into(out, seed, starts, amps, length, tau, sos):
    """Add one noise burst (peak ``amps[k]``) at each of ``starts``; each its own noise."""
    for k in range(starts.shape[0]):
        a = starts[k]
        n = min(length, out.shape[0] - a)
        if n <= 0:
            continue
        burst = _burst(seed + 7919 * (k + 1), n, tau, sos)
        for i in range(n):
            out[a + i] += amps[k] * burst[i]


def _band_edge(freq: float) -> float:
    """Round a cutoff to 1/24 octave: inaudible, and filter designs are cached instead of redone per hit."""
    return float(2 ** (round(np.log2(max(freq, 1.0)) * 24) / 24))


LEVELS = 9  # transient brightness levels over strength 0..1 (filters designed once each)


@lru_cache(maxsize=64)
def _transient_bank(low: float, high: float, sr: int) -> np.ndarray:
    """Band-pass filters of the contact noise for each strength level: harder hits are brighter."""
    return np.stack([_bandpass(_band_edge(low), _band_edge(high * (0.6 + 0.4 * q / (LEVELS - 1))), sr)
                     for q in range(LEVELS)])


@numba.njit(cache=True, nogil=True)
def _mix64(x):
    """splitmix64 finaliser: turns (seed, hit index) into an independent generator state."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _uniform(state):
    state[0] ^= state[0] >> np.uint64(12)
    state[0] ^= state[0] << np.uint64(25)
    state[0] ^= state[0] >> np.uint64(27)
    return float((state[0] * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, nogil=True)
def _normal(state):
    u1 = max(_uniform(state), 1e-300)
    u2 = _uniform(state)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@numba.njit(cache=True, nogil=True)
def _hits_into(track, positions, indices, strengths, places, gaps, seed, sr, modes, var, shape, tr, tr_bank, gr, gr_sos):
    """Render every hit into ``track`` (channels, N).

    places: where each hit happened across the picture, 0 (left) .. 1 (right); NaN where
    unknown (a random pan within the preset's spread).
    modes: (M, 3) freq, t60, gain. var: pitch, decay, gain_db, mode_jitter (spreads).
    shape: brightness, level_db, dynamics_db, choke, pan_spread, longest (s).
    tr: duration, gain. gr: count, spread, duration, gain. gaps: time to the next hit (s), < 0 if none.
    """
    channels, n_out = track.shape
    m_count = modes.shape[0]
    brightness, level_db, dynamics_db, choke, pan_spread, longest = shape[0], shape[1], shape[2], shape[3], shape[4], shape[5]
    choke = max(choke, 1e-3)
    max_len = int(min(4.0, longest * 2.0) * sr) + 2
    scratch = np.zeros(max_len)
    state = np.zeros(1, dtype=np.uint64)
    freqs = np.empty(m_count)
    t60s = np.empty(m_count)
    gains = np.empty(m_count)
    phases = np.empty(m_count)
    for h in range(positions.shape[0]):
        state[0] = _mix64(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(indices[h] + 1)) | np.uint64(1)
        strength = min(max(strengths[h], 0.0), 1.0)
        pitch = np.exp(_normal(state) * var[0])
        decay = np.exp(_normal(state) * var[1])
        length = min(4.0, longest * decay * 1.05)
        choke_at = 1 << 40
        if gaps[h] >= 0.0 and gaps[h] < length:
            choke_at = int(gaps[h] * sr)
            length = min(length, gaps[h] + 1.5 * choke)
        n = min(int(length * sr) + 1, max_len)
        hit = scratch[:n]
        hit[:] = 0.0
        k = 0
        for m in range(m_count):
            f = modes[m, 0] * pitch * np.exp(_normal(state) * var[3])
            position = 0.55 + 0.45 * _uniform(state)  # strike position: which modes ring loudest
            g = modes[m, 2] * strength ** (brightness * m / m_count) * position * 10.0 ** (_normal(state) * var[2] / 20.0)
            ph = 2.0 * np.pi * _uniform(state)
            if f < 0.45 * sr:
                freqs[k] = f
                t60s[k] = modes[m, 1] * decay
                gains[k] = g
                phases[k] = ph
                k += 1
        _modes_into(hit, freqs[:k], t60s[:k], gains[:k], phases[:k], sr, choke_at, choke)
        if tr[1] > 0.0:
            level = int(round(strength * (tr_bank.shape[0] - 1)))
            tl = min(n, max(8, int(tr[0] * sr * 6)))
            burst = _burst(int(_uniform(state) * 2147483646.0), tl, max(tr[0], 1e-4) * sr, tr_bank[level])
            for i in range(tl):
                hit[i] += tr[1] * burst[i]
        if gr[0] > 0 and gr[3] > 0:
            count = int(gr[0])
            starts = np.empty(count, dtype=np.int64)
            amps = np.empty(count)
            offs = np.empty(count)
            for c in range(count):
                offs[c] = 0.002 + (max(gr[1], 0.003) - 0.002) * _uniform(state)
            offs.sort()
            for c in range(count):
                starts[c] = int(offs[c] * sr)
                amps[c] = gr[3] * (0.3 + 0.7 * _uniform(state)) * np.exp(-3.0 * offs[c] / max(gr[1], 1e-3))
            _grains_into(hit, int(_uniform(state) * 2147483646.0), starts, amps, max(8, int(gr[2] * sr * 6)),
                         max(gr[2], 1e-4) * sr, gr_sos)
        peak = 1e-12
        for i in range(n):
            if abs(hit[i]) > peak:
                peak = abs(hit[i])
        db = level_db + dynamics_db * (strength - 1.0) + _normal(state) * var[2]
        gain = 10.0 ** (db / 20.0) / peak
        pan = (2.0 * _uniform(state) - 1.0) * pan_spread
        if not np.isnan(places[h]):
            pan = 2.0 * min(max(places[h], 0.0), 1.0) - 1.0  # heard where it is seen
        angle = (pan + 1.0) * np.pi / 4.0
        pos = positions[h]
        end = min(n_out, pos + n)
        if channels == 1:
            for i in range(pos, end):
                track[0, i] += gain * hit[i - pos]
        else:
            left = gain * np.cos(angle) * np.sqrt(2.0)
            right = gain * np.sin(angle) * np.sqrt(2.0)
            for i in range(pos, end):
                track[0, i] += left * hit[i - pos]
                track[1, i] += right * hit[i - pos]


def _hit_args(preset: MaterialPreset, sr: int) -> tuple:
    """The preset as the arrays the hit kernel takes."""
    modes = np.array([[m.freq, m.t60, m.gain] for m in preset.modes], dtype=np.float64).reshape(-1, 3)
    var = preset.variation
    longest = max([m.t60 for m in preset.modes] + [preset.transient.duration * 6, preset.grains.spread + 0.02])
    shape = np.array([preset.brightness, preset.level_db, preset.dynamics_db, preset.choke, preset.pan_spread, longest])
    tr, gr = preset.transient, preset.grains
    return (
        float(sr), modes, np.array([var.pitch, var.decay, var.gain_db, var.mode_jitter]), shape,
        np.array([tr.duration, tr.gain]), _transient_bank(tr.low, tr.high, sr),
        np.array([gr.count, gr.spread, gr.duration, gr.gain], dtype=np.float64),
        _bandpass(_band_edge(gr.low), _band_edge(gr.high), sr),
    )


def render_hit(preset: MaterialPreset, strength: float, seed: int, sr: int,
               choke_after: Optional[float] = None) -> np.ndarray:
    """One hit alone, starting at the moment of contact, peak 1.0 (for auditioning and tests).

    ``choke_after``: seconds after which a next hit lands and damps this one.
    """
    longest = max([m.t60 for m in preset.modes] + [preset.transient.duration * 6, preset.grains.spread + 0.02])
    n = int(min(4.0, longest * 2.0) * sr) + 2
    track = np.zeros((1, n), dtype=np.float32)
    gap = -1.0 if choke_after is None else float(choke_after)
    _hits_into(track, np.zeros(1, np.int64), np.zeros(1, np.int64), np.array([strength], np.float64),
               np.array([np.nan]), np.array([gap]), int(seed),
               *_hit_args(preset, sr))
    hit = np.trim_zeros(track[0], "b")
    peak = float(np.abs(hit).max()) if len(hit) else 0.0
    return hit / peak if peak > 0 else hit


def _pan_gains(pan: float) -> tuple[float, float]:
    angle = (pan + 1.0) * np.pi / 4  # constant power: -1 hard left, 0 centre, 1 hard right
    return float(np.cos(angle) * np.sqrt(2)), float(np.sin(angle) * np.sqrt(2))


def render_texture(preset: MaterialPreset, region: Region, start: float, n: int, sr: int, seed: int, index: int,
                   envelope: Optional[Envelope], channels: int) -> tuple[int, np.ndarray]:
    """A region's sustained contact: ``(first sample, (channels, length) array)``."""
    tx = preset.texture
    # Clamped while still seconds: a region to 1e308 s is a sample count past any float.
    a = int(round((min(max(region.start, start), start + n / sr) - start) * sr))
    b = min(n, int(round((min(max(region.end, start), start + n / sr) - start) * sr)))
    if b - a < 16:
        return a, np.zeros((channels, 0), dtype=np.float32)
    length = b - a
    rng = np.random.default_rng([seed, 1_000_003, index])
    t = (np.arange(length) / sr).astype(np.float32)
    # Slow roughness: smoothed noise at about tx.rate Hz, so the texture lives but never jumps.
    knots = max(2, int(length / sr * tx.rate) + 2)
    wobble = np.interp(np.linspace(0, knots - 1, length), np.arange(knots), rng.uniform(-1, 1, knots))
    amp = 1.0 + tx.roughness * wobble.astype(np.float32)
    if envelope is not None and envelope.values:
        times = start + a / sr + t
        env = np.interp((times - envelope.start) * envelope.rate, np.arange(len(envelope.values)),
                        np.asarray(envelope.values, dtype=np.float32))
        amp *= 0.25 + 0.75 * env.astype(np.float32)
    # Raised-cosine fades of 60 ms (or a quarter of a short region): no click, no new onset.
    fade = max(1, min(int(0.06 * sr), length // 4))
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade, dtype=np.float32))
    amp[:fade] *= ramp
    amp[-fade:] *= ramp[::-1]
    db = preset.level_db + tx.level_db + preset.dynamics_db * (float(np.clip(region.strength, 0, 1)) - 1.0)
    level = 10 ** (db / 20)
    sos = _bandpass(tx.low, tx.high, sr)
    common = rng.standard_normal(length).astype(np.float32)
    out = np.empty((channels, length), dtype=np.float32)
    for c in range(channels):
        src = common if channels == 1 else 0.8 * common + 0.6 * rng.standard_normal(length).astype(np.float32)
        band = _sosfilt(sos, src.astype(np.float64)).astype(np.float32)
        rms = float(np.sqrt(np.mean(band ** 2))) + 1e-9
        out[c] = band / rms * 0.25 * level * amp
    return a, out


def render_onsets(
    preset: MaterialPreset,
    onsets: Sequence[Onset],
    start: float,
    duration: float,
    sr: int,
    seed: int,
    progress: Optional[Progress] = None,
    regions: Sequence[Region] = (),
    envelope: Optional[Envelope] = None,
    channels: int = 1,
) -> np.ndarray:
    """Render every onset and region in ``[start, start + duration)``: (N,) mono or (N, 2) stereo."""
    n = int(round(duration * sr))
    track = np.zeros((channels, n), dtype=np.float32)
    ordered = sorted(onsets, key=lambda o: o.time)
    keep = [k for k, o in enumerate(ordered) if 0 <= int(round((o.time - start) * sr)) < n]
    if keep:
        times = np.array([o.time for o in ordered])
        # Each hit's variation is keyed by its index in the whole track, so editing one
        # onset leaves the others' sound alone and a render is reproducible.
        gaps = np.append(np.diff(times), -1.0)[keep]
        positions = np.round((times[keep] - start) * sr).astype(np.int64)
        strengths = np.array([ordered[k].strength for k in keep], dtype=np.float64)
        places = np.array([np.nan if ordered[k].x is None else ordered[k].x for k in keep], dtype=np.float64)
        if progress is not None:
            progress(0.0, "synthesising")
        _hits_into(track, positions, np.array(keep, dtype=np.int64), strengths, places, gaps, int(seed),
                   *_hit_args(preset, sr))
    for k, region in enumerate(regions):
        a, tex = render_texture(preset, region, start, n, sr, seed, k, envelope, channels)
        track[:, a: a + tex.shape[1]] += tex
    return limit(track, 0.97)


def limit(track: np.ndarray, ceiling: float) -> np.ndarray:
    """Bend peaks of a (C, N) buffer under ``ceiling``, in place; (N,) mono or a (N, C) view.
    No second copy of what may be an hour of audio: writers interleave block by block."""
    for ch in track:
        _limit_inplace(ch, ceiling)
    return track[0] if track.shape[0] == 1 else track.T


@numba.njit(cache=True, nogil=True)
def _limit_inplace(x, ceiling):
    """Leave everything below the knee alone, bend peaks above it under the ceiling; one channel, in place."""
    knee = 0.8 * ceiling
    room = ceiling - knee
    for i in range(x.shape[0]):
        v = x[i]
        a = abs(v)
        if a > knee:
            a = knee + room * np.tanh((a - knee) / room)
            x[i] = a if v > 0 else -a
