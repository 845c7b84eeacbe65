"""What the motion scorer sees: per block, the physics around one frame.

An impact is a sudden loss of velocity of something that was moving fast, against
the smooth accelerations around it. For frame ``k`` (an impact between frames k and
k+1 is scored at k) each block of the camera-free motion field gets a vector of
measurements over a window of six fields, the motion into frames k-2 .. k+3:

- its speed in each field (3x3 neighbourhood maximum: the object moves across blocks),
- how the velocity of what is there changed by the next field, following it to where it
  went (:meth:`FeatureStream.material_change`), and how much of that was braking: an
  impact is one large change between smaller ones; braking and gravity change it a
  little every frame, and an object that merely crosses into the next block not at all,
- whether its motion reversed (a bounce) and whether the matches are trusted,
- the steady motion lost without carrying on into a neighbour (the kernel
  :func:`~syncfoley.engine.detect.motion_kernels.lost_motion`) at k-1, k and k+1,
- in each field, the grey-level change the motion leaves unexplained (3x3 maximum): a
  stick's tip moving 30 pixels a frame is thin and blurred and the flow does not follow
  it, so it has no speed here, but it leaves change the flow cannot explain, and leaves
  none once it stops,
- the picture as a whole: the camera's own speed and jerk (handheld shake), the share
  of trusted blocks, the typical residual speed (how noisy the matching is), the frame rate.

- how far the block is from the picture's edge (flow is least reliable there),
- the velocity of the material at the block along its own path, REACH (two) fields back
  and as many on (:meth:`FeatureStream.trajectory`), signed and in the frame of its approach
  velocity: the part along the approach (a stop drops it to zero, a bounce makes it
  negative) and the part across it, the approach speed itself, how much of the approach
  was downward, and whether every step of the path was trusted. An impact is steady
  approach then a sudden loss, on one path; matching noise moves blocks too, but not
  along a steady path. (Four fields each way, so that a slow landing would show over more
  of its path, did better on the validation clips and no better on the test split: see
  docs/physics-detector.md.)

Speeds are analysis pixels per frame (what the matcher resolves), log-compressed.
Every block is scored: a shortlist by the largest velocity change (an earlier design)
lost a third of the impacts, whose blocks ranked below edge and texture noise.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from syncfoley.engine.detect.motion_field import MotionField, magnitude

WINDOW = 6  # fields: motion into frames k-2 .. k+3
REACH = 2  # fields the path is followed back and on
BEFORE, AFTER = max(2, REACH), max(3, REACH)  # fields kept: motion into frames k-BEFORE .. k+AFTER
FIELDS = BEFORE + AFTER + 1
FIRST = BEFORE - 2  # where WINDOW starts among them
STEPS = (*range(-REACH, 0), *range(1, REACH + 1))
EDGE = 4  # blocks: farther from the picture's edge than this counts as far
MOTION = WINDOW + 2 * (WINDOW - 1)  # the first columns: speed, change and braking per field
NAMES = (
    *(f"speed{j}" for j in range(-2, 4)),
    *(f"change{j}" for j in range(-2, 3)),
    *(f"braking{j}" for j in range(-2, 3)),
    "reversal", "valid0", "valid1",
    "lost-1", "lost0", "lost1", "raw-1", "raw0", "raw1", *(f"unexplained{j}" for j in range(-2, 4)), "edge",
    *(f"along{j}" for j in STEPS), *(f"across{j}" for j in STEPS), "approach", "down", "followed",
    "camera0", "camera1", "camera_jerk", "trusted", "noise", "busy", "fps",
)
PATH = 2 * len(STEPS) + 3  # the trajectory columns after ``edge`` (the last two, down and followed, are shares)
FEATURES = len(NAMES)


@dataclass(frozen=True)
class FrameFeatures:
    """The blocks of one frame (n of them): ``values`` (n, FEATURES), their centres
    ``where`` (n, 2) as (x, y) across the picture 0..1, and the velocity each lost (n,)
    in analysis pixels per frame (how violent the impact was)."""

    index: int
    values: np.ndarray
    where: np.ndarray
    lost: np.ndarray


def pool3(a: np.ndarray) -> np.ndarray:
    """3x3 neighbourhood maximum (separable: rows, then columns)."""
    r = a.copy()
    np.maximum(r[1:], a[:-1], out=r[1:])
    np.maximum(r[:-1], a[1:], out=r[:-1])
    c = r.copy()
    np.maximum(c[:, 1:], r[:, :-1], out=c[:, 1:])
    np.maximum(c[:, :-1], r[:, 1:], out=c[:, :-1])
    return c


def sample(field: MotionField, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``field``'s vectors (bilinear) and trust (nearest, 0/1) at block positions ``x``, ``y``
    (in blocks, fractional); positions beyond the picture take its edge."""
    import cv2

    v = cv2.remap(field.vectors, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ok = cv2.remap(field.valid.astype(np.float32), x, y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    return v, ok


class FeatureStream:
    """Feed motion fields in frame order; get each frame's features once the fields after
    it have arrived (AFTER frames later).

    ``push(field)`` takes the motion into frame n (n = 1, 2, ...: there is no motion into
    frame 0) and returns the features of frame n - AFTER, if it can be scored yet.
    """

    def __init__(self, shape: tuple[int, int], block: int, picture: tuple[int, int], fps: float, reach: int,
                 limit: float) -> None:
        rows, cols = shape
        self.fps = fps
        self.reach, self.limit = reach, limit
        # Each in step with ``fields``: speeds[i] of fields[i], changes[i] from fields[i] to
        # fields[i + 1]; lost[i] at the frame fields[i] went into (once there are enough).
        self.fields: deque[MotionField] = deque(maxlen=FIELDS)
        self.lost: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=AFTER)  # pooled (weighted, raw)
        self.speeds: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=FIELDS)  # (speed, pooled)
        self.changes: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=FIELDS - 1)  # pooled (change, braking)
        self.unexplained: deque[np.ndarray] = deque(maxlen=FIELDS)  # pooled
        self.block = block
        gy, gx = np.mgrid[0:rows, 0:cols].astype(np.float32)
        self.grid = (gx, gy)
        self.count = 0  # fields pushed
        edge = np.minimum(np.minimum(gx, cols - 1 - gx), np.minimum(gy, rows - 1 - gy))
        self.edge = np.minimum(edge, EDGE).reshape(-1).astype(np.float32) / EDGE
        # Block centres across the analysed picture (width, height), 0..1.
        w, h = picture
        cy, cx = np.meshgrid((np.arange(rows) + 0.5) * block / h, (np.arange(cols) + 0.5) * block / w, indexing="ij")
        self.where = np.stack([cx.reshape(-1), cy.reshape(-1)], axis=1).astype(np.float32)

    def push(self, field: MotionField) -> FrameFeatures | None:
        from syncfoley.engine.detect.motion_kernels import lost_motion

        self.fields.append(field)
        speed = np.where(field.valid, magnitude(field.vectors), 0.0).astype(np.float32)
        self.speeds.append((speed, pool3(speed)))
        left = field.unexplained if field.unexplained is not None else np.zeros(speed.shape, np.float32)
        self.unexplained.append(pool3(left.astype(np.float32)))
        if len(self.fields) >= 2:
            change, braking = self.material_change(self.fields[-2], self.fields[-1])
            self.changes.append((pool3(change), pool3(braking)))
        self.count += 1
        f = list(self.fields)
        if len(f) >= 4:
            # Lost motion at the frame the motion f[-3] went into (fields into j-1 .. j+2).
            before, prev, cur, after = f[-4:]
            weighted, raw = lost_motion(
                before.vectors, before.valid & ~before.saturated, prev.vectors, prev.valid,
                cur.vectors, cur.saturated, after.vectors, after.saturated, self.reach, float(self.limit),
            )
            self.lost.append((pool3(weighted), pool3(raw)))
        if len(f) < FIELDS:
            return None
        # f: motion into frames k-BEFORE .. k+AFTER with k = count - AFTER; lost (computed up
        # to frame count - 2): at frames k-1 .. k+AFTER-2, of which k-1 .. k+1 are features.
        return self.features(self.count - AFTER, f, list(self.lost)[:3])

    def material_change(self, a: MotionField, b: MotionField) -> tuple[np.ndarray, np.ndarray]:
        """Per block of ``a``, how the velocity of what is there changed by the next field,
        following it to where it went (``b`` sampled at the block moved by its own motion):
        the magnitude of the change and its braking part (the share against the motion
        it had, as a loss of speed). An object crossing from one block into the next keeps
        its velocity and changes nothing here; one that hits something loses it."""
        va = a.vectors
        gx, gy = self.grid
        vb, trusted = sample(b, gx + va[..., 1] / self.block, gy + va[..., 0] / self.block)
        ok = (trusted > 0.5) & a.valid
        diff = vb - va
        change = np.where(ok, magnitude(diff), 0.0).astype(np.float32)
        speed = magnitude(va)
        along = -(diff * va).sum(axis=-1) / np.maximum(speed, 1e-3)
        braking = np.where(ok, np.clip(along, 0.0, None), 0.0).astype(np.float32)
        return change, braking

    def trajectory(self, f: list[MotionField]) -> list[np.ndarray]:
        """Per block, the velocity of the material there in frame k-1 along its path: back
        through the motion into frames k-1 .. k-REACH (where it came from), on through the
        motion into k+1 .. k+REACH (where it went), as signed parts along and across its
        approach (the motion into frame k); then the approach speed, its downward share,
        and the share of the path's steps that were trusted (the PATH columns, in order)."""
        gx, gy = self.grid
        block = self.block
        approach = f[BEFORE].vectors  # (dy, dx), anchored where the material was in frame k-1
        path: dict[int, np.ndarray] = {}
        trusted = [f[BEFORE].valid.astype(np.float32)]
        # Backwards, q + v(q) = p is solved by one fixed-point step from constant velocity.
        x, y, v = gx, gy, approach
        for j in range(-1, -REACH - 1, -1):
            field = f[BEFORE + j]
            guess, _ = sample(field, x - v[..., 1] / block, y - v[..., 0] / block)
            x, y = x - guess[..., 1] / block, y - guess[..., 0] / block
            v, ok = sample(field, x, y)
            path[j] = v
            trusted.append(ok)
        x, y, v = gx, gy, approach
        for j in range(1, REACH + 1):
            x, y = x + v[..., 1] / block, y + v[..., 0] / block
            v, ok = sample(f[BEFORE + j], x, y)
            path[j] = v
            trusted.append(ok)
        speed = magnitude(approach)
        unit = approach / np.maximum(speed, 1e-3)[..., None]
        along = [(path[j] * unit).sum(axis=-1) for j in STEPS]
        across = [np.abs(path[j][..., 0] * unit[..., 1] - path[j][..., 1] * unit[..., 0]) for j in STEPS]
        # Picture y grows downwards; a block barely moving has no direction worth a feature.
        down = approach[..., 0] / (speed + 1.0)
        followed = np.mean(trusted, axis=0)
        return [*along, *across, speed, down, followed]

    def features(self, index: int, fields: list[MotionField],
                 lost: list[tuple[np.ndarray, np.ndarray]]) -> FrameFeatures:
        window = slice(FIRST, FIRST + WINDOW)
        f = fields[window]
        vec = [x.vectors for x in f]
        valid = [x.valid for x in f]
        speeds = list(self.speeds)[window]
        speed = [raw for raw, _ in speeds]
        cols: list[np.ndarray] = [pooled for _, pooled in speeds]
        pairs = list(self.changes)[FIRST: FIRST + WINDOW - 1]
        changes = [c for c, _ in pairs]
        cols += changes + [b for _, b in pairs]
        v0, v1 = vec[2], vec[3]
        dot = (v0 * v1).sum(axis=-1)
        cols.append(np.where(valid[2] & valid[3], -dot / (np.square(v0).sum(axis=-1) + 1.0), 0.0))
        cols += [valid[2].astype(np.float32), valid[3].astype(np.float32)]
        cols += [w for w, _ in lost] + [r for _, r in lost]
        cols += list(self.unexplained)[window]
        speed_cols = len(cols)
        cam = [magnitude(x.camera).mean() for x in f[2:4]]
        jerk = float(magnitude(f[3].camera - 2 * f[2].camera + f[1].camera).mean())
        trusted = float(valid[2].mean())
        moving = speed[2][valid[2]]
        noise = float(np.median(moving)) if moving.size else 0.0
        busy = float(np.quantile(moving, 0.9)) if moving.size else 0.0
        frame = np.array([cam[0], cam[1], jerk, trusted, noise, busy, np.log(self.fps / 30.0)], np.float32)
        path = self.trajectory(fields)
        block = np.stack([c.reshape(-1) for c in cols] + [self.edge] + [c.reshape(-1) for c in path],
                         axis=1).astype(np.float32)
        # Speeds of every kind in log(1 + px/frame); the flags, reversal and shares stay as they are.
        logged = np.zeros(block.shape[1], bool)
        logged[:speed_cols] = True
        logged[MOTION: MOTION + 3] = False  # reversal, valid0, valid1
        block[:, logged] = np.log1p(np.maximum(block[:, logged], 0.0))
        # The path's velocities are signed (a bounce reverses them): log-compressed by sign.
        signed = slice(speed_cols + 1, speed_cols + PATH - 1)
        block[:, signed] = np.sign(block[:, signed]) * np.log1p(np.abs(block[:, signed]))
        frame[[0, 1, 2, 4, 5]] = np.log1p(frame[[0, 1, 2, 4, 5]])
        lost_speed = np.maximum(changes[2], changes[3]).reshape(-1).astype(np.float32)
        values = np.concatenate([block, np.broadcast_to(frame, (len(block), frame.size))], axis=1)
        return FrameFeatures(index, values, self.where, lost_speed)
