"""Clips of the issue's eight kinds, drawn by pymunk's own debug drawing (pygame), as a second
look at the picture detector on pictures its training clips never had.

``physics_corpus.py`` draws its worlds with PIL: filled shapes with stripes and shading,
procedural backgrounds, sub-pixel positions. The shipped networks learnt from those clips (and
MuJoCo's), and its test split shares that look. This generator shares no code with it: its own
worlds, written from the issue's description of the clips that judge it (stick strikes that
rebound and ease into a hover, fast strikes with motion blur, three objects dropped, feet planting
under a panning camera, drops under handheld shake, two hits 60-150 ms apart, a long 1080p strike
clip, smooth motion only), drawn the way a pymunk user draws them first: ``space.debug_draw``
onto a pygame surface, flat colours, each circle with its radius line, integer pixels and no
antialiasing, then encoded by the ``ffmpeg`` command line (H.264, ProRes).

The truth is read from pymunk's ``begin`` callbacks, before the contact's impulse: the approach
speed along the contact normal, in picture widths per second. As in ``physics_corpus.py``,
``HIT`` or faster is an impact, ``[BAND, HIT)`` counts neither way, and so do contacts in the
first 0.2 s and outside the picture. Seeds start at 50000, apart from every other corpus.

Layout written (read by ``bench_detection.py`` and ``syncfoley train-motion``)::

    OUT/NAME.mp4 or .mov   the clip
    OUT/NAME.times.csv     one impact time (s) per line
    OUT/NAME.ignore.csv    contacts in the band (neither way)
    OUT/NAME.truth.json    kind, settings, impacts with speed and place

    python bench/debugdraw_corpus.py OUT --count 48 --jobs 2     # six clips of each kind
    python bench/corpus_sets.py C debugdraw                      # the same: the set the docs quote
    python bench/bench_detection.py OUT
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

HIT = 0.2  # picture widths per second
BAND = 0.1
SETTLING = 0.2  # seconds at the start where a contact counts neither way
FIRST_SEED = 50000
SUBSTEPS = 10
MERGE = 0.04  # seconds: contacts of one pair of shapes closer than this are one event
SHAKE_RATE = 100  # a handheld camera's path is drawn at this many points a second


@dataclass(frozen=True)
class Kind:
    group: str  # what kind of event: drop, strike, feet, close (pairs) or smooth
    fps: Fraction
    size: tuple[int, int]
    seconds: float
    codec: str  # "h264" or "prores"
    shutter: tuple[float, float]  # degrees, drawn between
    camera: str  # "still", "pan", "shake", "zoom"


# The eight clips, in its order.
KINDS: dict[str, Kind] = {
    "strikes30": Kind("strike", Fraction(30), (854, 480), 10.0, "h264", (0, 90), "still"),
    "blurstrikes24": Kind("strike", Fraction(24), (960, 540), 10.0, "h264", (270, 360), "still"),
    "drops25": Kind("drop", Fraction(25), (960, 540), 9.0, "prores", (0, 180), "still"),
    "feetpan": Kind("feet", Fraction(24000, 1001), (854, 480), 10.0, "h264", (90, 180), "pan"),
    "shakedrops": Kind("drop", Fraction(30000, 1001), (854, 480), 9.0, "h264", (90, 180), "shake"),
    "pairs": Kind("close", Fraction(30), (854, 480), 10.0, "h264", (0, 180), "still"),
    "long1080": Kind("strike", Fraction(25), (1920, 1080), 60.0, "h264", (0, 180), "still"),
    "smooth": Kind("smooth", Fraction(25), (854, 480), 10.0, "h264", (90, 180), "zoom"),
}


class CorpusError(Exception):
    """A clip that cannot be written; the message names it and why."""


@dataclass
class Contact:
    time: float
    speed: float  # metres per second along the normal
    point: tuple[float, float]
    pair: tuple[int, int]


class Camera:
    """Where the picture looks, in metres: centre, width seen, roll. Smooth moves only, except
    the handheld shake, which is filtered noise (1-8 pixels a frame, a little roll)."""

    def __init__(self, rng: np.random.Generator, kind: Kind, width_m: float, centre: tuple[float, float]) -> None:
        self.kind, self.width_m, self.centre = kind, width_m, centre
        self.pan_speed = float(rng.uniform(0.15, 0.35)) * width_m  # metres a second
        self.zoom_to = float(rng.uniform(1.3, 1.7))
        # Drawn on a clock of its own (SHAKE_RATE), so that the same seed shakes the same way
        # at any frame rate.
        samples = int(kind.seconds * SHAKE_RATE) + 3
        shake = np.zeros((samples, 3))
        if kind.camera == "shake":
            px = kind.size[0] / width_m
            steps = rng.standard_normal((samples, 3))
            for k in range(1, samples):  # a hand: momentum, pulled back to the aim
                shake[k] = 0.95 * shake[k - 1] + steps[k] * (1.5 / px, 1.5 / px, 0.0008)
            shake[:, :2] -= shake[:, :2].mean(axis=0)
        self.shake = shake
        self.follow: Callable[[float], float] | None = None

    def at(self, t: float) -> tuple[float, float, float, float]:
        """(centre x, centre y, metres across, roll in radians) at ``t``."""
        cx, cy = self.centre
        width, roll = self.width_m, 0.0
        if self.kind.camera == "pan":
            cx = self.follow(t) if self.follow is not None else cx + self.pan_speed * t
        elif self.kind.camera == "zoom":
            s = min(1.0, max(0.0, (t - 2.0) / 5.0))
            width = self.width_m / (1.0 + (self.zoom_to - 1.0) * (3 * s * s - 2 * s * s * s))
        elif self.kind.camera == "shake":
            u = t * SHAKE_RATE
            k = min(len(self.shake) - 2, int(u))
            a = self.shake[k] + (self.shake[k + 1] - self.shake[k]) * (u - k)
            cx, cy, roll = cx + a[0], cy + a[1], float(a[2])
        return cx, cy, width, roll

    def project(self, t: float, p: tuple[float, float]) -> tuple[float, float]:
        """A world point's place in the picture, 0..1 across and down."""
        cx, cy, width, roll = self.at(t)
        w, h = self.kind.size
        dx, dy = p[0] - cx, p[1] - cy
        c, s = math.cos(roll), math.sin(roll)
        x = (c * dx - s * dy) / width + 0.5
        y = 0.5 - (s * dx + c * dy) / width * w / h
        return x, y

    def transform(self, t: float):
        """pymunk's transform from metres (y up) to pixels (y down) at ``t``."""
        import pymunk

        cx, cy, width, roll = self.at(t)
        w, h = self.kind.size
        scale = w / width
        return (pymunk.Transform.translation(w / 2, h / 2) @ pymunk.Transform.scaling(scale)
                @ pymunk.Transform(a=1, b=0, c=0, d=-1, tx=0, ty=0) @ pymunk.Transform.rotation(roll)
                @ pymunk.Transform.translation(-cx, -cy))


