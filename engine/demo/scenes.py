"""Synthetic scenes with known impact times, for the example clip, tests and benches.

A scene is a textured world seen through a camera that may pan and shake, with
objects whose trajectories are analytic, so the true impact times are exact:

* :class:`BouncingBall`: dropped under gravity, loses energy at each bounce.
* :class:`Striker`: a stick that rises smoothly, falls, and strikes a block.
* :class:`Mover`: a smooth distractor (constant velocity or a slow sway) that never
  impacts anything; a detector must stay silent on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterator, Sequence, Union

import numpy as np


@dataclass(frozen=True)
class BouncingBall:
    x: float
    floor_y: float
    drop_height: float
    drop_time: float = 0.3
    radius: float = 16.0
    gravity: float = 2400.0
    restitution: float = 0.72
    min_speed: float = 350.0
    color: tuple[int, int, int] = (230, 90, 40)

    def impacts(self) -> list[float]:
        t = self.drop_time + math.sqrt(2 * self.drop_height / self.gravity)
        v = self.gravity * (t - self.drop_time)
        times = []
        while v >= self.min_speed:
            times.append(t)
            v *= self.restitution
            t += 2 * v / self.gravity
        return times

    def height(self, t: float) -> float:
        """Height of the ball's bottom above the floor at time ``t``."""
        if t <= self.drop_time:
            return self.drop_height
        hits = self.impacts()
        if not hits or t < hits[0]:
            return max(0.0, self.drop_height - 0.5 * self.gravity * (t - self.drop_time) ** 2)
        v = self.gravity * (hits[0] - self.drop_time)
        for i, th in enumerate(hits):
            v_up = v * self.restitution
            nxt = hits[i + 1] if i + 1 < len(hits) else None
            if nxt is None or t < nxt:
                if nxt is None and v_up < self.min_speed:
                    return 0.0
                dt = t - th
                return max(0.0, v_up * dt - 0.5 * self.gravity * dt * dt)
            v = v_up
        return 0.0

    def draw(self, canvas: np.ndarray, t: float, cam: tuple[float, float]) -> None:
        cy = self.floor_y - self.radius - self.height(t)
        _disc(canvas, self.x - cam[0], cy - cam[1], self.radius, self.color, shaded=True)


@dataclass(frozen=True)
class Striker:
    x: float
    contact_y: float
    hits: tuple[float, ...]
    lift: float = 80.0
    fall: float = 0.16
    rise: float = 0.4
    dwell: float = 0.06
    width: float = 12.0
    length: float = 100.0
    color: tuple[int, int, int] = (200, 180, 120)
    block_color: tuple[int, int, int] = (90, 60, 160)

    def impacts(self) -> list[float]:
        return list(self.hits)

    def height(self, t: float) -> float:
        nxt = next((h for h in self.hits if h >= t), None)
        prev = max((h for h in self.hits if h < t), default=None)
        if nxt is not None and t >= nxt - self.fall:
            u = (t - (nxt - self.fall)) / self.fall
            return self.lift * (1.0 - u * u)
        if prev is None:
            return self.lift
        # The stick must be back at the top when the next fall starts.
        room = (nxt - self.fall if nxt is not None else float("inf")) - (prev + self.dwell)
        rise = min(self.rise, max(0.05, room))
        u = (t - prev - self.dwell) / rise
        if u <= 0:
            return 0.0
        u = min(1.0, u)
        return self.lift * (3 * u * u - 2 * u * u * u)

    def draw(self, canvas: np.ndarray, t: float, cam: tuple[float, float]) -> None:
        bx, by = self.x - cam[0], self.contact_y - cam[1]
        _rect(canvas, bx - 45, by, bx + 45, by + 40, self.block_color)
        bottom = by - self.height(t)
        _rect(canvas, bx - self.width / 2, bottom - self.length, bx + self.width / 2, bottom, self.color)
        _disc(canvas, bx, bottom - self.length, self.width, self.color, shaded=True)


@dataclass(frozen=True)
class Mover:
    x: float
    y: float
    velocity: float = 0.0
    sway: float = 0.0
    period: float = 3.0
    radius: float = 22.0
    color: tuple[int, int, int] = (60, 200, 220)

    def impacts(self) -> list[float]:
        return []

    def draw(self, canvas: np.ndarray, t: float, cam: tuple[float, float]) -> None:
        x = self.x + self.velocity * t + self.sway * math.sin(2 * math.pi * t / self.period)
        _disc(canvas, x - cam[0], self.y - cam[1], self.radius, self.color, shaded=True)


SceneObject = Union[BouncingBall, Striker, Mover]


