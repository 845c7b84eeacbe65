"""A second look at each candidate onset of the physics detector.

The block networks (:mod:`motion_scorer`) see one block over six frames. What tells a
real impact from a look-alike is often around it: a flickering picture raises every
block's score at once, a stick that strikes and rebounds leaves a train of weaker peaks
after the true one, a shaking camera lifts the second-best block too. So every peak of
the frame probability above a low bar (``CANDIDATE``) is a candidate, described by

- its frame's summary (:func:`frame_summary`): the best block's logit, the best block
  at least a tenth of the picture away, how many blocks are above a few logit levels,
  how far the next four blocks fall behind, the mean block logit, the best block's
  place, lost velocity and every motion feature of it;
- its surroundings in time (:func:`candidate_features`): the best logit in the three
  frames either side, the best within ``CONTEXT`` seconds outside those, how many other
  candidates lie within ``CONTEXT`` and the best of them,

and a small ensemble of decision trees (gradient boosting, fitted by ``syncfoley
tune-motion`` on clips the networks were not trained on) gives the probability that it is
an impact; calibrated (Platt scaling) on out-of-fold predictions. The trees are plain
arrays in the scorer's ``.npz``; scoring them needs NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from syncfoley.core.errors import FormatError
from syncfoley.engine.detect.motion_features import NAMES

CANDIDATE = 0.02  # calibrated frame probability a peak needs to be looked at again
CONTEXT = 0.5  # seconds either side that describe a candidate's surroundings
UNSCORED = -20.0  # the frame logit of a frame that has no features
LEVELS = (-4.0, -2.0, 0.0, 2.0)  # block logits counted above
APART = 0.1  # picture widths: the runner-up block is at least this far from the best
NEIGHBOURS = (-3, -2, -1, 1, 2, 3)
SUMMARY_NAMES = (
    "best", "runner_up", *(f"blocks_above{v:g}" for v in LEVELS), *(f"top{i}_behind" for i in range(2, 6)),
    "mean", "lost", "x", "y", *(f"best_{n}" for n in NAMES),
)
CONTEXT_NAMES = (*(f"frame{d:+d}" for d in NEIGHBOURS), "around", "rivals", "best_rival")
VERIFIER_NAMES = SUMMARY_NAMES + CONTEXT_NAMES
SUMMARY = len(SUMMARY_NAMES)
FEATURES = len(VERIFIER_NAMES)


def frame_summary(logits: np.ndarray, values: np.ndarray, where: np.ndarray, lost: np.ndarray) -> np.ndarray:
    """Per frame (leading axis), what the block logits and the best block say:
    ``logits`` (frames, blocks), ``values`` (frames, blocks, motion features), ``where``
    (frames, blocks, 2), ``lost`` (frames, blocks). Column 0 is the frame's best logit."""
    frames, blocks = logits.shape
    rows = np.arange(frames)
    best = np.argmax(logits, axis=1)
    bx, by = where[rows, best, 0], where[rows, best, 1]
    far = np.hypot(where[..., 0] - bx[:, None], where[..., 1] - by[:, None]) > APART
    runner_up = np.where(far, logits, UNSCORED).max(axis=1) if blocks else np.zeros(frames)
    k = min(5, blocks)
    top = -np.sort(-np.partition(logits, blocks - k, axis=1)[:, blocks - k:], axis=1)
    behind = np.full((frames, 4), -10.0)
    behind[:, :k - 1] = top[:, 1:k] - top[:, :1]
    counts = np.log1p(np.stack([(logits > v).sum(axis=1) for v in LEVELS], axis=1))
    out = np.concatenate([
        top[:, :1], runner_up[:, None], counts, behind, logits.mean(axis=1, keepdims=True),
        lost[rows, best][:, None], bx[:, None], by[:, None], values[rows, best],
    ], axis=1)
    return out.astype(np.float32)


def candidate_features(best: np.ndarray, summaries: np.ndarray, peaks: Sequence[int], fps: float) -> np.ndarray:
    """The verifier's input for each candidate frame in ``peaks``: its row of
    ``summaries`` (one per peak, from :func:`frame_summary`) and its surroundings in
    ``best``, every frame's best block logit (``UNSCORED`` where a frame has none)."""
    n = len(best)
    out = np.zeros((len(peaks), FEATURES), np.float32)
    if not len(peaks):
        return out
    reach = max(1, int(round(CONTEXT * fps)))
    order = np.array(sorted(int(k) for k in peaks))  # rivals by bisection: a long file has thousands
    for i, k in enumerate(int(k) for k in peaks):
        near = [best[min(max(k + d, 0), n - 1)] for d in NEIGHBOURS]
        lo, hi = max(0, k - reach), min(n, k + reach + 1)
        ring = np.concatenate([best[lo:max(lo, k - 2)], best[min(hi, k + 3):hi]])
        around = order[np.searchsorted(order, k - reach):np.searchsorted(order, k + reach, side="right")]
        rivals = best[around[around != k]].tolist()
        out[i, :SUMMARY] = summaries[i]
        out[i, SUMMARY:] = (*near, ring.max() if len(ring) else UNSCORED, len(rivals),
                            max(rivals) if rivals else UNSCORED)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=UNSCORED)