class World:
    """A pymunk space with a floor at y = 0, recording every contact's approach speed."""

    def __init__(self, rng: np.random.Generator) -> None:
        import pymunk

        self.rng = rng
        self.space = pymunk.Space()
        self.space.gravity = (0.0, -9.81)
        self.t = 0.0
        self.contacts: list[Contact] = []
        self.controls: list[Callable[[float, float], None]] = []
        # Scenery in a space of its own, drawn first (pymunk draws a space's static shapes after
        # its moving ones): the ground, and shapes on the wall, so that a camera's motion shows.
        self.scenery = pymunk.Space()
        still = self.scenery.static_body
        ground = pymunk.Poly(still, [(-200.0, -0.04), (200.0, -0.04), (200.0, -6.0), (-200.0, -6.0)])
        ground.color = self.colour(dark=True)
        self.scenery.add(ground)
        for _ in range(int(rng.integers(25, 60))):
            x, y = float(rng.uniform(-12.0, 12.0)), float(rng.uniform(0.1, 4.0))
            size = float(rng.uniform(0.05, 0.5))
            if rng.random() < 0.5:
                deco = pymunk.Circle(still, size / 2, (x, y))
            else:
                a = float(rng.uniform(0, math.pi))
                pts = [(x + size * math.cos(a + q), y + size * 0.6 * math.sin(a + q)) for q in (0.0, 1.9, math.pi, 5.0)]
                deco = pymunk.Poly(still, pts)
            deco.color = self.colour()
            self.scenery.add(deco)
        floor = pymunk.Segment(self.space.static_body, (-200.0, -0.02), (200.0, -0.02), 0.02)
        floor.friction, floor.elasticity = 0.8, 0.9
        floor.color = self.colour(dark=True)
        self.space.add(floor)
        self.space.on_collision(begin=self._begin)

    def colour(self, dark: bool = False) -> tuple[int, int, int, int]:
        lo, hi = (20, 110) if dark else (60, 255)
        r, g, b = (int(v) for v in self.rng.integers(lo, hi, 3))
        return (r, g, b, 255)

    def _begin(self, arbiter, space, data) -> None:
        a, b = arbiter.shapes
        n = arbiter.normal
        best, where = 0.0, None
        for cp in arbiter.contact_point_set.points:
            p = cp.point_a
            va = a.body.velocity_at_world_point(p)
            vb = b.body.velocity_at_world_point(p)
            approach = float((va - vb).dot(n))
            if approach > best or where is None:
                best, where = max(best, approach), (float(p.x), float(p.y))
        if where is not None:
            self.contacts.append(Contact(self.t, best, where, tuple(sorted((id(a), id(b))))))

    def step(self, dt: float) -> None:
        for control in self.controls:
            control(self.t, dt)
        self.space.step(dt)
        self.t += dt

    def ball(self, pos: tuple[float, float], radius: float, elasticity: float):
        import pymunk

        body = pymunk.Body(1.0, pymunk.moment_for_circle(1.0, 0, radius))
        body.position = pos
        shape = pymunk.Circle(body, radius)
        shape.elasticity, shape.friction, shape.color = elasticity, 0.6, self.colour()
        self.space.add(body, shape)
        return body

    def box(self, pos: tuple[float, float], size: tuple[float, float], elasticity: float, mass: float = 1.0,
            turns: bool = True):
        import pymunk

        body = pymunk.Body(mass, pymunk.moment_for_box(mass, size) if turns else math.inf)
        body.position = pos
        shape = pymunk.Poly.create_box(body, size, radius=0.005)
        shape.elasticity, shape.friction, shape.color = elasticity, 0.7, self.colour()
        self.space.add(body, shape)
        return body


