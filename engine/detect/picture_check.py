"""A look at the picture around each candidate onset of the physics detector.

Everything the block networks and the verifier read is motion. What none of it sees is
what is there: an object resting on a surface, touching another, or hanging in the air
above it. The picture check cuts the detector's own analysis frames (grey, as its flow sees
them) around a candidate, frames ``k - BEFORE`` .. ``k + AFTER`` in a window ``2 * HALF``
analysis pixels across at the candidate's place, and a small convolutional network (three
3 x 3 stages of 32, 64 and 64 channels, each pooled by two, averaged, one logit) gives the
probability that it shows an impact. A logistic regression on the log-odds of that and of
the verifier's probability, fitted on clips neither the verifier nor the network learnt
from, is the candidate's confidence. docs/physics-detector.md (RULE35-45) has how it was
found and what it gives: the shipped scorer carries none yet, since at an operating point that
adds no onset on smooth-only clips it gained nothing (``bench/candidate_picture.py --write``
makes a scorer file that carries one).

The weights are plain arrays in the scorer's ``.npz`` (format /4); running the network
needs NumPy only. Detection keeps a ring of the last analysis frames and cuts the window
of a frame that may become a candidate as soon as its last frame is in, so memory stays
flat with the duration.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from syncfoley.core.errors import FormatError

BEFORE, AFTER = 6, 3  # frames before and after the candidate's in the stack
HALF = 32  # analysis pixels: the window is twice this across
DEPTH = BEFORE + AFTER + 1
CHANNELS = (DEPTH, 32, 64, 64)
KEYS = (*(f"picture_conv{i}_{p}" for i in range(3) for p in ("w", "b")), "picture_out_w", "picture_out_b",
        "picture_combination")


def cut(frames: np.ndarray, k: int, y: float, x: float) -> np.ndarray:
    """Frames ``k - BEFORE`` .. ``k + AFTER`` of ``frames`` (n, height, width), a window
    ``2 * HALF`` across centred on pixel (``y``, ``x``); past the clip's ends and the
    picture's edges the nearest frame and pixel stand in."""
    n, height, width = frames.shape
    cy = min(max(int(round(y)), 0), height - 1)
    cx = min(max(int(round(x)), 0), width - 1)
    idx = np.clip(np.arange(k - BEFORE, k + AFTER + 1), 0, n - 1)
    rows = np.clip(np.arange(cy - HALF, cy + HALF), 0, height - 1)
    cols = np.clip(np.arange(cx - HALF, cx + HALF), 0, width - 1)
    return frames[np.ix_(idx, rows, cols)]


def normalised(patches: np.ndarray) -> np.ndarray:
    """Each stack (the leading axis) brought to zero mean and unit spread (its own: flicker
    and exposure out; the one grey level added keeps a flat stack from being blown up to noise)."""
    x = patches.astype(np.float32)
    mean = x.mean(axis=(-3, -2, -1), keepdims=True)
    return (x - mean) / (x.std(axis=(-3, -2, -1), keepdims=True) + 1.0)


