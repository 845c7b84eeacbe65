"""Guide tracks with known hits over the room tones production sound carries.

Hits are modal syntheses (a contact click, then damped partials at random frequencies,
decays and levels), quiet ones among them, some 150-400 ms after a loud one. The room
tone starts with the file (where a detector that takes the start of sound for an onset
fails): white, pink or brown noise, mains hum with harmonics, babble (several voices:
formant-filtered noise at syllable rate), or a reverberant room (the hits and a noise
floor through a decaying diffuse tail). Written as AAC in MP4 or PCM in MOV beside a
still picture, as cameras and editors hand sound over.

Not made by the detector's code: the tests measure the detector on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 48000
TONES = ("white", "pink", "brown", "hum", "babble", "reverb")


@dataclass(frozen=True)
class GuideClip:
    path: Path
    hits: list[float]
    tone: str


def _coloured(rng: np.random.Generator, n: int, slope: float) -> np.ndarray:
    """Noise whose power falls as f**-slope (0 white, 1 pink, 2 brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    spec *= f ** (-slope / 2)
    spec[f < 20] = 0
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x * x)) + 1e-12)


def room_tone(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """Unit-RMS room tone of ``kind``."""
    from scipy.signal import butter, sosfilt

    t = np.arange(n) / SR
    if kind in ("white", "pink", "brown"):
        return _coloured(rng, n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind])
    if kind == "hum":
        mains = float(rng.choice([50.0, 60.0]))
        x = sum(a * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 6.3))
                for k, a in zip(range(1, 8), (1.0, 0.5, 0.35, 0.2, 0.12, 0.08, 0.05)))
        x = x + 0.05 * _coloured(rng, n, 1.0)
        return x / np.sqrt(np.mean(x * x))
    if kind == "babble":
        # A canteen: many voices, each a broadband source through two formants, talking
        # in syllables that overlap.
        x = np.zeros(n)
        for _ in range(int(rng.integers(16, 32))):
            src = _coloured(rng, n, 1.0)
            voice = 0.3 * src
            for lo in (rng.uniform(300, 900), rng.uniform(900, 2500)):
                voice += sosfilt(butter(2, [lo, lo * 1.3], btype="band", fs=SR, output="sos"), src)
            rate = rng.uniform(3.0, 6.0)
            env = 0.2 + np.sin(np.pi * ((rate * t + rng.uniform(0, 1)) % 1.0)) ** 2
            env *= np.clip(np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 6.3)) + 0.8, 0, None)
            x += voice * env
        return x / np.sqrt(np.mean(x * x))
    if kind == "reverb":
        return _coloured(rng, n, 1.0)
    raise ValueError(kind)


def hit(rng: np.random.Generator, level_db: float) -> np.ndarray:
    """One impact: a contact click and damped partials, peaking at ``level_db`` dBFS."""
    dur = float(rng.uniform(0.08, 0.6))
    n = int(dur * SR)
    t = np.arange(n) / SR
    x = np.zeros(n)
    for _ in range(int(rng.integers(2, 7))):
        f = float(rng.uniform(150, 6000))
        decay = float(rng.uniform(0.01, dur / 2))
        x += rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) * np.exp(-t / decay)
    click = int(rng.integers(24, 240))
    x[:click] += rng.standard_normal(click) * np.hanning(2 * click)[click:] * rng.uniform(0.5, 2.0)
    x *= np.minimum(1.0, t / 0.0005)
    # Faded out over the last third, so that no hit ends in a click of its own.
    x *= np.clip((dur - t) / (dur / 3), 0.0, 1.0)
    return x / np.abs(x).max() * 10 ** (level_db / 20)


def guide_clip(out: Path, tone: str, seed: int, container: str = "mp4", duration: float = 8.0) -> GuideClip:
    """Write a clip with hits over ``tone``; ``container`` mp4 (AAC) or mov (PCM)."""
    rng = np.random.default_rng(seed)
    n = int(duration * SR)
    room_db = float(rng.uniform(-58, -40))
    y = room_tone(rng, tone, n) * 10 ** (room_db / 20)
    hits: list[float] = []
    dry = np.zeros(n)
    t = float(rng.uniform(0.3, 0.6))
    while t < duration - 0.7:
        level = float(rng.uniform(max(room_db + 18, -40), -6))
        h = hit(rng, level)
        start = int(t * SR)
        dry[start:start + len(h)] += h[: n - start]
        hits.append(start / SR)
        if level > -20 and level - 10 > room_db + 18 and rng.random() < 0.4:  # a quiet hit in the loud one's tail
            t2 = t + float(rng.uniform(0.15, 0.4))
            q = hit(rng, float(rng.uniform(max(room_db + 18, level - 24), level - 10)))
            s2 = int(t2 * SR)
            dry[s2:s2 + len(q)] += q[: n - s2]
            hits.append(s2 / SR)
            t = t2
        t += float(rng.uniform(0.35, 1.2))
    if tone == "reverb":
        rt60 = float(rng.uniform(0.3, 1.2))
        m = int(rt60 * SR)
        ir = rng.standard_normal(m) * np.exp(-6.9 * np.arange(m) / m)
        ir[0] = 0.0
        ir *= float(rng.uniform(0.3, 0.8)) / np.sqrt(np.sum(ir * ir))
        dry = dry + np.convolve(dry, ir)[:n]
    y = (y + dry).astype(np.float32)
    y /= max(1.0, float(np.abs(y).max()) / 0.99)
    path = out / f"{tone}-{seed}.{container}"
    _write(path, y, container)
    return GuideClip(path, hits, tone)


def _write(path: Path, audio: np.ndarray, container: str) -> None:
    import av

    with av.open(str(path), "w") as f:
        vs = f.add_stream("mjpeg" if container == "mov" else "libx264", rate=25)
        vs.width, vs.height = 64, 36
        vs.pix_fmt = "yuvj420p" if container == "mov" else "yuv420p"
        codec = "pcm_s16le" if container == "mov" else "aac"
        a = f.add_stream(codec, rate=SR)
        a.layout = "mono"
        frame = np.full((36, 64, 3), 90, np.uint8)
        for _ in range(int(len(audio) / SR * 25)):
            for p in vs.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                f.mux(p)
        for p in vs.encode():
            f.mux(p)
        fmt = "s16" if container == "mov" else "fltp"
        for i in range(0, len(audio), 1024):
            chunk = audio[i:i + 1024].reshape(1, -1)
            if fmt == "s16":
                chunk = (np.clip(chunk, -1, 1) * 32767).astype(np.int16)
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=fmt, layout="mono")
            af.sample_rate = SR
            af.pts = i
            for p in a.encode(af):
                f.mux(p)
        for p in a.encode():
            f.mux(p)