def driven(world: World, body, plan: Callable[[float, object], tuple[float, float] | None]) -> None:
    """Let ``plan(t, body)`` set the body's velocity (no gravity on it) where it returns one;
    where it returns None the body moves freely (a rebound)."""
    import pymunk

    def velocity(b, gravity, damping, dt) -> None:
        v = plan(world.t, b)
        if v is None:
            pymunk.Body.update_velocity(b, (0.0, 0.0), 0.98, dt)
        else:
            b.velocity = v

    body.velocity_func = velocity


def strike_scene(world: World, rng: np.random.Generator, camera: Camera, kind: Kind, fast: bool) -> None:
    """A stick above an anvil: it rises, strikes down gathering speed, rebounds with the
    anvil's restitution, then eases into a hover (a damped spring), and again."""
    import pymunk

    width = camera.width_m
    anvil_w = float(rng.uniform(0.5, 0.9))
    anvil_h = float(rng.uniform(0.25, 0.5))
    ax = camera.centre[0] + float(rng.uniform(-0.15, 0.15)) * width
    anvil = pymunk.Poly(world.space.static_body, [(ax - anvil_w / 2, 0), (ax + anvil_w / 2, 0),
                                                   (ax + anvil_w / 2, anvil_h), (ax - anvil_w / 2, anvil_h)])
    anvil.elasticity, anvil.friction, anvil.color = float(rng.uniform(0.35, 0.6)), 0.5, world.colour(dark=True)
    world.space.add(anvil)
    stick_len, stick_th = float(rng.uniform(0.5, 0.9)), float(rng.uniform(0.04, 0.08))
    hover = anvil_h + stick_th / 2 + float(rng.uniform(0.25, 0.5))
    stick = world.box((ax, hover), (stick_len, stick_th), float(rng.uniform(0.4, 0.7)), turns=False)
    state = {"phase": "hover", "since": 0.0, "next": float(rng.uniform(0.4, 0.9)), "speed": 0.0, "top": hover}

    def plan(t: float, b):
        y, vy = b.position.y, b.velocity.y
        if state["phase"] == "hover":
            if t >= state["next"]:
                state.update(phase="rise", since=t, top=hover + float(rng.uniform(0.1, 0.35)),
                             speed=float(rng.uniform(5.0, 9.0) if fast else rng.uniform(2.0, 5.5)))
            return (0.0, 4.0 * (hover - y))
        if state["phase"] == "rise":  # from rest, gathering speed, slowing to the top
            if y >= state["top"] - 0.01 or t - state["since"] > 1.2:
                state.update(phase="down", since=t)
            return (0.0, max(0.0, min(3.0 * (state["top"] - y), 2.5 * (t - state["since"]))))
        if state["phase"] == "down":
            if b.velocity.y > 0.0 and t - state["since"] > 0.02:  # the anvil sent it back
                state.update(phase="free", since=t)
                return None
            accel = state["speed"] / 0.12
            return (0.0, -min(state["speed"], accel * (t - state["since"])))
        if state["phase"] == "free":
            if t - state["since"] > 0.08:
                state.update(phase="ease", since=t)
            return None
        # ease: a damped spring to the hover height, no sudden stop
        if t - state["since"] > 0.6:
            state.update(phase="hover", next=t + float(rng.uniform(0.1, 0.8)))
        return (0.0, vy + (12.0 * (hover - y) - 6.0 * vy) / (float(kind.fps) * SUBSTEPS))

    driven(world, stick, plan)