@dataclass(frozen=True)
class Scene:
    """A clip to render: size, rate, length, camera and objects (world pixels)."""

    width: int = 640
    height: int = 360
    fps: Fraction = Fraction(30)
    duration: float = 4.0
    objects: Sequence[SceneObject] = field(default_factory=tuple)
    pan: float = 0.0
    shake: float = 0.0
    noise: float = 0.0
    flicker: float = 0.0
    seed: int = 0
    # Sub-frame renders averaged over a 180-degree shutter, as a camera blurs motion.
    blur_samples: int = 4

    def impacts(self) -> list[float]:
        times = sorted(t for o in self.objects for t in o.impacts())
        return [t for t in times if t < self.duration]

    def frame_count(self) -> int:
        return int(round(self.duration * float(self.fps)))

    def camera(self, t: float) -> tuple[float, float]:
        x = self.pan * t
        y = 0.0
        if self.shake:
            x += self.shake * (math.sin(2 * math.pi * 1.3 * t) + 0.6 * math.sin(2 * math.pi * 2.9 * t + 1))
            y += self.shake * (math.sin(2 * math.pi * 1.7 * t + 2) + 0.5 * math.sin(2 * math.pi * 3.3 * t))
        return x, y

    def frames(self, times: Sequence[float] | None = None) -> Iterator[np.ndarray]:
        """RGB uint8 frames, one per 1/fps, or one at each of ``times`` (variable rate)."""
        rng = np.random.default_rng(self.seed)
        if times is None:
            times = [i / float(self.fps) for i in range(self.frame_count())]
        margin = 40
        span = abs(self.pan) * self.duration + 2 * margin + 4 * self.shake
        world = _texture(self.height + 2 * margin, int(self.width + span) + 2 * margin, rng)
        x_origin = margin + (span - 2 * margin if self.pan < 0 else 0)
        for t in times:
            n = max(1, self.blur_samples)
            canvas = np.zeros((self.height, self.width, 3), dtype=np.float32)
            for k in range(n):
                ts = t + ((k + 0.5) / n - 0.5) * 0.5 / float(self.fps)
                cx, cy = self.camera(ts)
                sub = _crop(world, x_origin + cx, margin + cy, self.width, self.height)
                for obj in self.objects:
                    obj.draw(sub, ts, (cx, cy))
                canvas += sub / n
            if self.flicker:
                canvas *= 1.0 + self.flicker * math.sin(2 * math.pi * 7.3 * t + 3 * math.sin(t))
            if self.noise:
                canvas += rng.normal(0.0, self.noise, canvas.shape).astype(np.float32)
            yield np.clip(canvas, 0, 255).astype(np.uint8)


_SURFACE: list[np.ndarray] = []


