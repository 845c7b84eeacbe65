"""Onsets from a guide track: the production sound of the clip, or a WAV the user gives.

Sound pins an impact down far more exactly than picture can: a spectral-flux onset
detector (log-magnitude spectrum, rise above a frequency-max-filtered previous frame,
as in SuperFlux, so that sustained and slowly moving tones do not trigger), adaptive
peak picking with a minimum gap, then each onset is refined on the waveform itself to
where its short-time energy rises, to the millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from syncfoley.core.progress import Progress
from syncfoley.engine.detect.peaks import pick_peaks
from syncfoley.engine.media.audio import iter_audio
from syncfoley.engine.types import Curve, Envelope, Onset, Region, TimeRange


@dataclass(frozen=True)
class GuideDetectorConfig:
    sample_rate: int = 48000
    n_fft: int = 1024
    hop: int = 128
    # Frequencies analysed (Hz): below is rumble, above is mostly hiss.
    fmin: float = 60.0
    fmax: float = 16000.0
    # Log compression of magnitudes: log1p(gain * |X|).
    log_gain: float = 100.0
    # SuperFlux: compare with the frame this many hops back, max-filtered over bins.
    lag: int = 2
    max_bins: int = 3
    # Peak picking: above the local mean by ``delta`` (of the curve's 99th percentile)...
    delta: float = 0.12
    pre_avg: float = 0.10
    post_avg: float = 0.05
    # ...and above this share of the curve's 99th percentile, anywhere.
    floor: float = 0.08
    # Closest two onsets may be (s).
    min_gap: float = 0.03
    # Smallest flux that can be an onset, whatever the rest of the file: a steady
    # hum or room tone alone, normalised to itself, would otherwise look like hits.
    min_flux: float = 10.0
    # Hits quieter than this (dBFS peak) are ignored (room tone, not Foley).
    min_level_db: float = -55.0
    # In the first ``start_guard`` s, where the flux has no past to compare with, an
    # onset needs at least ``new_bins`` of the analysed frequency bins to rise by
    # ``new_rise_db`` or more over what follows 60 ms later and over the room tone: room
    # tone that is there from the first sample (noise, hum, babble, reverb) does not, a
    # hit at the very start does.
    new_rise_db: float = 9.0
    new_bins: float = 0.1
    start_guard: float = 0.05
    # A peak under this share of the curve's 99th percentile must pass the same test of new
    # sound. Noise's own flux, where the scale is min_flux's (a few quiet hits over white or
    # pink noise), has excursions that clear the local mean by delta, to about 0.3 of it;
    # there no tenth of the bins rises 9 dB at once, while a hit's click does (RULE50,
    # README's guide-track section).
    confirm_below: float = 1 / 3
    # Continuous contact (scrape, rub, roll): sound at least ``region_above_db`` over
    # the room tone for ``region_min`` s or longer, that neither decays like a ringing
    # hit (slower than ``region_max_decay`` dB/s) nor is a train of separate hits
    # (10 ms level jumps below ``region_max_jump`` dB), and is noise-like: at most
    # ``region_max_tonality`` of its energy above the room tone in the strongest 2%
    # of frequency bins (a ringing body puts 90% or more there, a scrape ~25%).
    region_above_db: float = 6.0
    region_min: float = 0.3
    region_max_decay: float = 12.0
    region_max_jump: float = 10.0
    region_max_tonality: float = 0.6


def flux_curve(
    blocks, cfg: GuideDetectorConfig, progress: Optional[Progress] = None, total: Optional[float] = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """Stream blocks into (start_time, flux per hop, samples kept for refinement).

    The samples are kept so that onsets can be refined on the waveform; a guide track
    is mono and the detector's own rate, so a two-hour file keeps ~1.4 GB at 48 kHz:
    long files should be detected in ranges (``--start/--end``).
    """
    window = np.hanning(cfg.n_fft).astype(np.float32)
    freqs = np.fft.rfftfreq(cfg.n_fft, 1 / cfg.sample_rate)
    band = (freqs >= cfg.fmin) & (freqs <= cfg.fmax)
    start: Optional[float] = None
    tail = np.zeros(0, dtype=np.float32)
    history: list[np.ndarray] = []
    flux: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    for t, block in blocks:
        if start is None:
            start = t
            # Pad half a window, mirrored, so the first frame is centred on sample 0
            # and sound already playing at the start is not taken for an onset.
            head = block[1 : cfg.n_fft // 2 + 1][::-1]
            tail = np.concatenate([np.zeros(cfg.n_fft // 2 - len(head), dtype=np.float32), head])
        kept.append(block)
        data = np.concatenate([tail, block])
        n = (len(data) - cfg.n_fft) // cfg.hop + 1
        if n <= 0:
            tail = data
            continue
        idx = np.arange(cfg.n_fft)[None, :] + cfg.hop * np.arange(n)[:, None]
        spec = np.abs(np.fft.rfft(data[idx] * window, axis=1))[:, band]
        spec = np.log1p(cfg.log_gain * spec).astype(np.float32)
        frames = np.concatenate([*history, spec]) if history else spec
        ref = _max_filter(frames, cfg.max_bins)
        diff = frames[cfg.lag :] - ref[: -cfg.lag] if len(frames) > cfg.lag else np.zeros((0, frames.shape[1]))
        # The first frames have nothing to compare with: no flux there.
        new = diff[-n:] if history else np.concatenate([np.zeros((cfg.lag, frames.shape[1])), diff])[-n:]
        flux.append(np.maximum(new, 0.0).sum(axis=1))
        history = [frames[-cfg.lag :]]
        tail = data[n * cfg.hop :]
        if progress is not None and total:
            progress(min(1.0, (t - (start or 0.0)) / total), "detecting onsets (sound)")
    curve = np.concatenate(flux) if flux else np.zeros(0)
    samples = np.concatenate(kept) if kept else np.zeros(0, dtype=np.float32)
    return (start if start is not None else 0.0), curve, samples


def _max_filter(spec: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return spec
    half = width // 2
    padded = np.pad(spec, ((0, 0), (half, half)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)
    return windows.max(axis=-1)


def _refine(samples: np.ndarray, approx: int, sr: int) -> int:
    """Move an onset to where the signal's energy jumps: the steepest rise of a
    0.5 ms peak envelope between 30 ms before the flux peak and the loudest point
    10 ms after it (earlier sound, a previous hit's tail, does not pull it back).

    A quiet hit in a loud hit's tail may not rise above that tail in amplitude at all
    (the flux found it by its spectrum): when nothing in the window rises 6 dB over its
    first 3 ms, the flux peak stays (searching would land on the tail, 30 ms early)."""
    lo = max(0, approx - int(0.03 * sr))
    hi = min(len(samples), approx + int(0.01 * sr))
    step = max(1, int(0.0005 * sr))
    if hi - lo < 4 * step:
        return approx
    env = np.maximum.reduceat(np.abs(samples[lo:hi]), np.arange(0, hi - lo, step))
    top = int(env.argmax())
    if top < 1 or env[top] <= 0 or env[top] < 2.0 * float(np.median(env[:6])):
        return approx
    before = np.array([env[max(0, k - 3) : k].max() if k else env[0] for k in range(top + 1)])
    k = int(np.argmax(env[: top + 1] - before))
    seg = np.abs(samples[lo + k * step : lo + (k + 1) * step])
    first = np.flatnonzero(seg >= 0.5 * seg.max()) if len(seg) else np.zeros(0, np.intp)
    return lo + k * step + (int(first[0]) if len(first) else 0)


@dataclass(frozen=True)
class GuideResult:
    onsets: tuple[Onset, ...]
    peak_db: float
    curve: Curve
    envelope: Envelope
    regions: tuple[Region, ...] = ()


def detect_guide(
    path: str | Path,
    span: TimeRange,
    cfg: GuideDetectorConfig = GuideDetectorConfig(),
    progress: Optional[Progress] = None,
) -> GuideResult:
    """Detect onsets in the audio of ``path`` (a video with sound, or an audio file),
    and say how loud it is at its loudest (dBFS), so a caller can tell a silent
    guide track from a real one."""
    start, curve, samples = flux_curve(iter_audio(path, span, cfg.sample_rate), cfg, progress, span.duration)
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    peak_db = 20 * np.log10(peak) if peak > 0 else float("-inf")
    times = start + np.arange(len(curve)) * cfg.hop / cfg.sample_rate
    scale = _scale(curve, cfg)
    plot = Curve(tuple(times.tolist()), tuple((curve / scale).tolist()), "spectral flux (normalised)", cfg.floor)
    return GuideResult(
        tuple(onsets_from_flux(curve, samples, start, cfg)), peak_db, plot, loudness_envelope(samples, start, cfg),
        tuple(contact_regions(samples, start, cfg)),
    )


def contact_regions(samples: np.ndarray, start: float, cfg: GuideDetectorConfig) -> list[Region]:
    """Stretches of continuous contact sound (scrape, rub, roll); see GuideDetectorConfig.

    Measured on 10 ms frames: level (RMS dB) and tonality of the sound above the
    room tone. The room tone is the 10th percentile of the level (and the median
    spectrum of the quietest fifth of frames); a region is a run of frames above it
    (mostly by ``region_above_db``, never by less than half that; gaps under 50 ms
    bridged) that is long, sustained, smooth and noise-like. A ringing metal hit is
    long but decays; a drum roll is sustained but jumps at every stroke; a held tone
    is smooth but not noise-like.
    """
    frames, db = frame_levels(samples, cfg.sample_rate // 100)
    if len(db) < int(cfg.region_min * 100):
        return []
    spec = np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), axis=1))[:, 1:] ** 2
    room = np.median(spec[db <= np.quantile(db, 0.2)], axis=0)
    excess = np.maximum(spec - 2.0 * room, 0.0)
    top = max(1, spec.shape[1] // 50)
    tonality = np.sort(excess, axis=1)[:, -top:].sum(axis=1) / (excess.sum(axis=1) + 1e-30)
    floor = float(np.quantile(db, 0.1))
    # Hysteresis: a run starts above floor + region_above_db and lasts while above half
    # that, so a scrape whose level wanders is one region, not three.
    enter = max(floor + cfg.region_above_db, cfg.min_level_db)
    stay = max(floor + cfg.region_above_db / 2, cfg.min_level_db)
    gap = 5
    idx = np.flatnonzero(db > stay)
    runs: list[tuple[int, int]] = []
    for i in idx:
        if runs and i - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], int(i))
        else:
            runs.append((int(i), int(i)))
    out = []
    for a, b in runs:
        level = db[a : b + 1]
        if (b + 1 - a) / 100.0 < cfg.region_min or np.mean(level > enter) < 0.5:
            continue
        slope = float(np.polyfit(np.arange(len(level)) / 100.0, level, 1)[0])
        jumps = np.diff(level)
        biggest_jump = float(np.quantile(jumps, 0.95)) if len(jumps) else 0.0
        if slope < -cfg.region_max_decay or biggest_jump > cfg.region_max_jump:
            continue
        if float(np.median(tonality[a : b + 1])) > cfg.region_max_tonality:
            continue
        loud = float(np.median(level))
        strength = float(np.clip((loud + 48.0) / 48.0, 0.05, 1.0))
        out.append(Region(start=round(start + a / 100.0, 4), end=round(start + (b + 1) / 100.0, 4), strength=strength))
    return out


def frame_levels(samples: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` cut into whole frames of ``step`` (float64), and each frame's RMS in dB."""
    n = len(samples) // step
    frames = samples[: n * step].reshape(n, step).astype(np.float64)
    return frames, 10 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)