def drop_scene(world: World, rng: np.random.Generator, camera: Camera, kind: Kind, count: int) -> None:
    """Objects let go one after another from 0.3-1.8 m; they bounce and come to rest."""
    width = camera.width_m
    times = np.sort(rng.uniform(0.4, max(0.5, kind.seconds - 2.5), count))
    xs = camera.centre[0] + (np.arange(count) - (count - 1) / 2) * width / (count + 1) \
        + rng.uniform(-0.05, 0.05, count) * width
    pending = list(zip(times.tolist(), xs.tolist()))

    def release(t: float, dt: float) -> None:
        while pending and pending[0][0] <= t:
            _, x = pending.pop(0)
            h = float(rng.uniform(0.3, 1.8))
            what = int(rng.integers(0, 3))
            e = float(rng.uniform(0.5, 0.85))
            if what == 0:
                r = float(rng.uniform(0.06, 0.14))
                world.ball((x, h + r), r, e)
            elif what == 1:
                s = float(rng.uniform(0.12, 0.26))
                b = world.box((x, h + s), (s, s), e)
                b.angle = float(rng.uniform(-0.4, 0.4))
            else:
                s = float(rng.uniform(0.1, 0.2))
                b = world.box((x, h + s), (s * 2.2, s * 0.7), e)
                b.angle = float(rng.uniform(-0.2, 0.2))

    world.controls.append(release)