def _surface(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A fixed blotchy pattern in object coordinates, so objects carry texture as real ones do."""
    if not _SURFACE:
        from scipy.ndimage import gaussian_filter

        noise = gaussian_filter(np.random.default_rng(1234).standard_normal((256, 256)), 2.5, mode="wrap")
        _SURFACE.append((1.0 + 0.35 * noise / noise.std()).astype(np.float32))
    tex = _SURFACE[0]
    xi = np.floor(x).astype(np.intp) % 256
    yi = np.floor(y).astype(np.intp) % 256
    return tex[yi, xi]


def _texture(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    layers = [gaussian_filter(rng.standard_normal((h, w)), s) * s for s in (1.5, 4.0, 12.0)]
    base = sum(layers)
    base = (base - base.mean()) / (base.std() + 1e-9)
    floor = np.linspace(0, 1, h)[:, None] ** 3 * 30
    grey = 120 + 28 * base + floor
    tint = np.array([1.0, 0.95, 0.85], dtype=np.float32)
    return (grey[..., None] * tint).astype(np.float32)


def _crop(world: np.ndarray, x: float, y: float, w: int, h: int) -> np.ndarray:
    """Sub-pixel crop by bilinear blending of the four integer crops."""
    x0, y0 = int(math.floor(x)), int(math.floor(y))
    fx, fy = x - x0, y - y0
    a = world[y0 : y0 + h, x0 : x0 + w]
    b = world[y0 : y0 + h, x0 + 1 : x0 + w + 1]
    c = world[y0 + 1 : y0 + h + 1, x0 : x0 + w]
    d = world[y0 + 1 : y0 + h + 1, x0 + 1 : x0 + w + 1]
    return ((1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * c + fx * d)).astype(np.float32)


def _disc(canvas: np.ndarray, cx: float, cy: float, r: float, color: tuple[int, int, int], shaded: bool) -> None:
    h, w = canvas.shape[:2]
    x0, x1 = max(0, int(cx - r - 2)), min(w, int(cx + r + 3))
    y0, y1 = max(0, int(cy - r - 2)), min(h, int(cy + r + 3))
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dist = np.hypot(xx - cx, yy - cy)
    alpha = np.clip(r - dist + 0.5, 0, 1)[..., None]
    col = np.array(color, dtype=np.float32) * _surface(xx - cx, yy - cy)[..., None]
    if shaded:
        light = 1.15 - 0.5 * np.clip(np.hypot(xx - cx + r / 3, yy - cy + r / 3) / (1.5 * r), 0, 1)
        col = col * light[..., None]
    region = canvas[y0:y1, x0:x1]
    region[...] = region * (1 - alpha) + col * alpha


def _rect(canvas: np.ndarray, x0: float, y0: float, x1: float, y1: float, color: tuple[int, int, int]) -> None:
    h, w = canvas.shape[:2]
    ix0, ix1 = max(0, int(x0) - 1), min(w, int(x1) + 2)
    iy0, iy1 = max(0, int(y0) - 1), min(h, int(y1) + 2)
    if ix0 >= ix1 or iy0 >= iy1:
        return
    xs = np.arange(ix0, ix1, dtype=np.float32) + 0.5
    ys = np.arange(iy0, iy1, dtype=np.float32) + 0.5
    ax = np.clip(np.minimum(xs - x0, x1 - xs) + 0.5, 0, 1)
    ay = np.clip(np.minimum(ys - y0, y1 - ys) + 0.5, 0, 1)
    alpha = (ay[:, None] * ax[None, :])[..., None]
    yy, xx = np.meshgrid(ys - y0, xs - x0, indexing="ij")
    col = np.array(color, dtype=np.float32) * _surface(xx, yy)[..., None]
    # Cylindrical shading across the width, so the object has texture to track.
    across = (xs - x0) / max(1.0, x1 - x0)
    shade = (0.75 + 0.45 * np.sin(np.pi * np.clip(across, 0, 1)))[None, :, None]
    region = canvas[iy0:iy1, ix0:ix1]
    region[...] = region * (1 - alpha) + col * shade * alpha


def demo_scene(seed: int = 0, **overrides: object) -> Scene:
    """The example clip: a bouncing ball, a striker, a sway distractor, a slow pan."""
    base = dict(
        duration=6.0,
        fps=Fraction(30),
        pan=12.0,
        noise=2.0,
        seed=seed,
        objects=(
            BouncingBall(x=170, floor_y=330, drop_height=220, drop_time=0.4, radius=24),
            Striker(x=440, contact_y=250, hits=(1.15, 2.07, 3.0, 3.7, 4.5, 5.3)),
            Mover(x=300, y=70, sway=60, period=3.2),
        ),
    )
    base.update(overrides)
    return Scene(**base)  # type: ignore[arg-type]


def reel_scene(width: int = 1920, height: int = 1080, fps: Fraction = Fraction(25)) -> Scene:
    """A 10 s scene for long-clip tests and benches, at any size: a ball dropped and
    bouncing, a striker hitting nine times, a swaying distractor, a slow pan. Looped,
    it makes a reel of any length whose impacts repeat every 10 s."""
    s, sy = width / 640, height / 360
    return Scene(
        width=width, height=height, fps=fps, duration=10.0, pan=12 * s, noise=2, blur_samples=1,
        objects=(
            BouncingBall(x=170 * s, floor_y=330 * sy, drop_height=220 * s, drop_time=0.4,
                         radius=24 * s, gravity=2400 * s, min_speed=350 * s),
            Striker(x=440 * s, contact_y=250 * sy, hits=(1.15, 2.07, 3.0, 3.7, 4.5, 5.3, 6.4, 7.5, 8.6),
                    lift=80 * s, length=100 * s, width=12 * s),
            Mover(x=300 * s, y=70 * s, sway=60 * s, period=3.2, radius=22 * s),
        ),
    )


def catalogue() -> dict[str, Scene]:
    """The named scenes the tests and benches judge the motion detector on."""
    return {
        # A stick striking a block, a smoothly swaying distractor, handheld shake,
        # sensor noise and flicker.
        "struck": Scene(
            duration=4, shake=3, noise=3, flicker=0.04,
            objects=(
                Striker(x=300, contact_y=230, hits=(0.6, 1.3, 1.9, 2.6, 3.3)),
                Mover(x=520, y=150, sway=80, period=2.0),
            ),
        ),
        # A ball bouncing to rest, a distractor gliding across, a slow camera pan.
        "bouncing": Scene(
            duration=4, pan=-20, noise=3,
            objects=(BouncingBall(x=320, floor_y=340, drop_height=250, radius=24), Mover(x=150, y=120, velocity=90)),
        ),
        # Both at once at 29.97 fps, with a pan the other way.
        "mixed": demo_scene(seed=3, fps=Fraction(30000, 1001), pan=-15, noise=3),
        # 59.94 fps: half the motion per frame.
        "bouncing_60": Scene(
            duration=3, fps=Fraction(60000, 1001), pan=15,
            objects=(BouncingBall(x=320, floor_y=340, drop_height=250, radius=24),),
        ),
        # 23.976 fps: more motion per frame.
        "bouncing_24": Scene(
            duration=3, fps=Fraction(24000, 1001), pan=10, noise=2,
            objects=(BouncingBall(x=250, floor_y=330, drop_height=150, radius=30), Mover(x=500, y=100, sway=50, period=2)),
        ),
        # Only smooth motion: a pan, a glide and two sways. No onsets may be found.
        "smooth": Scene(
            duration=4, pan=25, noise=2,
            objects=(
                Mover(x=200, y=150, sway=150, period=2.5),
                Mover(x=-50, y=260, velocity=180),
                Mover(x=500, y=80, sway=60, period=1.7, radius=30),
            ),
        ),
    }