def loudness_envelope(samples: np.ndarray, start: float, cfg: GuideDetectorConfig, rate: float = 100.0) -> Envelope:
    """RMS in 10 ms windows, in dB mapped to 0..1 over the 60 dB below full scale."""
    _, db = frame_levels(samples, int(cfg.sample_rate / rate))
    if len(db) == 0:
        return Envelope(rate=rate, values=(), start=start)
    values = np.clip((db + 60.0) / 60.0, 0.0, 1.0)
    return Envelope(rate=rate, values=tuple(float(round(v, 4)) for v in values), start=start)


def _scale(curve: np.ndarray, cfg: GuideDetectorConfig) -> float:
    """The flux that counts as 1: the curve's 99th percentile, but never so small
    that a quiet hum, normalised to itself, would look like hits."""
    return max(float(np.quantile(curve, 0.99)) if len(curve) else 0.0, cfg.min_flux / cfg.floor)


def onsets_from_flux(curve: np.ndarray, samples: np.ndarray, start: float, cfg: GuideDetectorConfig) -> list[Onset]:
    if len(curve) < 3 or not np.any(curve > 0):
        return []
    sr, hop = cfg.sample_rate, cfg.hop
    scale = _scale(curve, cfg)
    norm = curve / scale
    pre, post = int(cfg.pre_avg * sr / hop), int(cfg.post_avg * sr / hop)
    padded = np.pad(norm, (pre, post), mode="edge")
    csum = np.concatenate([[0.0], np.cumsum(padded)])
    local = (csum[pre + post + 1 :] - csum[: -(pre + post + 1)]) / (pre + post + 1)
    above = np.where(norm >= local + cfg.delta, norm, 0.0)
    gap = max(1, int(cfg.min_gap * sr / hop))
    out = []
    level_floor = 10 ** (cfg.min_level_db / 20)
    room: Optional[np.ndarray] = None  # measured only if an onset falls where it is needed
    for idx, value in pick_peaks(above, cfg.floor, gap):
        approx = int(round(idx * hop))
        pos = _refine(samples, approx, sr)
        peak = float(np.abs(samples[pos : pos + int(0.05 * sr)]).max()) if pos < len(samples) else 0.0
        if peak < level_floor:
            continue
        # Where the flux has no past to compare with (the first frames), only new sound
        # counts: room tone that is simply there from the first sample is not an onset. A
        # faint peak elsewhere must be new sound too: it may be the room tone's own flux.
        if pos < cfg.start_guard * sr or value < cfg.confirm_below:
            room = room_spectrum(samples, cfg) if room is None else room
            if new_sound(samples, pos, room, cfg) < cfg.new_bins:
                continue
        db = 20 * np.log10(peak)
        strength = float(np.clip((db + 48.0) / 48.0, 0.05, 1.0))
        confidence = float(np.clip(1.0 - cfg.floor / max(value, 1e-9), 0.0, 1.0))
        out.append(Onset(time=start + pos / sr, strength=strength, confidence=confidence))
    return out


