"""Peak picking shared by the detectors: local maxima above a threshold, a minimum gap."""

from __future__ import annotations

import numpy as np


def pick_peaks(score: np.ndarray, threshold: float, min_gap: int) -> list[tuple[float, float]]:
    """Return ``(index, value)`` of peaks, ``index`` refined to sub-sample by a parabola.

    A peak is a sample at least as high as its neighbours and above ``threshold``;
    of peaks closer than ``min_gap`` samples only the highest is kept.
    """
    s = np.asarray(score, dtype=np.float64)
    if len(s) == 0:
        return []
    left = np.concatenate([[-np.inf], s[:-1]])
    right = np.concatenate([s[1:], [-np.inf]])
    cand = np.flatnonzero((s >= left) & (s > right) & (s >= threshold))
    kept: list[int] = []
    for i in sorted((int(k) for k in cand), key=lambda k: -s[k]):
        if all(abs(i - j) >= min_gap for j in kept):
            kept.append(i)
    return [(i + vertex_offset(s, i), float(s[i])) for i in sorted(kept)]


def vertex_offset(score: np.ndarray, i: int) -> float:
    """Where the peak at sample ``i`` really lies, in samples from ``i`` (-0.5 .. 0.5): the
    vertex of the parabola through it and its two neighbours (0 at either end, or where
    the three do not bend down)."""
    if not 0 < i < len(score) - 1:
        return 0.0
    a, b, c = float(score[i - 1]), float(score[i]), float(score[i + 1])
    denom = a - 2 * b + c
    return float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5)) if denom < 0 else 0.0