def pair_scene(world: World, rng: np.random.Generator, camera: Camera, kind: Kind) -> None:
    """Two balls land 60-150 ms apart, 0.2-0.5 of the picture from each other, four times."""
    width = camera.width_m
    g = 9.81
    events = []
    for i in range(4):
        land = 1.2 + i * 2.1 + float(rng.uniform(0.0, 0.4))
        gap = float(rng.uniform(0.06, 0.15))
        apart = float(rng.uniform(0.2, 0.5)) * width
        x0 = camera.centre[0] + float(rng.uniform(-0.3, 0.3)) * width - apart / 2
        for j, (x, when) in enumerate(((x0, land), (x0 + apart, land + gap))):
            h = float(rng.uniform(0.4, 1.2))
            events.append((when - math.sqrt(2 * h / g), x, h, j))
    events.sort()
    live: list = []

    def release(t: float, dt: float) -> None:
        while events and events[0][0] <= t:
            _, x, h, _ = events.pop(0)
            r = float(rng.uniform(0.05, 0.1))
            live.append((t, world.ball((x, h + r), r, float(rng.uniform(0.15, 0.35)))))
        for born, body in list(live):  # cleared once at rest, so the floor stays readable
            if t - born > 1.9:
                world.space.remove(body, *body.shapes)
                live.remove((born, body))

    world.controls.append(release)


def feet_scene(world: World, rng: np.random.Generator, camera: Camera, kind: Kind) -> list:
    """Two feet walking right: each lifts, swings forward and plants with downward speed, then
    stays planted while the other steps. The camera follows the walker."""
    import pymunk

    stride = float(rng.uniform(0.5, 0.8))
    step_time = float(rng.uniform(0.45, 0.7))
    feet = []
    x = camera.centre[0] - 0.3 * camera.width_m
    for i in range(2):
        size = (float(rng.uniform(0.3, 0.42)), float(rng.uniform(0.1, 0.15)))
        foot = world.box((x + i * stride / 2, size[1] / 2 + 0.002), size, 0.05, mass=3.0, turns=False)
        for shape in foot.shapes:  # a left and a right foot pass each other
            shape.filter = pymunk.ShapeFilter(group=1)
        feet.append((foot, size))
    state = {"moving": 0, "since": 0.6, "from": 0.0, "land": float(rng.uniform(0.8, 1.6))}

    def plan_for(i: int):
        foot, size = feet[i]
        rest_y = size[1] / 2

        def plan(t: float, b):
            if state["moving"] != i or t < state["since"]:
                return (0.0, 0.0)
            u = (t - state["since"]) / step_time
            if u < 0.75:  # up and forward: a smooth arc
                vx = stride / (0.75 * step_time) * math.sin(math.pi * u / 0.75) * math.pi / 2
                target_y = rest_y + 0.2 * math.sin(math.pi * min(1.0, u / 0.5) / 2)
                return (vx, 8.0 * (target_y - b.position.y))
            # down to the floor, gathering the planting speed in 80 ms
            return (0.0, -state["land"] * min(1.0, (u - 0.75) * step_time / 0.08))

        return plan

    for i in range(2):
        driven(world, feet[i][0], plan_for(i))

    def watch(t: float, dt: float) -> None:
        i = state["moving"]
        foot, size = feet[i]
        u = (t - state["since"]) / step_time
        if u > 0.75 and foot.position.y <= size[1] / 2 + 0.003 or u > 3.0:
            state.update(moving=1 - i, since=t + float(rng.uniform(0.1, 0.4)),
                         land=float(rng.uniform(0.8, 1.6)))

    world.controls.append(watch)
    # The camera follows the walker; the truth projects contacts afterwards, so the path is kept.
    track_t: list[float] = []
    track_x: list[float] = []

    def log(t: float, dt: float) -> None:
        track_t.append(t)
        track_x.append(camera.centre[0] + float(np.mean([f.position.x for f, _ in feet])) - x - stride / 4)

    world.controls.append(log)
    camera.follow = lambda t: float(np.interp(t, track_t, track_x)) if track_t else camera.centre[0]
    return feet


