"""Fixed-length model windows over a track of any length, joined without losing a hit.

The diffusion model renders 2**18 samples at a time. A longer request is cut into
windows that overlap; each window is conditioned on every onset inside it. Where
two windows overlap, one short cross-fade hands over from the first to the
second. The cross-fade is placed where it cannot touch a hit: no onset lies within
it (nor within a small guard), and among such places the one longest after the
previous onset is chosen, so the tail that is handed over has decayed the most.
Every onset is therefore rendered, at full weight, by exactly one window: none is
lost and none is doubled. :func:`stitch` applied to the windows' own onset
tracks gives back the whole track exactly, which is how the tests check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Seam:
    """Hand-over from one window to the next: a linear cross-fade over ``[start, start + length)``."""

    start: int
    length: int


@dataclass(frozen=True)
class Window:
    """``[start, start + length)`` of the track, with the seams at its two ends (absolute samples)."""

    index: int
    start: int
    length: int
    onsets: tuple[int, ...]  # absolute sample positions inside the window
    fade_in: Seam | None
    fade_out: Seam | None

    def local_track(self, weights: Sequence[float] | None = None) -> np.ndarray:
        """The window's onset impulse train (1.0, or the given weight, at each onset's sample)."""
        track = np.zeros(self.length, dtype=np.float32)
        for k, pos in enumerate(self.onsets):
            track[pos - self.start] = 1.0 if weights is None else weights[k]
        return track


GUARD = 0.005  # seconds kept clear of a cross-fade on both sides of every onset
FADES = (0.05, 0.02, 0.01, 0.004, 0.001)  # cross-fade lengths tried, longest first (seconds)


def _seam(onsets: np.ndarray, lo: int, hi: int, sr: int) -> Seam:
    """The best cross-fade whose span lies in ``[lo, hi)``."""
    grid = np.arange(lo, hi, max(1, sr // 1000))
    before = np.searchsorted(onsets, grid, side="right") - 1
    prev = np.where(before >= 0, onsets[np.clip(before, 0, None)] if len(onsets) else 0, -(10**12))
    after = before + 1
    nxt = np.where(after < len(onsets), onsets[np.clip(after, None, len(onsets) - 1)] if len(onsets) else 0,
                   10**12)
    guard = int(GUARD * sr)
    for fade_s in FADES:
        fade = max(1, int(fade_s * sr))
        # The fade covers [m, m + fade): the previous onset must be before m - guard and
        # the next one after m + fade + guard; the fade must end inside [lo, hi).
        ok = (grid - prev > guard) & (nxt - (grid + fade) > guard) & (grid + fade <= hi)
        if ok.any():
            since = np.minimum(grid - prev, sr).astype(np.int64)  # beyond 1 s every tail has decayed
            score = np.where(ok, since, -1)
            best = int(np.flatnonzero(score == score.max())[-1])  # ties: the latest place
            return Seam(int(grid[best]), fade)
    # Onsets closer together than 2 ms everywhere in the overlap: hand over right after one.
    return Seam(int(lo), 1)


def plan_windows(onsets: Sequence[int], total: int, window: int, overlap: int, sr: int) -> list[Window]:
    """Cover ``total`` samples with windows of ``window`` samples overlapping by ``overlap``.

    The last window may run past the end (the track is zero there and the output is
    trimmed). Seams stay in the middle half of each overlap, so each window has a
    quarter of the overlap as context on either side of the hand-over.
    """
    if window <= 0 or total <= 0:
        raise ValueError("window and total must be positive")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be within [0, {window}), got {overlap}")
    pos = np.asarray(sorted(int(o) for o in onsets if 0 <= int(o) < total), dtype=np.int64)
    hop = window - overlap
    starts = [0]
    while starts[-1] + window < total:
        starts.append(starts[-1] + hop)
    seams: list[Seam] = []
    for a, b in zip(starts, starts[1:]):
        lo, hi = b + overlap // 4, a + window - overlap // 4
        if hi - lo < 2:
            lo, hi = b, a + window
        seams.append(_seam(pos, lo, hi, sr))
    out = []
    for k, s in enumerate(starts):
        inside = pos[(pos >= s) & (pos < s + window)]
        out.append(Window(
            index=k, start=s, length=window, onsets=tuple(int(p) for p in inside),
            fade_in=seams[k - 1] if k > 0 else None,
            fade_out=seams[k] if k < len(seams) else None,
        ))
    return out


def window_weight(w: Window) -> np.ndarray:
    """How much of the window is kept at each of its samples (0..1)."""
    weight = np.ones(w.length, dtype=np.float32)
    if w.fade_in is not None:
        a = w.fade_in.start - w.start
        ramp = (np.arange(w.fade_in.length, dtype=np.float32) + 0.5) / w.fade_in.length
        weight[:a] = 0.0
        weight[a: a + w.fade_in.length] = ramp
    if w.fade_out is not None:
        a = w.fade_out.start - w.start
        ramp = 1.0 - (np.arange(w.fade_out.length, dtype=np.float32) + 0.5) / w.fade_out.length
        weight[a: a + w.fade_out.length] *= ramp
        weight[a + w.fade_out.length:] = 0.0
    return weight


def stitch(windows: Sequence[Window], outputs: Sequence[np.ndarray], total: int) -> np.ndarray:
    """Join the windows' outputs (each ``window`` samples, mono or (C, N)) into ``total`` samples."""
    first = np.asarray(outputs[0])
    shape = (*first.shape[:-1], total)
    out = np.zeros(shape, dtype=np.float32)
    for w, y in zip(windows, outputs):
        y = np.asarray(y, dtype=np.float32)
        if y.shape[-1] != w.length:
            raise ValueError(f"window {w.index} output has {y.shape[-1]} samples, expected {w.length}")
        end = min(total, w.start + w.length)
        out[..., w.start:end] += (y * window_weight(w))[..., : end - w.start]
    return out
