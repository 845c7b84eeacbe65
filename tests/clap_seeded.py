"""Seeded CLAP weights and test signals that LAION's code and ours both rebuild alike.

The golden file of CLAP embeddings (``tests/data/clap/golden.npz``) is made by
``bench/clap_reference.py`` with LAION's own code, in a separate virtual environment; the
tests rebuild the same weights and signals here and compare. So this module needs only
NumPy: each learned tensor comes from its key and the seed alone, whatever order a model
lists its keys in, and fixed tensors (buffers, frozen filterbanks) are never generated:
both sides hold their own, and ``keys.json`` records LAION's checksums of them.
"""

from __future__ import annotations

import zlib
from typing import Any, Iterable

import numpy as np

SEED = 19
SAMPLE_RATE = 48000
PROMPTS = ("glass clink", "a wooden door knocked twice", "metal", "footsteps on gravel, slow")


def learned_tensor(key: str, shape: Iterable[int], seed: int = SEED) -> np.ndarray:
    """One learned tensor: weights of matrices scaled by their fan-in, norms near 1, biases small."""
    shape = tuple(int(s) for s in shape)
    return np.asarray(_values(key, shape, seed), dtype=np.float32).reshape(shape)


def _values(key: str, shape: tuple[int, ...], seed: int) -> Any:
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    leaf = key.rsplit(".", 1)[-1]
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return (rng.standard_normal(shape) / np.sqrt(max(fan_in, 1))).astype(np.float32)
    if "norm" in key.lower() or key.endswith(("bn0.weight", "LayerNorm.weight")) or leaf == "running_var":
        return (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32) if leaf != "running_var" else \
            (1.0 + 0.1 * np.abs(rng.standard_normal(shape))).astype(np.float32)
    return (0.02 * rng.standard_normal(shape)).astype(np.float32)


def learned_state(spec: dict[str, Any], seed: int = SEED) -> dict[str, np.ndarray]:
    """Every learned tensor of a ``keys.json`` spec (key -> {"shape", "kind"})."""
    return {k: learned_tensor(k, v["shape"], seed) for k, v in spec.items() if v["kind"] == "learned"}


def signals() -> dict[str, np.ndarray]:
    """Fixed 48 kHz mono test signals, each at most 10 s (LAION crops longer ones at random):
    knocks with decaying partials over noise, a chirp, near silence, exactly 10 s of clicks."""
    rng = np.random.default_rng(SEED)
    sr = SAMPLE_RATE
    out: dict[str, np.ndarray] = {}
    t = np.arange(int(2.5 * sr)) / sr
    knocks = 0.003 * rng.standard_normal(t.size)
    for start, f0 in ((0.2, 410.0), (0.9, 620.0), (1.6, 300.0)):
        k = t >= start
        tau = t[k] - start
        knocks[k] += 0.5 * np.exp(-tau * 18) * (np.sin(2 * np.pi * f0 * tau) + 0.4 * np.sin(2 * np.pi * 2.7 * f0 * tau))
    out["knocks_2.5s"] = knocks
    t = np.arange(int(4.0 * sr)) / sr
    out["chirp_4s"] = 0.3 * np.sin(2 * np.pi * (100 * t + 1200 * t ** 2))
    out["hiss_1s"] = 1e-4 * rng.standard_normal(sr)
    clicks = np.zeros(10 * sr)
    clicks[:: sr // 3] = 0.9
    out["clicks_10s"] = clicks
    return {k: v.astype(np.float32) for k, v in out.items()}


def quantised(x: np.ndarray) -> np.ndarray:
    """SyncFusion's (and LAION's numpy path's) int16 round trip before CLAP hears the audio."""
    return ((np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)