def smooth_scene(world: World, rng: np.random.Generator, camera: Camera, kind: Kind) -> None:
    """Nothing strikes: a pendulum swings, a ball rolls along the floor, a box is lifted and set
    down slower than a contact counts, and the camera zooms in."""
    import pymunk

    width = camera.width_m
    cx = camera.centre[0]
    pivot = (cx - 0.25 * width, float(rng.uniform(1.4, 1.8)))
    length = float(rng.uniform(0.6, 1.0))
    bob = world.ball((pivot[0] + length * math.sin(0.9), pivot[1] - length * math.cos(0.9)), 0.08, 0.2)
    joint = pymunk.PinJoint(world.space.static_body, bob, pivot, (0, 0))
    world.space.add(joint)
    roller = world.ball((cx - 0.1 * width, 0.1), 0.1, 0.1)
    roller.velocity = (-float(rng.uniform(0.3, 0.6)), 0.0)  # away from the box
    roller.angular_velocity = -roller.velocity.x / 0.1
    size = (float(rng.uniform(0.2, 0.3)), float(rng.uniform(0.15, 0.25)))
    box = world.box((cx + 0.3 * width, size[1] / 2 + 0.001), size, 0.1, turns=False)
    lift_at = float(rng.uniform(1.0, 2.0))
    down_speed = float(rng.uniform(0.2, 0.5)) * BAND * width  # set down under BAND widths a second

    def plan(t: float, b):
        u = t - lift_at
        if u < 0:
            return (0.0, 0.0)
        if u < 1.5:
            return (0.0, 0.35 * math.sin(math.pi * u / 1.5))
        if u < 3.5:
            return (0.1 * math.sin(math.pi * (u - 1.5) / 2.0), 0.0)
        if b.position.y > size[1] / 2 + 0.002:
            return (0.0, -down_speed)
        return (0.0, 0.0)

    driven(world, box, plan)


def simulate(name: str, kind: Kind, seed: int, out: Path | None, overwrite: bool = False) -> dict:
    """Simulate (and with ``out``, render and encode) one clip; its truth."""
    # Three streams: the world's, the camera's and the look's (noise, colours of the drawing,
    # shutter, quality), so that another frame rate or size films the same world.
    rng = np.random.default_rng([seed, 0])
    look = np.random.default_rng([seed, 2])
    fps = float(kind.fps)
    frames = int(round(kind.seconds * fps))
    width_m = float(rng.uniform(3.0, 4.5))
    w, h = kind.size
    floor_at = float(rng.uniform(0.72, 0.88))  # share of the way down
    centre = (0.0, (floor_at - 0.5) * width_m * h / w)
    camera = Camera(np.random.default_rng([seed, 1]), kind, width_m, centre)
    world = World(rng)
    if kind.group == "strike":
        strike_scene(world, rng, camera, kind, fast=kind.shutter[0] >= 180)
    elif kind.group == "drop":
        drop_scene(world, rng, camera, kind, 3)
    elif kind.group == "close":
        pair_scene(world, rng, camera, kind)
    elif kind.group == "feet":
        feet_scene(world, rng, camera, kind)
    else:
        smooth_scene(world, rng, camera, kind)
    shutter = float(look.uniform(*kind.shutter))
    taps = range(max(1, round(SUBSTEPS * shutter / 360.0)))  # the sub-steps the shutter is open for
    dt = 1.0 / (fps * SUBSTEPS)
    noise = float(look.uniform(1.0, 4.0))
    background = tuple(int(v) for v in (look.integers(150, 245, 3) if look.random() < 0.6
                                        else look.integers(10, 70, 3)))
    if out is None:
        for _ in range(frames * SUBSTEPS):
            world.step(dt)
    else:
        _render(world, camera, kind, frames, taps, dt, noise, background, look, out, overwrite)
    return _truth(world, camera, kind, frames, name, seed, shutter, noise)