@dataclass(frozen=True)
class Verifier:
    """Regression trees whose summed leaves are a candidate's logit, then calibrated.

    Nodes of every tree in flat arrays: ``feature`` (-1 at a leaf), ``split`` (go left
    when the feature is at most this), ``left``/``right`` (node indices), ``value`` (a
    leaf's share of the logit); ``roots`` the first node of each tree."""

    feature: np.ndarray
    split: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    calibration: tuple[float, float]

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The uncalibrated logit of every row of ``x`` (candidates, FEATURES)."""
        x = np.asarray(x, np.float64).reshape(-1, FEATURES)
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        rows = np.arange(len(x))[:, None]
        # Every child comes after its parent (checked on load), so this ends within the depth.
        while True:
            f = self.feature[node]
            inner = f >= 0
            if not inner.any():
                break
            go_left = x[rows, np.where(inner, f, 0)] <= self.split[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return self.value[node].sum(axis=1)

    def probability(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        a, b = self.calibration
        return expit(a * self.raw(x) + b)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"verifier_names": np.array(VERIFIER_NAMES), "verifier_feature": self.feature.astype(np.int32),
                "verifier_split": self.split.astype(np.float64), "verifier_left": self.left.astype(np.int32),
                "verifier_right": self.right.astype(np.int32), "verifier_value": self.value.astype(np.float64),
                "verifier_roots": self.roots.astype(np.int32),
                "verifier_calibration": np.array(self.calibration, np.float64)}


KEYS = ("verifier_names", "verifier_feature", "verifier_split", "verifier_left", "verifier_right", "verifier_value",
        "verifier_roots", "verifier_calibration")


def verifier_from_arrays(arrays: dict[str, np.ndarray], path: str) -> Verifier:
    """Check and read the verifier's arrays of a scorer file (the keys in ``KEYS``)."""
    names = arrays["verifier_names"]
    if names.ndim != 1 or tuple(str(n) for n in names) != VERIFIER_NAMES:
        raise FormatError(f"{path}: its onset verifier was fitted on other features; refit it with "
                          "`syncfoley tune-motion`")
    nodes = arrays["verifier_feature"].shape
    if len(nodes) != 1 or not nodes[0]:
        raise FormatError(f"{path}: verifier_feature must be a list of nodes, has shape {nodes}")
    for key in ("verifier_split", "verifier_left", "verifier_right", "verifier_value"):
        if arrays[key].shape != nodes:
            raise FormatError(f"{path}: {key} has shape {arrays[key].shape}, expected {nodes}")
    roots, cal = arrays["verifier_roots"], arrays["verifier_calibration"]
    if roots.ndim != 1 or not len(roots) or cal.shape != (2,):
        raise FormatError(f"{path}: verifier_roots must list the trees and verifier_calibration hold 2 numbers")
    for key in ("verifier_feature", "verifier_left", "verifier_right", "verifier_roots"):
        if arrays[key].dtype.kind not in "iu":
            raise FormatError(f"{path}: {key} must hold integers, holds {arrays[key].dtype}")
    for key in ("verifier_split", "verifier_value", "verifier_calibration"):
        if arrays[key].dtype.kind != "f" or not np.isfinite(arrays[key]).all():
            raise FormatError(f"{path}: {key} must hold finite numbers")
    feature = arrays["verifier_feature"].astype(np.int64)
    left, right = arrays["verifier_left"].astype(np.int64), arrays["verifier_right"].astype(np.int64)
    index = np.arange(nodes[0])
    inner = feature >= 0
    if (feature >= FEATURES).any() or (feature < -1).any():
        raise FormatError(f"{path}: verifier_feature names a feature outside 0..{FEATURES - 1}")
    # Children after their parent and inside the arrays: every walk down a tree ends.
    if ((left[inner] <= index[inner]) | (right[inner] <= index[inner]) | (left[inner] >= nodes[0])
            | (right[inner] >= nodes[0])).any():
        raise FormatError(f"{path}: the verifier's trees are malformed (a child that does not follow its parent)")
    if cal[0] <= 0:
        raise FormatError(f"{path}: verifier_calibration slope {float(cal[0]):g} would make likelier candidates "
                          "less probable (valid: above 0)")
    if ((roots < 0) | (roots >= nodes[0])).any():
        raise FormatError(f"{path}: verifier_roots points outside the {nodes[0]} nodes")
    return Verifier(feature, arrays["verifier_split"].astype(np.float64), left, right,
                    np.where(inner, 0.0, arrays["verifier_value"].astype(np.float64)), roots.astype(np.int64),
                    (float(cal[0]), float(cal[1])))
