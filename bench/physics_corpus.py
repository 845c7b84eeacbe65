"""Clips with exact impact truth from a real 2D physics engine (pymunk), for training,
validating and testing the motion detector on footage its own scene generator never made.

Every clip is a pymunk world simulated at 12 sub-steps per frame. The truth is read
from the engine's contact callbacks: when two shapes start touching, their approach
speed along the contact normal is measured; a contact at least ``HIT`` picture widths
per second fast is an impact, one in the band ``[BAND, HIT)`` counts neither way (a
detector may or may not find it), anything slower is no event. Contacts outside the
picture do not count.

Variation, so that nothing can be learned by heart: families (drops and bounces,
stick strikes with rebound and hover, footsteps, topples, slides, gentle set-downs,
smooth-only scenes, close pairs, a mixture), object shapes (balls, boxes, sticks,
cylinders, feet) with random colours, stripes and shading, procedural backgrounds,
lighting gradients, flicker, sensor noise, camera pans, zooms, rotation and handheld
shake, motion blur from a random shutter angle, 23.976-60 fps, 270p-1080p, H.264 at
random quality, ProRes or MJPEG.

Splits are kept apart by seed ranges (train 0-9999, validation 10000-19999, test
20000+) and the test split alone has the ``mixed`` family (several kinds of event in
one clip) and clips above 960x540 (720p, 1080p); ``--size`` renders train or validation
clips at a size of your choice, the rest of each clip as its seed draws it. The floor
lies 70-90% of the way down the picture; ``--floor TOP BOTTOM`` films the same worlds with
it elsewhere, to check that a detector has not learnt where impacts happen. ``--family``
renders every clip as one family (more smooth-only clips, say).

Layout written (Greatest Hits style, read by ``syncfoley train-motion``)::

    OUT/NAME.mp4          the clip (.mov for ProRes)
    OUT/NAME.times.csv    one impact time (s) per line
    OUT/NAME.ignore.csv   contacts in the band (neither way)
    OUT/NAME.truth.json   family, settings, impacts with speed and position

    python bench/physics_corpus.py OUT --split test --count 40 [--jobs 2]
    python bench/physics_corpus.py OUT --split val --first 200 --count 16 --size 1280x720
    python bench/physics_corpus.py OUT --split val --first 500 --count 40 --floor 0.3 0.6
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

SUBSTEPS = 12
HIT = 0.2  # picture widths per second: truth
BAND = 0.1  # [BAND, HIT): neither way
GRAVITY = 9.81
VIEW = 4.0  # metres across the picture at zoom 1

FAMILIES = ("drop", "strike", "feet", "topple", "slide", "setdown", "smooth", "close")
TEST_ONLY = ("mixed",)
SPLIT_SEEDS = {"train": 0, "val": 10000, "test": 20000}
SPLIT_SPAN = 10000  # clips a split can hold before its seeds reach the next split's
FPS = (Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30), Fraction(50),
       Fraction(60000, 1001), Fraction(60))
SIZES = ((480, 270), (640, 360), (854, 480), (960, 540), (1280, 720))


@dataclass
class Visual:
    colour: tuple[int, int, int]
    stripe: tuple[int, int, int]
    stripes: int
    kind: str  # ball, box, stick, cylinder, foot, pendulum


@dataclass
class Contact:
    time: float
    speed: float  # m/s along the normal
    point: tuple[float, float]


@dataclass
class Camera:
    """World -> picture: centre path, zoom path, rotation and shake, all smooth functions of time."""

    centre: tuple[float, float]
    pan: tuple[float, float] = (0.0, 0.0)  # m/s
    zoom0: float = 1.0
    zoom_rate: float = 0.0  # per second, multiplicative
    rotation: float = 0.0  # radians per second
    shake: float = 0.0  # metres (at zoom 1) of handheld wander
    shake_phases: np.ndarray = field(default_factory=lambda: np.zeros((3, 4)))

    def at(self, t: float) -> tuple[float, float, float, float]:
        """(cx, cy, zoom, angle) at time t."""
        cx = self.centre[0] + self.pan[0] * t
        cy = self.centre[1] + self.pan[1] * t
        zoom = self.zoom0 * math.exp(self.zoom_rate * t)
        angle = self.rotation * t
        if self.shake:
            f = np.array([1.3, 2.9, 5.1, 8.7])
            p = self.shake_phases
            w = 1.0 / f
            cx += self.shake * float((w * np.sin(2 * np.pi * f * t + p[0])).sum()) / w.sum()
            cy += self.shake * float((w * np.sin(2 * np.pi * f * t * 1.1 + p[1])).sum()) / w.sum()
            angle += 0.004 * self.shake / 0.02 * float((w * np.sin(2 * np.pi * f * t * 0.9 + p[2])).sum()) / w.sum()
        return cx, cy, zoom, angle


@dataclass
class ClipSpec:
    name: str
    family: str
    seed: int
    fps: Fraction
    size: tuple[int, int]
    duration: float
    shutter: float  # degrees
    codec: str
    crf: int
    noise: float
    flicker: float
    # Where the floor may lie, as a share of the way down the picture (drawn per clip).
    floor: tuple[float, float] = (0.7, 0.9)


class World:
    """A pymunk space with the shapes we draw and the contacts we time."""

    def __init__(self, rng: np.random.Generator) -> None:
        import pymunk

        self.pm = pymunk
        self.rng = rng
        self.space = pymunk.Space()
        self.space.gravity = (0.0, -GRAVITY)
        self.t = 0.0
        self.contacts: list[Contact] = []
        self.drawn: list[tuple[object, Visual]] = []
        self.statics: list[tuple[object, Visual]] = []
        self.controls: list = []  # callables f(world, t) run before each step
        # pre_solve, not begin: a box that lands on a corner and then slaps down flat, or a
        # topple, keeps one contact pair throughout; only its new contact points approach fast.
        self.space.on_collision(pre_solve=self._contact)
        ground = pymunk.Segment(self.space.static_body, (-60, 0), (60, 0), 0.02)
        ground.friction = float(rng.uniform(0.4, 0.9))
        ground.elasticity = 1.0
        self.space.add(ground)

    def _contact(self, arbiter, space, data) -> None:
        points = arbiter.contact_point_set.points
        if not points:
            return
        n = arbiter.contact_point_set.normal
        a, b = arbiter.bodies
        speed = 0.0
        where = points[0].point_a
        for p in points:
            va = a.velocity_at_world_point(p.point_a)
            vb = b.velocity_at_world_point(p.point_b)
            # The normal points from a to b: positive is approach. A contact that is already
            # separating (a foot pushing off, a box tipping up off its corner) is no impact.
            rel = (va - vb).dot(n)
            if rel > speed:
                speed, where = rel, p.point_a
        if speed >= 0.15:  # resting and rolling contacts approach at about 0
            self.contacts.append(Contact(self.t, speed, (float(where[0]), float(where[1]))))

    def visual(self, kind: str) -> Visual:
        rng = self.rng
        c = tuple(int(v) for v in rng.integers(20, 236, 3))
        s = tuple(int(v) for v in np.clip(np.array(c) + rng.choice([-1, 1]) * rng.integers(50, 120), 0, 255))
        return Visual(c, s, int(rng.integers(0, 5)), kind)  # type: ignore[arg-type]

    def add_box(self, pos, size, mass=1.0, elasticity=0.3, friction=0.7, kind="box", angle=0.0, moment=None):
        pm = self.pm
        w, h = size
        body = pm.Body(mass, moment if moment is not None else pm.moment_for_box(mass, (w, h)))
        body.position = pos
        body.angle = angle
        shape = pm.Poly.create_box(body, (w, h), radius=min(w, h) * 0.05)
        shape.elasticity, shape.friction = elasticity, friction
        self.space.add(body, shape)
        self.drawn.append((shape, self.visual(kind)))
        return body, shape

    def add_ball(self, pos, radius, mass=1.0, elasticity=0.6, friction=0.7, kind="ball"):
        pm = self.pm
        body = pm.Body(mass, pm.moment_for_circle(mass, 0, radius))
        body.position = pos
        shape = pm.Circle(body, radius)
        shape.elasticity, shape.friction = elasticity, friction
        self.space.add(body, shape)
        self.drawn.append((shape, self.visual(kind)))
        return body, shape

    def add_static_box(self, pos, size, elasticity=0.5):
        pm = self.pm
        body = self.space.static_body
        x, y = pos
        w, h = size
        shape = pm.Poly(body, [(x - w / 2, y - h / 2), (x + w / 2, y - h / 2), (x + w / 2, y + h / 2), (x - w / 2, y + h / 2)])
        shape.elasticity, shape.friction = elasticity, 0.8
        self.space.add(shape)
        self.statics.append((shape, self.visual("box")))
        return shape

    def hold(self, body, release: float) -> None:
        """Keep ``body`` where it is until ``release`` s."""
        pos, angle = tuple(body.position), body.angle

        def control(world, t):
            if t < release:
                body.position, body.angle = pos, angle
                body.velocity, body.angular_velocity = (0, 0), 0
        self.controls.append(control)

    def step(self, dt: float) -> None:
        for control in self.controls:
            control(self, self.t)
        self.space.step(dt)
        self.t += dt


# ---- families ---------------------------------------------------------------------------


def drop_family(world: World, rng, duration: float, n: int | None = None) -> None:
    n = n if n is not None else int(rng.integers(1, 4))
    for _ in range(n):
        x = float(rng.uniform(-1.5, 1.5))
        h = float(rng.uniform(0.3, 1.6))
        kind = str(rng.choice(["ball", "box", "cylinder", "box", "ball"]))
        e = float(rng.uniform(0.05, 0.75))
        if kind == "box":
            body, _ = world.add_box((x, h), (float(rng.uniform(0.15, 0.45)), float(rng.uniform(0.12, 0.4))),
                                    elasticity=e, angle=float(rng.uniform(-0.5, 0.5)))
        else:
            body, _ = world.add_ball((x, h), float(rng.uniform(0.08, 0.25)), elasticity=e, kind=kind)
        world.hold(body, float(rng.uniform(0.3, max(0.4, duration - 2.0))))


def close_family(world: World, rng, duration: float) -> None:
    """Pairs of objects landing 60-150 ms apart."""
    t = float(rng.uniform(0.4, 0.9))
    while t < duration - 1.5:
        gap = float(rng.uniform(0.06, 0.15))
        x0 = float(rng.uniform(-1.6, -0.2))
        for k, land in enumerate((t, t + gap)):
            h = float(rng.uniform(0.3, 1.0))
            fall = math.sqrt(2 * h / GRAVITY)
            x = x0 + k * float(rng.uniform(0.6, 1.4))
            body, _ = world.add_ball((x, h + 0.1), 0.1, elasticity=float(rng.uniform(0.0, 0.15)), kind="ball") \
                if rng.random() < 0.5 else world.add_box((x, h + 0.1), (0.2, 0.2), elasticity=0.05)
            world.hold(body, land - fall)
        t += float(rng.uniform(1.3, 2.2))


def strike_family(world: World, rng, duration: float, blur_fast: bool = False) -> None:
    """A stick on a pivot, swung onto an anvil by a stiff rotary spring, rebounding, then
    eased back into a hover (the false onsets of the first detector lived there)."""
    pm = world.pm
    px = float(rng.uniform(-1.0, 0.6))
    py = float(rng.uniform(0.6, 1.1))
    length = float(rng.uniform(0.5, 0.9))
    anvil_h = py - 0.03
    world.add_static_box((px + length * 0.75, anvil_h / 2 - 0.05), (0.35, anvil_h - 0.1), elasticity=0.6)
    body, _ = world.add_box((px + length / 2, py + 0.0), (length, float(rng.uniform(0.07, 0.14))), mass=1.0,
                            elasticity=float(rng.uniform(0.3, 0.7)), kind="stick")
    joint = pm.PivotJoint(world.space.static_body, body, (px, py))
    spring = pm.DampedRotarySpring(world.space.static_body, body, 0.0, 60.0, 3.0)
    world.space.add(joint, spring)
    hover = float(rng.uniform(0.25, 0.6))
    # Schedule: hover; raise smoothly; swing down (rest angle below the anvil); hover again.
    plan: list[tuple[float, float, float, float]] = []  # (t0, t1, from, to) of rest angle
    t = float(rng.uniform(0.3, 0.8))
    angle = hover
    stiff_for: list[tuple[float, float, float]] = []
    while t < duration - 1.2:
        raise_to = hover + float(rng.uniform(0.3, 1.0))
        plan.append((t, t + 0.35, angle, raise_to))
        t += float(rng.uniform(0.35, 0.6))
        force = float(rng.uniform(150, 600 if blur_fast else 350))
        stiff_for.append((t, t + 0.12, force))
        plan.append((t, t + 0.001, raise_to, -0.6))
        t += 0.12
        plan.append((t, t + float(rng.uniform(0.3, 0.7)), 0.0, hover))
        angle = hover
        t += float(rng.uniform(0.7, 1.6))

    def control(w, now):
        rest = None
        for t0, t1, a0, a1 in plan:
            if now >= t0:
                u = min(1.0, (now - t0) / (t1 - t0))
                u = u * u * (3 - 2 * u)
                rest = a0 + (a1 - a0) * u
        if rest is not None:
            spring.rest_angle = rest
        spring.stiffness, spring.damping = 60.0, 3.0
        for t0, t1, force in stiff_for:
            if t0 <= now < t1:
                spring.stiffness, spring.damping = force, 0.5
    body.angle = hover
    spring.rest_angle = hover
    world.controls.append(control)


def feet_family(world: World, rng, duration: float) -> dict:
    """A foot hopping forward: lifted, carried, planted with downward speed."""
    x = float(rng.uniform(-1.8, -1.0))
    body, _ = world.add_box((x, 0.09), (0.5, 0.18), mass=2.0, elasticity=0.0, friction=1.0, kind="foot", moment=math.inf)
    t = float(rng.uniform(0.3, 0.7))
    steps = []
    while t < duration - 0.8:
        steps.append((t, float(rng.uniform(0.6, 1.4)), float(rng.uniform(1.2, 2.6))))
        t += float(rng.uniform(0.45, 0.8))
    pending = list(steps)

    def control(w, now):
        while pending and now >= pending[0][0]:
            _, vx, vy = pending.pop(0)
            if body.position.y < 0.13:  # on the ground: a foot pushes off only from there
                body.velocity = (vx, vy)
    world.controls.append(control)
    return {"follow": (x, float(np.mean([s[1] for s in steps])) * 0.6 if steps else 0.0)}


def topple_family(world: World, rng, duration: float) -> None:
    for _ in range(int(rng.integers(1, 3))):
        x = float(rng.uniform(-1.4, 1.2))
        h = float(rng.uniform(0.4, 0.9))
        body, _ = world.add_box((x, h / 2 + 0.001), (float(rng.uniform(0.1, 0.2)), h), elasticity=0.1, friction=0.9)
        push = float(rng.uniform(0.5, duration - 2.0))
        spin = float(rng.choice([-1, 1]) * rng.uniform(1.5, 3.0))
        done = [False]

        def control(w, now, body=body, push=push, spin=spin, done=done):
            if not done[0] and now >= push:
                # Turning about the bottom corner, as a push at the top starts a fall.
                body.angular_velocity = spin
                body.velocity = (-spin * body.position.y, 0.0)
                done[0] = True
        world.controls.append(control)


def slide_family(world: World, rng, duration: float) -> None:
    for _ in range(int(rng.integers(1, 3))):
        x = float(rng.uniform(-1.8, -0.5))
        body, shape = world.add_box((x, 0.08), (float(rng.uniform(0.15, 0.35)), 0.15), friction=float(rng.uniform(0.2, 0.5)),
                                    elasticity=0.2, moment=math.inf)
        start = float(rng.uniform(0.3, duration - 3.0))
        v = float(rng.uniform(1.0, 3.0))
        done = [False]

        def control(w, now, body=body, start=start, v=v, done=done):
            if not done[0] and now >= start:
                body.velocity = (v, 0.0)
                done[0] = True
        world.controls.append(control)
    if rng.random() < 0.5:
        world.add_static_box((float(rng.uniform(1.0, 1.8)), 0.3), (0.1, 0.6))


def setdown_family(world: World, rng, duration: float) -> None:
    """Objects lifted and set down gently by a smooth hand: contact at almost no speed."""
    pm = world.pm
    for _ in range(int(rng.integers(1, 3))):
        x = float(rng.uniform(-1.5, 1.5))
        size = (float(rng.uniform(0.15, 0.35)), float(rng.uniform(0.12, 0.3)))
        body, _ = world.add_box((x, size[1] / 2 + 0.002), size, elasticity=0.0, friction=0.9)
        hand = pm.Body(body_type=pm.Body.KINEMATIC)
        hand.position = body.position
        world.space.add(hand)
        pin = pm.PivotJoint(hand, body, (0, 0), (0, 0))
        pin.max_force = 400.0
        pin.error_bias = pow(0.5, 60.0)
        gear = pm.GearJoint(hand, body, 0.0, 1.0)
        gear.max_force = 400.0
        world.space.add(pin, gear)
        t0 = float(rng.uniform(0.3, 2.0))
        lift = float(rng.uniform(0.2, 0.7))
        up, hold, down = float(rng.uniform(0.6, 1.4)), float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.8, 1.6))
        dx = float(rng.uniform(-0.5, 0.5))
        y0 = size[1] / 2 - 0.003  # the hand ends a little below rest: the ground takes the weight

        def control(w, now, hand=hand, x=x, t0=t0, lift=lift, up=up, hold=hold, down=down, dx=dx, y0=y0):
            def ease(u):
                u = min(1.0, max(0.0, u))
                return u * u * (3 - 2 * u)
            if now < t0:
                pos = (x, y0)
            elif now < t0 + up:
                u = ease((now - t0) / up)
                pos = (x + dx * u * 0.5, y0 + lift * u)
            elif now < t0 + up + hold:
                u = ease((now - t0 - up) / hold)
                pos = (x + dx * (0.5 + 0.3 * u), y0 + lift)
            else:
                u = ease((now - t0 - up - hold) / down)
                pos = (x + dx * (0.8 + 0.2 * u), y0 + lift * (1 - u))
            dt = 1e-3
            old = hand.position
            hand.position = pos
            hand.velocity = ((pos[0] - old[0]) / dt * 0, 0)
        world.controls.append(control)


def smooth_family(world: World, rng, duration: float) -> None:
    """Only smooth motion: pendulums, a rolling ball, set-downs; the camera may zoom."""
    pm = world.pm
    for _ in range(int(rng.integers(1, 3))):
        px, py = float(rng.uniform(-1.5, 1.5)), float(rng.uniform(1.2, 1.6))
        bob, _ = world.add_ball((px + float(rng.uniform(0.2, 0.5)), py - float(rng.uniform(0.3, 0.6))),
                                float(rng.uniform(0.06, 0.12)), kind="pendulum")
        bob.angular_velocity = 0
        world.space.add(pm.PinJoint(world.space.static_body, bob, (px, py), (0, 0)))
        for s in world.space.shapes:
            if s.body is bob:
                s.filter = pm.ShapeFilter(categories=0b10, mask=0b01)
    if rng.random() < 0.7:
        body, _ = world.add_ball((float(rng.uniform(-1.8, -1.0)), 0.12), 0.12, elasticity=0.0, friction=1.0)
        body.velocity = (float(rng.uniform(0.4, 1.2)), 0.0)
        body.angular_velocity = -body.velocity.x / 0.12
    if rng.random() < 0.6:
        setdown_family(world, rng, duration)


def pendulum_distractor(world: World, rng) -> None:
    pm = world.pm
    px, py = float(rng.uniform(-1.5, 1.5)), float(rng.uniform(1.3, 1.7))
    bob, shape = world.add_ball((px + float(rng.uniform(0.2, 0.5)), py - 0.4), 0.08, kind="pendulum")
    shape.filter = pm.ShapeFilter(categories=0b10, mask=0b01)
    world.space.add(pm.PinJoint(world.space.static_body, bob, (px, py), (0, 0)))


# ---- the clip --------------------------------------------------------------------------------


def make_spec(split: str, index: int, family: str | None = None, size: tuple[int, int] | None = None,
              floor: tuple[float, float] = (0.7, 0.9)) -> ClipSpec:
    seed = SPLIT_SEEDS[split] + index
    rng = np.random.default_rng(seed)
    families = FAMILIES + (TEST_ONLY if split == "test" else ())
    fam = family or families[index % len(families)]
    fps = FPS[int(rng.integers(len(FPS)))]
    # Analysis scales every clip to at most 512 px across, so train and validation stay small
    # (fast to render); --size renders them larger.
    sizes = SIZES + ((1920, 1080),) if split == "test" else SIZES[:4]
    drawn = sizes[int(rng.integers(len(sizes)))]
    size = size or drawn  # drawn either way, so that a forced size leaves the rest of the clip as it was
    codec = str(rng.choice(["h264", "h264", "h264", "h264", "prores", "mjpeg"]))
    if codec == "prores" and size[0] > 960:
        codec = "h264"
    return ClipSpec(
        name=f"{split}_{index:04d}_{fam}", family=fam, seed=seed, fps=fps, size=size,
        duration=float(rng.uniform(5.0, 8.0)), shutter=float(rng.choice([0.0, 90.0, 180.0, 180.0, 270.0])),
        codec=codec, crf=int(rng.integers(16, 30)), noise=float(rng.uniform(0.0, 6.0)),
        flicker=float(rng.choice([0.0, 0.0, rng.uniform(0.01, 0.06)])), floor=floor,
    )


def build_world(spec: ClipSpec, rng) -> tuple[World, Camera]:
    world = World(rng)
    fam = spec.family
    follow = None
    if fam == "mixed":
        for sub in rng.choice(["drop", "strike", "feet", "topple", "slide", "setdown"], size=2, replace=False):
            _populate(world, str(sub), rng, spec.duration)
    else:
        follow = _populate(world, fam, rng, spec.duration)
    if rng.random() < 0.4:
        pendulum_distractor(world, rng)
    if fam not in ("strike",) and rng.random() < 0.3:
        world.add_static_box((float(rng.uniform(-1.5, 1.5)), 0.2), (float(rng.uniform(0.3, 0.8)), 0.4))
    zoom0 = float(rng.uniform(0.8, 1.3))
    visible_h = VIEW / zoom0 * spec.size[1] / spec.size[0]
    # The floor between 70% and 90% of the way down the picture, unless the spec says otherwise
    # (one draw either way: the rest of the clip stays as it was).
    camera = Camera(centre=(float(rng.uniform(-0.3, 0.3)), (float(rng.uniform(*spec.floor)) - 0.5) * visible_h),
                    zoom0=zoom0, shake_phases=rng.uniform(0, 2 * np.pi, (3, 4)))
    move = str(rng.choice(["still", "still", "pan", "zoom", "shake", "shake", "rotate"]))
    if follow is not None:
        move = "follow"
        camera.centre = (follow[0] + 0.6, camera.centre[1])  # the foot in the left third, then followed
        camera.pan = (follow[1], 0.0)
    elif move == "pan":
        camera.pan = (float(rng.uniform(-0.25, 0.25)), float(rng.uniform(-0.05, 0.05)))
    elif move == "zoom" or fam == "smooth" and rng.random() < 0.5:
        camera.zoom_rate = float(rng.choice([-1, 1]) * rng.uniform(0.03, 0.08))
    if move == "shake":
        camera.shake = float(rng.uniform(0.005, 0.03))
    elif move == "rotate":
        camera.rotation = float(rng.choice([-1, 1]) * rng.uniform(0.01, 0.04))
    world.camera_move = move  # type: ignore[attr-defined]
    return world, camera


def _populate(world: World, fam: str, rng, duration: float):
    if fam == "drop":
        drop_family(world, rng, duration)
    elif fam == "close":
        close_family(world, rng, duration)
    elif fam == "strike":
        strike_family(world, rng, duration, blur_fast=bool(rng.random() < 0.5))
    elif fam == "feet":
        return feet_family(world, rng, duration)["follow"]
    elif fam == "topple":
        topple_family(world, rng, duration)
    elif fam == "slide":
        slide_family(world, rng, duration)
    elif fam == "setdown":
        setdown_family(world, rng, duration)
    elif fam == "smooth":
        smooth_family(world, rng, duration)
    return None


class Painter:
    """Draws the world through the camera with PIL: a textured background fixed in the
    world, shaded objects with stripes that turn with them."""

    def __init__(self, size: tuple[int, int], rng, below: float = 1.0) -> None:
        from PIL import Image, ImageDraw, ImageFilter

        self.Image, self.ImageDraw = Image, ImageDraw
        self.size = size
        w, h = size
        # Background texture covering 16 m across, from ``below`` m under the floor to 5 m
        # above it, at 1.25x the picture's resolution.
        self.ppm = 1.25 * w / VIEW
        self.origin = (-8.0, -below)
        bw, bh = int(16 * self.ppm), int((5 + below) * self.ppm)
        small = rng.uniform(0, 1, (max(2, bh // 40), max(2, bw // 40), 3))
        base = np.array(rng.integers(60, 200, 3), dtype=np.float64)
        tex = Image.fromarray(np.uint8(np.clip(base + 60 * (small - 0.5), 0, 255))).resize((bw, bh), Image.BICUBIC)
        draw = ImageDraw.Draw(tex)
        for _ in range(int(rng.integers(30, 90))):
            x0, y0 = rng.uniform(0, bw), rng.uniform(0, bh)
            ww, hh = rng.uniform(5, bw / 12), rng.uniform(5, bh / 6)
            col = tuple(int(v) for v in rng.integers(30, 230, 3))
            if rng.random() < 0.5:
                draw.rectangle([x0, y0, x0 + ww, y0 + hh], fill=col)
            else:
                draw.ellipse([x0, y0, x0 + ww, y0 + hh], fill=col)
        tex = tex.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 4.0)) * w / 960))
        # The floor: below y = 0 a darker band.
        arr = np.asarray(tex).astype(np.float64)
        floor_row = int(bh - (0 - self.origin[1]) * self.ppm)
        arr[floor_row:] = arr[floor_row:] * 0.55 + np.array(rng.integers(20, 120, 3)) * 0.45
        self.texture = Image.fromarray(np.uint8(np.clip(arr, 0, 255)))
        self.light = self._lighting(rng)
        self._bg_key: tuple = ()
        self._bg = None
        # A bank of sensor-noise frames, drawn from at random offsets (drawing fresh noise
        # for every pixel of every frame cost more than the rendering).
        w, h = size
        self.noise = rng.standard_normal((h + 16, w + 16, 3)).astype(np.float32)

    def _lighting(self, rng) -> np.ndarray:
        w, h = self.size
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        gx, gy = rng.uniform(-0.4, 0.4, 2)
        light = 1.0 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5)
        r = np.hypot(xx / w - 0.5, yy / h - 0.5)
        light *= 1.0 - float(rng.uniform(0.0, 0.5)) * r**2
        return (light * float(rng.uniform(0.7, 1.15)))[..., None].astype(np.float32)

    def transform(self, cam: tuple[float, float, float, float]):
        """(to_screen function, affine data mapping screen -> texture pixels)."""
        cx, cy, zoom, angle = cam
        w, h = self.size
        s = zoom * w / VIEW  # pixels per metre
        c, sn = math.cos(angle), math.sin(angle)

        def to_screen(pts: np.ndarray) -> np.ndarray:
            d = pts - np.array([cx, cy])
            x = c * d[:, 0] - sn * d[:, 1]
            y = sn * d[:, 0] + c * d[:, 1]
            return np.stack([w / 2 + s * x, h / 2 - s * y], axis=1)

        # screen (u, v) -> world: x' = (u - w/2)/s, y' = -(v - h/2)/s; world = R^-1 (x', y') + c
        # texture pixel: tx = (X - ox) * ppm, ty = bh - (Y - oy) * ppm
        bh = self.texture.size[1]
        ppm = self.ppm
        # X = c*x' + sn*y' + cx ; Y = -sn*x' + c*y' + cy
        # x' = (u - w/2)/s ; y' = -(v - h/2)/s
        ax_u, ax_v = c / s, -sn / s
        ay_u, ay_v = -sn / s, -c / s
        x0 = -ax_u * w / 2 - ax_v * h / 2 + cx
        y0 = -ay_u * w / 2 - ay_v * h / 2 + cy
        data = (ax_u * ppm, ax_v * ppm, (x0 - self.origin[0]) * ppm,
                -ay_u * ppm, -ay_v * ppm, bh - (y0 - self.origin[1]) * ppm)
        return to_screen, data

    def draw(self, world: World, cam) -> np.ndarray:
        Image, ImageDraw = self.Image, self.ImageDraw
        to_screen, data = self.transform(cam)
        key = tuple(round(v, 2) for v in data)
        if key != self._bg_key:  # a still camera draws its background once
            self._bg = self.texture.transform(self.size, Image.AFFINE, data, resample=Image.BILINEAR)
            self._bg_key = key
        img = self._bg.copy()
        draw = ImageDraw.Draw(img)
        for shape, vis in world.statics + world.drawn:
            self._shape(draw, shape, vis, to_screen)
        return np.asarray(img, dtype=np.float32)

    def _shape(self, draw, shape, vis: Visual, to_screen) -> None:
        pm = __import__("pymunk")
        body = shape.body
        if isinstance(shape, pm.Circle):
            r = shape.radius
            ang = np.linspace(0, 2 * np.pi, 28, endpoint=False)
            local = np.stack([r * np.cos(ang), r * np.sin(ang)], axis=1)
        else:
            local = np.array([tuple(v) for v in shape.get_vertices()])
        world_pts = np.array([tuple(body.local_to_world(tuple(p))) for p in local]) if body.body_type != pm.Body.STATIC \
            else local
        pts = to_screen(world_pts)
        # A darker rim, as shading and edges give real objects.
        rim = tuple(int(c * 0.55) for c in vis.colour)
        draw.polygon([tuple(p) for p in pts], fill=vis.colour, outline=rim, width=max(1, self.size[0] // 400))
        # Shading: a darker half toward the bottom of the object, fixed in the world (light from above).
        if vis.stripes and body.body_type != pm.Body.STATIC:
            lo, hi = local.min(axis=0), local.max(axis=0)
            for k in range(vis.stripes):
                u = lo[0] + (hi[0] - lo[0]) * (k + 0.5) / vis.stripes
                seg = np.array([[u, lo[1] * 0.85], [u, hi[1] * 0.85]])
                if isinstance(shape, pm.Circle):
                    seg = np.array([[u * 0.9, -math.sqrt(max(0.0, shape.radius**2 - u**2)) * 0.9],
                                    [u * 0.9, math.sqrt(max(0.0, shape.radius**2 - u**2)) * 0.9]])
                wp = np.array([tuple(body.local_to_world(tuple(p))) for p in seg])
                sp = to_screen(wp)
                width = max(1, int(0.15 * np.linalg.norm(pts.max(axis=0) - pts.min(axis=0)) / max(vis.stripes, 1) / 2))
                draw.line([tuple(sp[0]), tuple(sp[1])], fill=vis.stripe, width=width)


class CorpusError(Exception):
    """A clip that cannot be rendered as asked (its video is there already, a full disk)."""


def clip_path(spec: ClipSpec, out_dir: Path) -> Path:
    return out_dir / f"{spec.name}{'.mov' if spec.codec == 'prores' else '.mp4'}"


def finished(spec: ClipSpec, out_dir: Path) -> bool:
    """Whether ``spec``'s clip and its truth are in ``out_dir``: the truth is written last, so
    a render cut short (a killed job) left none, and is not taken for a clip."""
    return clip_path(spec, out_dir).is_file() and (out_dir / f"{spec.name}.truth.json").is_file()


def render_clip(spec: ClipSpec, out_dir: Path, video: bool = True, overwrite: bool = False) -> dict:
    """Simulate, draw and encode one clip; write its truth files. Returns the truth.
    ``video=False`` simulates the same world again (nothing at run time draws from the
    random generator) and rewrites only the truth files. The video is written under a
    temporary name and renamed, so a render cut short leaves no clip; one that is there
    already is a :class:`CorpusError` unless ``overwrite``."""
    from syncfoley.core.atomic import atomic_path
    from syncfoley.core.errors import SyncfoleyError
    from syncfoley.engine.media.video import CODECS, write_video

    path = clip_path(spec, out_dir)
    # Before the simulation, not after it: the temporary name's rename would refuse it too, late.
    if video and path.exists() and not overwrite:
        raise CorpusError(f"{path} exists: pass --overwrite to render it again")

    rng = np.random.default_rng(spec.seed)
    world, camera = build_world(spec, rng)
    # A floor higher in the picture shows more of what lies under it.
    below = 1.0 if spec.floor[0] >= 0.7 else 5.0
    painter = Painter(spec.size, rng, below)  # drawn from the generator even when unused: the same clip either way
    fps = float(spec.fps)
    dt = 1.0 / (fps * SUBSTEPS)
    n_frames = int(spec.duration * fps)
    exposure = max(1, int(round(spec.shutter / 360.0 * SUBSTEPS)))
    taps = sorted(set(np.linspace(0, exposure - 1, min(exposure, 3)).round().astype(int).tolist())) if spec.shutter else [0]
    w, h = spec.size
    flick_phase = float(rng.uniform(0, 2 * np.pi))
    noise_rng = np.random.default_rng(spec.seed + 7)
    views: list[tuple[float, float, float, float]] = []

    def frames():
        for k in range(n_frames):
            acc = None
            for sub in range(SUBSTEPS):
                if sub in taps:
                    img = painter.draw(world, camera.at(world.t))
                    acc = img if acc is None else acc + img
                if sub == 0:
                    views.append(camera.at(world.t))
                world.step(dt)
            img = acc / len(taps) * painter.light
            if spec.flicker:
                img *= 1.0 + spec.flicker * math.sin(2 * math.pi * 3.1 * k / fps + flick_phase) \
                    + spec.flicker * 0.5 * float(noise_rng.standard_normal())
            if spec.noise:
                oy, ox = noise_rng.integers(0, 16, 2)
                img += spec.noise * painter.noise[oy:oy + h, ox:ox + w]
            yield np.clip(img, 0, 255).astype(np.uint8)

    if video:
        saved = dict(CODECS["h264"]["options"])  # type: ignore[arg-type]
        if spec.codec == "h264":
            CODECS["h264"]["options"] = {**saved, "crf": str(spec.crf)}
        try:
            with atomic_path(path, overwrite) as tmp:
                write_video(tmp, frames(), spec.fps, codec=spec.codec)
        except SyncfoleyError as exc:  # the clip appeared meanwhile, a full disk
            raise CorpusError(str(exc)) from None
        finally:
            CODECS["h264"]["options"] = saved
    else:
        for _ in range(n_frames):
            views.append(camera.at(world.t))
            for _ in range(SUBSTEPS):
                world.step(dt)
    hits, band = [], []
    for c in _merge(world.contacts):
        k = min(len(views) - 1, max(0, int(c.time * fps)))
        cx, cy, zoom, angle = views[k]
        visible_w = VIEW / zoom
        rel = np.array(c.point) - np.array([cx, cy])
        cs, sn = math.cos(angle), math.sin(angle)
        x = (cs * rel[0] - sn * rel[1]) / visible_w + 0.5
        y = 0.5 - (sn * rel[0] + cs * rel[1]) / visible_w * w / h
        inside = 0.02 <= x <= 0.98 and 0.02 <= y <= 0.98
        speed = c.speed / visible_w
        if c.time > n_frames / fps - 0.05:
            continue
        settling = c.time < 0.2  # objects placed at the start settle: neither way
        item = {"time": round(c.time, 5), "speed": round(speed, 4), "x": round(float(x), 4),
                "y": round(float(y), 4)}
        if speed >= HIT and inside and not settling:
            hits.append(item)
        elif speed >= BAND or settling:
            band.append(item)
    truth = {"name": spec.name, "family": spec.family, "seed": spec.seed, "fps": str(spec.fps), "size": list(spec.size),
             "duration": n_frames / fps, "shutter": spec.shutter, "codec": spec.codec, "noise": spec.noise,
             "flicker": spec.flicker, "floor": list(spec.floor), "camera": getattr(world, "camera_move", "still"),
             "hit_speed": HIT, "band_speed": BAND, "impacts": hits, "band": band}
    (out_dir / f"{spec.name}.times.csv").write_text("".join(f"{i['time']:.5f}\n" for i in hits))
    (out_dir / f"{spec.name}.ignore.csv").write_text("".join(f"{i['time']:.5f}\n" for i in band))
    (out_dir / f"{spec.name}.truth.json").write_text(json.dumps(truth, indent=1))
    return truth


def _merge(contacts: list[Contact], gap: float = 0.03) -> list[Contact]:
    """Contacts of one collision (a box's two corners, a chattering settle) within ``gap``
    s of each other are one event, at the first contact, as fast as the fastest."""
    out: list[Contact] = []
    for c in sorted(contacts, key=lambda c: c.time):
        near = [o for o in out if c.time - o.time < gap and math.dist(o.point, c.point) < 0.5]
        if near:
            o = near[-1]
            if c.speed > o.speed:
                o.speed = c.speed
            continue
        out.append(Contact(c.time, c.speed, c.point))
    return out


def _render(args: tuple[str, int, str, bool, tuple[int, int] | None, tuple[float, float], str | None, bool]) -> str:
    split, index, out, video, size, floor, family, overwrite = args
    spec = make_spec(split, index, family, size=size, floor=floor)
    if video and not overwrite and finished(spec, Path(out)):
        return f"{spec.name}: kept (rendered before)"
    try:
        truth = render_clip(spec, Path(out), video, overwrite)
    except CorpusError as exc:
        return f"error: {exc}"
    return f"{spec.name}: {len(truth['impacts'])} impacts, {len(truth['band'])} in the band"


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 1920x1080") from None
    if not (64 <= w <= 4096 and 64 <= h <= 4096) or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"size {text!r}: width and height must be even, 64..4096")
    return w, h


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--split", choices=tuple(SPLIT_SEEDS), required=True)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--overwrite", action="store_true",
                        help="render clips that are already there again (else they are kept, so a cut-short run "
                             "resumes where it stopped)")
    parser.add_argument("--truth-only", action="store_true",
                        help="simulate again and rewrite only the truth files beside clips already rendered")
    parser.add_argument("--size", type=_size, default=None, metavar="WxH",
                        help="render every clip at this size instead of the split's drawn one (e.g. 1920x1080: "
                             "train and validation draw up to 960x540 only, the test split up to 1080p)")
    parser.add_argument("--floor", type=float, nargs=2, default=(0.7, 0.9), metavar=("TOP", "BOTTOM"),
                        help="where the floor lies, as shares of the way down the picture (default 0.7 0.9; "
                             "e.g. 0.3 0.6 to check that a detector has not learnt where impacts happen)")
    parser.add_argument("--family", choices=FAMILIES + TEST_ONLY, default=None,
                        help="render every clip as this family instead of taking turns (e.g. smooth: more clips "
                             "where nothing hits, for a verifier's look-alikes)")
    args = parser.parse_args(argv)
    if args.first < 0 or args.count < 1 or args.first + args.count > SPLIT_SPAN:
        # A split's seeds are SPLIT_SEEDS[split] + index: an index outside them is another split's clip.
        parser.error(f"--first {args.first} --count {args.count}: a split holds clips 0..{SPLIT_SPAN - 1}; "
                     "give --first 0 or more and --count 1 or more within them")
    lo, hi = args.floor
    if not 0.1 <= lo <= hi <= 0.95:
        parser.error(f"--floor {lo} {hi}: give TOP <= BOTTOM, both within 0.1..0.95 of the way down the picture")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        # A file where the folder or one above it should be: say so, not a traceback.
        parser.error(f"{args.out}: cannot make the folder for the clips ({e.strerror}): give a folder")
    todo = [(args.split, i, str(args.out), not args.truth_only, args.size, (lo, hi), args.family, args.overwrite)
            for i in range(args.first, args.first + args.count)]
    failed = 0
    with ProcessPoolExecutor(args.jobs) as pool:
        for line in pool.map(_render, todo):
            failed += line.startswith("error:")
            print(line, file=sys.stderr if line.startswith("error:") else sys.stdout, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