def _render(world: World, camera: Camera, kind: Kind, frames: int, taps: range, dt: float, noise: float,
            background: tuple[int, ...], rng: np.random.Generator, out: Path, overwrite: bool) -> None:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame
    import pymunk.pygame_util
    from pymunk.space_debug_draw_options import SpaceDebugColor

    w, h = kind.size
    surface = pygame.Surface((w, h))
    options = pymunk.pygame_util.DrawOptions(surface)
    options.flags = pymunk.SpaceDebugDrawOptions.DRAW_SHAPES | pymunk.SpaceDebugDrawOptions.DRAW_CONSTRAINTS
    outline = tuple(int(v) for v in rng.integers(0, 60, 3)) + (255,)
    options.shape_outline_color = SpaceDebugColor(*outline)
    final = out.with_suffix(".mov" if kind.codec == "prores" else ".mp4")
    codec = (["-c:v", "prores_ks", "-profile:v", "2", "-pix_fmt", "yuv422p10le"] if kind.codec == "prores" else
             ["-c:v", "libx264", "-preset", "medium", "-crf", str(int(rng.integers(18, 27))), "-pix_fmt", "yuv420p"])
    from syncfoley.core.atomic import atomic_path
    from syncfoley.core.errors import SyncfoleyError

    try:
        with atomic_path(final, overwrite) as tmp:
            cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                   "-framerate", f"{kind.fps.numerator}/{kind.fps.denominator}", "-i", "-", *codec, str(tmp)]
            enc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
            try:
                if enc.stdin is None:
                    raise CorpusError(f"no pipe to ffmpeg for {final.name}")
                for _ in range(frames):
                    acc = np.zeros((h, w, 3), np.float32)
                    for sub in range(SUBSTEPS):
                        if sub in taps:
                            options.transform = camera.transform(world.t)
                            surface.fill(background)
                            world.scenery.debug_draw(options)
                            world.space.debug_draw(options)
                            acc += pygame.surfarray.array3d(surface).transpose(1, 0, 2)
                        world.step(dt)
                    img = acc / len(taps) + rng.normal(0.0, noise, (h, w, 1)).astype(np.float32)
                    enc.stdin.write(np.clip(img, 0, 255).astype(np.uint8).tobytes())
                enc.stdin.close()
                if enc.wait() != 0:
                    raise CorpusError(f"ffmpeg could not encode {final.name} (exit {enc.returncode})")
            except BrokenPipeError:
                raise CorpusError(f"ffmpeg stopped while encoding {final.name} (exit {enc.wait()})") from None
            finally:
                if enc.poll() is None:
                    enc.kill()
    except SyncfoleyError as exc:  # the clip appeared meanwhile, a full disk
        raise CorpusError(str(exc)) from None


def _truth(world: World, camera: Camera, kind: Kind, frames: int, name: str, seed: int, shutter: float,
           noise: float) -> dict:
    merged: list[Contact] = []
    for c in sorted(world.contacts, key=lambda c: c.time):
        prev = next((m for m in reversed(merged) if m.pair == c.pair and c.time - m.time < MERGE), None)
        if prev is not None:
            prev.speed = max(prev.speed, c.speed)
            continue
        merged.append(Contact(c.time, c.speed, c.point, c.pair))
    hits, band = [], []
    end = frames / float(kind.fps)
    for c in merged:
        x, y = camera.project(c.time, c.point)
        speed = c.speed / camera.at(c.time)[2]
        item = {"time": round(c.time, 5), "speed": round(speed, 4), "x": round(x, 4), "y": round(y, 4)}
        inside = 0.02 <= x <= 0.98 and 0.02 <= y <= 0.98
        if c.time > end - 0.05:
            continue
        if speed >= HIT and inside and c.time >= SETTLING:
            hits.append(item)
        elif speed >= BAND or c.time < SETTLING:
            band.append(item)
    # bench_detection prints a row per family: here, per kind of clip, as the table has them.
    return {"name": name, "family": name.rsplit("_", 1)[0], "group": kind.group, "seed": seed, "fps": str(kind.fps),
            "size": list(kind.size), "duration": end, "shutter": round(shutter, 1), "codec": kind.codec,
            "camera": kind.camera, "noise": round(noise, 2), "hit_speed": HIT, "band_speed": BAND,
            "renderer": "pymunk.pygame_util", "impacts": hits, "band": band}