def _conv_relu_pool(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A 3 x 3 convolution (zero padding one), ReLU, max-pooled by two: (in, h, w) -> (out, h/2, w/2)."""
    channels, height, width = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    view = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))  # (in, h, w, 3, 3)
    columns = view.transpose(0, 3, 4, 1, 2).reshape(channels * 9, height * width)
    y = (w.reshape(len(w), -1) @ columns).reshape(len(w), height, width)
    # Pooled before the bias and ReLU (both commute with a maximum): on a quarter of the values.
    y = np.maximum(np.maximum(y[:, 0::2, 0::2], y[:, 0::2, 1::2]), np.maximum(y[:, 1::2, 0::2], y[:, 1::2, 1::2]))
    return np.maximum(y + b[:, None, None], 0.0)


@dataclass(frozen=True)
class PictureCheck:
    """The picture network's weights and the combination with the verifier's probability:
    confidence = sigmoid(combination[0] * logit(verifier) + combination[1] * logit(picture)
    + combination[2])."""

    convs: tuple[tuple[np.ndarray, np.ndarray], ...]  # (out, in, 3, 3), (out,) per stage
    out: tuple[np.ndarray, np.ndarray]  # (1, 64), (1,)
    combination: tuple[float, float, float]

    def probability(self, stack: np.ndarray) -> float:
        """The network's probability that ``stack`` (DEPTH, 2 * HALF, 2 * HALF grey) shows an impact."""
        from scipy.special import expit

        x = normalised(stack)
        for w, b in self.convs:
            x = _conv_relu_pool(x, w, b)
        logit = float(self.out[0][0] @ x.mean(axis=(1, 2)) + self.out[1][0])
        return float(expit(logit))

    def confidence(self, verified: np.ndarray, picture: np.ndarray) -> np.ndarray:
        """The combined confidence of candidates with the verifier's probability ``verified``
        and the network's ``picture``."""
        from scipy.special import expit

        wc, wq, bias = self.combination
        return expit(wc * log_odds(verified) + wq * log_odds(picture) + bias)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for i, (w, b) in enumerate(self.convs):
            out[f"picture_conv{i}_w"], out[f"picture_conv{i}_b"] = w.astype(np.float32), b.astype(np.float32)
        out["picture_out_w"], out["picture_out_b"] = self.out[0].astype(np.float32), self.out[1].astype(np.float32)
        out["picture_combination"] = np.array(self.combination, np.float64)
        return out


def expected_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(3):
        shapes[f"picture_conv{i}_w"] = (CHANNELS[i + 1], CHANNELS[i], 3, 3)
        shapes[f"picture_conv{i}_b"] = (CHANNELS[i + 1],)
    shapes["picture_out_w"], shapes["picture_out_b"] = (1, CHANNELS[-1]), (1,)
    shapes["picture_combination"] = (3,)
    return shapes


def picture_check_from_arrays(arrays: dict[str, np.ndarray], path: str) -> PictureCheck:
    """Check and read the picture check's arrays of a scorer file (the keys in ``KEYS``)."""
    for key, shape in expected_shapes().items():
        a = arrays[key]
        if tuple(a.shape) != shape:
            raise FormatError(f"{path}: {key} has shape {tuple(a.shape)}, expected {shape}")
        if a.dtype.kind != "f" or not np.isfinite(a).all():
            raise FormatError(f"{path}: {key} must hold finite numbers")
    wc, wq, bias = (float(v) for v in arrays["picture_combination"])
    if wc <= 0 or wq < 0:
        raise FormatError(f"{path}: picture_combination weighs the verifier {wc:g} and the picture {wq:g}; a surer "
                          "verifier must not lower the confidence (valid: the first above 0, the second 0 or more)")
    convs = tuple((arrays[f"picture_conv{i}_w"].astype(np.float32), arrays[f"picture_conv{i}_b"].astype(np.float32))
                  for i in range(3))
    return PictureCheck(convs, (arrays["picture_out_w"].astype(np.float32), arrays["picture_out_b"].astype(np.float32)),
                        (wc, wq, bias))


def picture_check_from_torch(state: dict, combination: tuple[float, float, float]) -> PictureCheck:
    """A picture check from the state dict of ``torch_net()`` (as training keeps it)."""
    arrays = {f"picture_conv{i}_{p}": state[f"{3 * i}.{name}"].detach().cpu().numpy()
              for i in range(3) for p, name in (("w", "weight"), ("b", "bias"))}
    arrays["picture_out_w"] = state["11.weight"].detach().cpu().numpy()
    arrays["picture_out_b"] = state["11.bias"].detach().cpu().numpy()
    arrays["picture_combination"] = np.array(combination, np.float64)
    return picture_check_from_arrays(arrays, "the trained picture network")


def torch_net():
    """The network as PyTorch trains it (the same layers :meth:`PictureCheck.probability` runs)."""
    from torch import nn

    def stage(inp: int, out: int) -> list:
        return [nn.Conv2d(inp, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(*stage(CHANNELS[0], CHANNELS[1]), *stage(CHANNELS[1], CHANNELS[2]),
                         *stage(CHANNELS[2], CHANNELS[3]), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(CHANNELS[3], 1))


class FrameRing:
    """The last analysis frames of a stream, enough to cut the window of a frame whose place is
    known ``LAG`` frames after it; the frames before the first stand in as the first (as
    :func:`cut` does at a clip's start)."""

    def __init__(self, size: int) -> None:
        self.frames: deque[np.ndarray] = deque(maxlen=size)
        self.first = 0  # index of frames[0]

    def push(self, img: np.ndarray) -> None:
        if len(self.frames) == self.frames.maxlen:
            self.first += 1
        self.frames.append(img)

    @property
    def end(self) -> int:
        """One past the index of the last frame pushed."""
        return self.first + len(self.frames)

    def window(self, k: int, y: float, x: float) -> np.ndarray:
        """:func:`cut` of frame ``k`` at analysis pixel (``y``, ``x``); past the last frame pushed
        the last stands in (as at a clip's end)."""
        if not self.frames or (k - BEFORE < self.first and self.first > 0):
            raise ValueError(f"frame {k} left the ring (it holds {self.first}..{self.end - 1})")
        idx = np.clip(np.arange(k - BEFORE, k + AFTER + 1), self.first, self.end - 1) - self.first
        return cut(np.stack([self.frames[i] for i in idx]), BEFORE, y, x)


def log_odds(p: np.ndarray) -> np.ndarray:
    """The log-odds of probabilities, held within 1e-4 of 0 and 1 (as the combination was fitted)."""
    p = np.clip(np.asarray(p, np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))