NEW_WINDOW = 512  # 10.7 ms at 48 kHz: short enough to see a contact's first milliseconds


def _power(samples: np.ndarray, starts: np.ndarray, cfg: GuideDetectorConfig) -> np.ndarray:
    """Power spectra (analysed band) of NEW_WINDOW-long frames starting at ``starts``."""
    n = NEW_WINDOW
    starts = np.clip(starts, 0, max(0, len(samples) - n))
    frames = np.stack([samples[s : s + n] for s in starts]).astype(np.float64)
    if frames.shape[1] < n:
        frames = np.pad(frames, ((0, 0), (0, n - frames.shape[1])))
    freqs = np.fft.rfftfreq(n, 1 / cfg.sample_rate)
    band = (freqs >= cfg.fmin) & (freqs <= cfg.fmax)
    return (np.abs(np.fft.rfft(frames * np.hanning(n), axis=1)) ** 2)[:, band]


def room_spectrum(samples: np.ndarray, cfg: GuideDetectorConfig) -> np.ndarray:
    """The room tone's power per bin: the 20th percentile over up to 400 frames spread
    through the file (hits are brief, so most frames hold only the room)."""
    count = max(1, min(400, len(samples) // NEW_WINDOW))
    starts = np.linspace(0, max(0, len(samples) - NEW_WINDOW), count).astype(int)
    return np.quantile(_power(samples, starts, cfg), 0.2, axis=0)


def new_sound(samples: np.ndarray, pos: int, room: np.ndarray, cfg: GuideDetectorConfig) -> float:
    """Share of bins whose power in the 10 ms around ``pos`` rose ``new_rise_db`` above
    both the 30 ms before (the mean of four frames ending 1 ms before ``pos``) and the room
    tone. At the very start of a file, where there is no before, the 30 ms from 60 ms on
    stand in for it: room tone that simply starts is there too, a hit has died away."""
    n = NEW_WINDOW
    rise = 10 ** (cfg.new_rise_db / 10)
    after = _power(samples, np.array([pos]), cfg)[0]
    lead = int(0.001 * cfg.sample_rate)
    ends = pos - lead - np.arange(4) * (n // 2)
    if ends[-1] - n < 0:
        starts = pos + int(0.06 * cfg.sample_rate) + np.arange(4) * (n // 2)
    else:
        starts = ends - n
    before = _power(samples, starts, cfg).mean(axis=0)
    risen = (after > rise * before) & (after > rise * room)
    return float(risen.mean()) if risen.size else 0.0