def write_clip(out_dir: Path, kind_name: str, seed: int, overwrite: bool = False,
               fps: Fraction | None = None) -> str:
    kind = KINDS[kind_name]
    name = f"{kind_name}_{seed}"
    if fps is not None and fps != kind.fps:  # the same world filmed at another rate
        kind = dataclasses.replace(kind, fps=fps)
        name = f"{kind_name}-{float(fps):.4g}fps_{seed}"
    if not overwrite and any((out_dir / (name + s)).exists() for s in (".mp4", ".mov")):
        return f"{name}: exists, kept (--overwrite renders it again)"
    from syncfoley.core.atomic import atomic_path
    from syncfoley.core.errors import SyncfoleyError

    truth = simulate(name, kind, seed, out_dir / name, overwrite)
    texts = {".times.csv": "".join(f"{i['time']:.5f}\n" for i in truth["impacts"]),
             ".ignore.csv": "".join(f"{i['time']:.5f}\n" for i in truth["band"]),
             ".truth.json": json.dumps(truth, indent=1)}
    try:
        for suffix, text in texts.items():
            with atomic_path(out_dir / (name + suffix), overwrite=True) as tmp:
                tmp.write_text(text)
    except SyncfoleyError as exc:  # a full disk
        raise CorpusError(str(exc)) from None
    return f"{name}: {len(truth['impacts'])} impacts, {len(truth['band'])} in the band"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=len(KINDS), help="clips, taking the kinds in turn")
    parser.add_argument("--first", type=int, default=0, help="the first clip's index (its seed less 50000)")
    parser.add_argument("--kind", choices=sorted(KINDS), help="every clip of this kind")
    parser.add_argument("--fps", help="film the same worlds at this frame rate instead (60, 30000/1001), "
                                      "named KIND-RATEfps_SEED")
    parser.add_argument("--jobs", type=int, default=1, help="clips rendered at once (each in its own process)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    fps = None
    if args.fps is not None:
        try:
            fps = Fraction(args.fps)
        except (ValueError, ZeroDivisionError):
            fps = Fraction(0)
        if not 1 <= fps <= 240:
            print(f"debugdraw_corpus: --fps {args.fps}: give a frame rate from 1 to 240 (60, 30000/1001, 29.97)",
                  file=sys.stderr)
            return 2
    if args.count < 1 or args.first < 0 or not 1 <= args.jobs <= 64:
        print(f"debugdraw_corpus: --count must be 1 or more, --first 0 or more and --jobs 1..64 "
              f"(got {args.count}, {args.first} and {args.jobs})", file=sys.stderr)
        return 2
    try:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame  # noqa: F401
        import pymunk  # noqa: F401
    except ImportError as e:
        print(f"debugdraw_corpus: needs pymunk and pygame ({e}); pip install pymunk pygame", file=sys.stderr)
        return 2
    if shutil.which("ffmpeg") is None:
        print("debugdraw_corpus: needs the ffmpeg command line to encode the clips (apt install ffmpeg)", file=sys.stderr)
        return 2
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"debugdraw_corpus: cannot make the folder for the clips, {args.out}: {e.strerror}", file=sys.stderr)
        return 2
    names = list(KINDS)
    jobs = [(args.out, args.kind or names[i % len(names)], FIRST_SEED + i, args.overwrite, fps)
            for i in range(args.first, args.first + args.count)]
    try:
        if args.jobs == 1:
            for job in jobs:
                print(write_clip(*job), flush=True)
        else:
            from concurrent.futures import ProcessPoolExecutor

            # Each clip draws everything from its own seed: the same clips in any order.
            with ProcessPoolExecutor(args.jobs) as pool:
                for line in pool.map(write_clip, *zip(*jobs)):
                    print(line, flush=True)
    except CorpusError as e:
        print(f"debugdraw_corpus: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
