"""Peak picking shared by the detectors: local maxima above a threshold, a minimum gap."""

from __future__ import annotations

import numpy as np


def pick_peaks(score: np.ndarray, threshold: float, min_gap: int) -> list[tuple[float, float]]:
    """Return ``(index, value)`` of peaks, ``index`` refined to sub-sample by a parabola.

    A peak is a sample at least as high as its neighbours and above ``threshold``;
    of peaks closer than ``min_gap`` samples only the highest is kept.
    """
    s = np.asarray(score, dtype=np.float64)
    n = len(s)
    if n == 0:
        return []
    left = np.concatenate([[-np.inf], s[:-1]])
    right = np.concatenate([s[1:], [-np.inf]])
    cand = np.flatnonzero((s >= left) & (s > right) & (s >= threshold))
    kept: list[int] = []
    for i in sorted((int(k) for k in cand), key=lambda k: -s[k]):
        if all(abs(i - j) >= min_gap for j in kept):
            kept.append(i)
    out = []
    for i in sorted(kept):
        off = 0.0
        if 0 < i < n - 1:
            a, b, c = float(s[i - 1]), float(s[i]), float(s[i + 1])
            denom = a - 2 * b + c
            if denom < 0:
                off = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
        out.append((i + off, float(s[i])))
    return out
