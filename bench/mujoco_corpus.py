"""Test clips from a second, independent physics engine and renderer: MuJoCo, in 3D.

``physics_corpus.py`` trains, validates and tests the picture detector, so its test split
still shares everything its generator does: pymunk's 2D worlds, flat shapes drawn with PIL,
a side-on camera. These clips share none of it. MuJoCo simulates rigid bodies in three
dimensions and its own OpenGL renderer films them in perspective, with lights, shadows,
specular highlights and textured materials; nothing here is shared with the detector or
with the other generator. They are a test set only: nothing in the detector is fitted or
chosen on them.

The truth is read from the engine's contacts. Before every 1 ms step (after collision
detection, before the contact impulses act), each contact's approach speed is measured:
the two bodies' velocities at the contact point, along the contact normal. That velocity
is projected through the camera into picture widths per second, the unit of
``physics_corpus``'s truth: ``HIT`` or faster is an impact, the band ``[BAND, HIT)``
counts neither way, slower is no event. Contacts of one collision within 30 ms are one
event; contacts outside the picture, in the first 0.2 s (objects settling) or so close to
the end that the picture cannot show what follows, do not count.

Families: ``drop`` (one to three balls, boxes, cylinders, capsules released from a hold,
bouncing with a drawn stiffness and damping), ``strike`` (a stick or hammer on a hinge,
servo-driven down onto an anvil, held, eased back up, hovering, with some slow taps too
gentle to count), ``topple`` (tall boxes and bottles pushed over), ``slide`` (a box
kicked across the floor into a block), ``smooth`` (pendulums, rolling balls, an object
lifted and set down with no speed left, a dolly: nothing hits), ``mixed`` (drops and a
strike). Each clip draws its camera (still, pan, dolly, orbit, handheld shake), field of
view, lights, textures, colours, motion blur (shutter angle), flicker, sensor noise,
23.976-60 fps, 480x270-1280x720, H.264 at a drawn quality or ProRes. Seeds start at 30000.

Rendering needs OpenGL without a display: EGL (Mesa's software renderer will do:
``apt install libegl1 libegl-mesa0 libgl1-mesa-dri``). Layout written, as ``physics_corpus``'s
(``bench_detection.py`` and ``syncfoley train-motion`` read it)::

    OUT/NAME.mp4          the clip (.mov for ProRes)
    OUT/NAME.times.csv    one impact time (s) per line
    OUT/NAME.ignore.csv   contacts in the band (neither way)
    OUT/NAME.truth.json   family, settings, impacts with speed and position

    python bench/mujoco_corpus.py OUT --count 48 [--first 0] [--jobs 2]
    python bench/bench_detection.py OUT
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

HIT = 0.2  # picture widths per second: an impact (physics_corpus's convention)
BAND = 0.1  # [BAND, HIT): neither way
FIRST_SEED = 30000
STEP = 0.001  # s: the simulation's time step
FAMILIES = ("drop", "strike", "topple", "slide", "smooth", "mixed")
FPS = (Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30), Fraction(50),
       Fraction(60))
SIZES = ((480, 270), (640, 360), (640, 360), (960, 540), (1280, 720))
MOVES = ("still", "still", "pan", "dolly", "orbit", "shake", "shake")


class CorpusError(Exception):
    """A clip that cannot be made (no OpenGL, no ffmpeg, a file in the way)."""


@dataclass(frozen=True)
class ClipSpec:
    name: str
    family: str
    seed: int
    fps: Fraction
    size: tuple[int, int]
    duration: float
    shutter: float  # degrees; 0 is a sharp frame
    codec: str
    crf: int
    noise: float  # grey levels (standard deviation)
    flicker: float  # share of the brightness
    move: str


def make_spec(index: int, family: Optional[str] = None) -> ClipSpec:
    seed = FIRST_SEED + index
    rng = np.random.default_rng(seed)
    fam = family or FAMILIES[index % len(FAMILIES)]
    fps = FPS[int(rng.integers(len(FPS)))]
    size = SIZES[int(rng.integers(len(SIZES)))]
    codec = "prores" if size[0] <= 960 and rng.random() < 0.2 else "h264"
    return ClipSpec(
        name=f"mujoco_{index:04d}_{fam}", family=fam, seed=seed, fps=fps, size=size,
        duration=float(rng.uniform(4.0, 6.0)), shutter=float(rng.choice([0.0, 90.0, 180.0, 180.0, 270.0])),
        codec=codec, crf=int(rng.integers(17, 29)), noise=float(rng.uniform(0.0, 5.0)),
        flicker=float(rng.choice([0.0, 0.0, rng.uniform(0.01, 0.05)])), move=str(rng.choice(MOVES)),
    )


def _rgb(rng, lo: float = 0.1, hi: float = 0.9) -> str:
    return " ".join(f"{v:.3f}" for v in rng.uniform(lo, hi, 3))


def _quat(rng) -> str:
    q = rng.standard_normal(4)
    return " ".join(f"{v:.4f}" for v in q / np.linalg.norm(q))


class Scene:
    """An MJCF world being written, and what runs on it: ``controls`` (called before every
    step with the model, the data and the time), the names of the bodies held until a time."""

    def __init__(self, rng) -> None:
        self.rng = rng
        self.assets: list[str] = []
        self.bodies: list[str] = []
        self.actuators: list[str] = []
        self.equalities: list[str] = []
        self.controls: list[Callable] = []
        self.releases: list[tuple[str, float]] = []  # (weld name, time)
        self.count = 0

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}{self.count}"

    def material(self, textured: Optional[bool] = None) -> str:
        """A material of a drawn colour, shine and, half the time, a checker or dots that
        show an object turning."""
        rng = self.rng
        name = self.name("mat")
        textured = rng.random() < 0.5 if textured is None else textured
        tex = ""
        if textured:
            kind = str(rng.choice(["checker", "gradient"]))
            self.assets.append(f'<texture name="t{name}" type="cube" builtin="{kind}" rgb1="{_rgb(rng)}" '
                               f'rgb2="{_rgb(rng)}" width="64" height="64" mark="random" random="0.03" '
                               f'markrgb="{_rgb(rng)}"/>')
            tex = f' texture="t{name}"'
        self.assets.append(f'<material name="{name}"{tex} rgba="{_rgb(rng, 0.2, 1.0)} 1" '
                           f'specular="{rng.uniform(0.0, 0.8):.2f}" shininess="{rng.uniform(0.1, 0.9):.2f}"/>')
        return name

    def shape(self, kinds: tuple[str, ...] = ("sphere", "box", "cylinder", "capsule")) -> tuple[str, str, float]:
        """A geom's type, size and the height of its centre when it rests upright."""
        rng = self.rng
        kind = str(rng.choice(kinds))
        if kind == "sphere":
            r = rng.uniform(0.035, 0.11)
            return kind, f"{r:.3f}", r
        if kind == "box":
            s = rng.uniform(0.03, 0.1, 3)
            return kind, " ".join(f"{v:.3f}" for v in s), s[2]
        r, h = rng.uniform(0.025, 0.07), rng.uniform(0.03, 0.12)
        return kind, f"{r:.3f} {h:.3f}", h + (r if kind == "capsule" else 0.0)

    def bounce(self) -> str:
        """Contact softness: a time constant and a damping ratio below 1 make it bounce."""
        return f'solref="{self.rng.uniform(0.004, 0.012):.4f} {self.rng.uniform(0.05, 0.9):.2f}"'

    def held_body(self, pos: np.ndarray, release: float, kinds=("sphere", "box", "cylinder", "capsule")) -> None:
        """A free body held where it is (a weld to the world) until ``release``."""
        rng = self.rng
        name = self.name("body")
        kind, size, _ = self.shape(kinds)
        p = " ".join(f"{v:.3f}" for v in pos)
        self.bodies.append(f'<body name="{name}" pos="{p}" quat="{_quat(rng)}"><freejoint/>'
                           f'<geom type="{kind}" size="{size}" material="{self.material()}" '
                           f'density="{rng.uniform(300, 2000):.0f}" '
                           f'friction="{rng.uniform(0.3, 1.0):.2f} 0.005 0.0001" {self.bounce()}/></body>')
        weld = self.name("hold")
        self.equalities.append(f'<weld name="{weld}" body1="{name}"/>')
        self.releases.append((weld, release))


def drop_family(scene: Scene, duration: float) -> None:
    rng = scene.rng
    # Lanes across the picture, so that no two objects start inside each other.
    for x in rng.choice([-0.45, -0.15, 0.15, 0.45], size=int(rng.integers(1, 4)), replace=False):
        pos = np.array([x + rng.uniform(-0.05, 0.05), rng.uniform(-0.25, 0.25), rng.uniform(0.25, 1.0)])
        scene.held_body(pos, float(rng.uniform(0.3, duration - 1.5)))


def strike_family(scene: Scene, duration: float) -> None:
    """A stick (or a hammer) on a hinge along y, above an anvil: a position servo drives it
    down past the anvil's top (it strikes), holds it there, eases it back up and lets it hover.
    Some strikes are slow taps: eased down onto the anvil with little speed left."""
    rng = scene.rng
    length = rng.uniform(0.25, 0.5)
    radius = rng.uniform(0.008, 0.025)
    head = rng.random() < 0.5
    anvil_h = rng.uniform(0.05, 0.25)
    tip = radius if not head else 0.035
    touch = rng.uniform(0.1, 0.35)  # joint angle (rad) at which the tip meets the anvil
    x0 = rng.uniform(-0.45, -0.05)
    pivot_z = anvil_h + tip + length * math.sin(touch)
    cx = x0 + length * math.cos(touch)
    mat = scene.material()
    scene.bodies.append(f'<geom type="box" pos="{cx:.3f} 0 {anvil_h / 2:.3f}" size="0.08 0.08 {anvil_h / 2:.3f}" '
                        f'material="{scene.material()}" {scene.bounce()}/>')
    scene.bodies.append(f'<geom type="cylinder" pos="{x0:.3f} 0.06 {pivot_z / 2:.3f}" size="0.015 {pivot_z / 2:.3f}" '
                        f'material="{scene.material()}" contype="0" conaffinity="0"/>')
    head_geom = (f'<geom type="box" pos="{length:.3f} 0 0" size="0.035 0.03 0.035" material="{scene.material()}" '
                 f'density="2000" {scene.bounce()}/>' if head else "")
    scene.bodies.append(
        f'<body name="stick" pos="{x0:.3f} 0 {pivot_z:.3f}" gravcomp="1"><joint name="hinge" type="hinge" axis="0 1 0" '
        f'damping="0.002"/><geom type="capsule" fromto="0 0 0 {length:.3f} 0 0" size="{radius:.3f}" material="{mat}" '
        f'density="800" {scene.bounce()}/>{head_geom}</body>')
    scene.actuators.append('<position name="servo" joint="hinge" kp="1"/>')
    up = -rng.uniform(0.3, 0.9)
    plan: list[tuple[float, str, float]] = []  # (start, kind, speed)
    t = float(rng.uniform(0.4, 0.9))
    while t < duration - 0.9:
        kind = "tap" if rng.random() < 0.2 else "strike"
        plan.append((t, kind, float(rng.uniform(4.0, 14.0))))
        t += float(rng.uniform(0.8, 1.6))
    def control(model, data, now: float) -> None:
        target, stiff = up + 0.05 * math.sin(2.1 * now), 20.0
        for start, kind, speed in plan:
            if now < start:
                break
            since = now - start
            if kind == "tap":
                if since < 0.6:
                    target, stiff = up + (touch + 0.01 - up) * _ease(since / 0.6), 60.0
                elif since < 0.75:
                    target, stiff = touch + 0.01, 60.0
                elif since < 1.25:
                    target, stiff = touch + (up - touch) * _ease((since - 0.75) / 0.5), 60.0
            else:
                if since < 0.25:
                    target, stiff = touch + 0.25, (speed / (touch - up)) ** 2
                elif since < 0.4:
                    target, stiff = touch + 0.01, 60.0
                elif since < 0.9:
                    target, stiff = touch + (up - touch) * _ease((since - 0.4) / 0.5), 60.0
        a = model.actuator("servo").id
        inertia = float(model.dof_M0[model.jnt_dofadr[model.joint("hinge").id]])
        # Stiffness for the angular speed a strike wants (kp = I (w / dtheta)^2), lightly damped.
        kp = inertia * stiff
        model.actuator_gainprm[a, 0] = kp
        model.actuator_biasprm[a, 1] = -kp
        model.actuator_biasprm[a, 2] = -2.0 * 0.3 * math.sqrt(kp * inertia)
        data.ctrl[a] = target

    scene.controls.append(control)


def topple_family(scene: Scene, duration: float) -> None:
    rng = scene.rng
    # Lanes, so that no two start inside each other (a stiff contact then blows up).
    for x in rng.choice([-0.45, -0.15, 0.15, 0.45], size=int(rng.integers(1, 3)), replace=False):
        name = scene.name("tall")
        x, y = x + rng.uniform(-0.05, 0.05), rng.uniform(-0.2, 0.2)
        if rng.random() < 0.5:
            hx, hz = rng.uniform(0.025, 0.05), rng.uniform(0.1, 0.22)
            geom = f'type="box" size="{hx:.3f} {rng.uniform(0.025, 0.05):.3f} {hz:.3f}"'
        else:
            hz = rng.uniform(0.1, 0.2)
            geom = f'type="cylinder" size="{rng.uniform(0.025, 0.045):.3f} {hz:.3f}"'
        scene.bodies.append(f'<body name="{name}" pos="{x:.3f} {y:.3f} {hz + 0.0005:.4f}"><freejoint/><geom {geom} '
                            f'material="{scene.material()}" density="{rng.uniform(300, 1500):.0f}" {scene.bounce()}/></body>')
        push = (float(rng.uniform(0.4, duration - 1.5)), float(rng.choice([-1, 1]) * rng.uniform(0.6, 2.0)))

        def control(model, data, now: float, name=name, push=push) -> None:
            body = model.body(name).id
            on = push[0] <= now < push[0] + 0.12
            mass = float(model.body_mass[body])
            data.xfrc_applied[body, 0] = push[1] * mass * 9.81 if on else 0.0
            # Pushed high up, so it tips rather than slides: a torque about y as the push's arm.
            data.xfrc_applied[body, 4] = push[1] * mass * 9.81 * 0.1 if on else 0.0

        scene.controls.append(control)


def slide_family(scene: Scene, duration: float) -> None:
    rng = scene.rng
    side = float(rng.choice([-1, 1]))
    wall_x = side * rng.uniform(0.3, 0.5)
    scene.bodies.append(f'<geom type="box" pos="{wall_x:.3f} 0 0.08" size="0.05 0.2 0.08" material="{scene.material()}" '
                        f'{scene.bounce()}/>')
    for lane in rng.choice([-0.12, 0.0, 0.12], size=int(rng.integers(1, 3)), replace=False):
        name = scene.name("slider")
        s = rng.uniform(0.03, 0.05, 3)
        x = -side * rng.uniform(0.0, 0.3)
        scene.bodies.append(f'<body name="{name}" pos="{x:.3f} {lane:.3f} {s[2] + 0.0005:.4f}">'
                            f'<freejoint/><geom type="box" size="{s[0]:.3f} {s[1]:.3f} {s[2]:.3f}" '
                            f'material="{scene.material()}" priority="1" friction="{rng.uniform(0.15, 0.3):.2f} 0.005 0.0001" '
                            f'{scene.bounce()}/></body>')
        kick = (float(rng.uniform(0.4, duration - 2.0)), side * float(rng.uniform(1.5, 3.0)))

        def control(model, data, now: float, name=name, kick=kick, done=_Once()) -> None:
            if not done.fired and now >= kick[0]:
                adr = model.jnt_dofadr[model.body(name).jntadr[0]]
                data.qvel[adr] = kick[1]
                done.fired = True

        scene.controls.append(control)


def smooth_family(scene: Scene, duration: float) -> None:
    """Only smooth motion: nothing lands, bounces or stops suddenly."""
    rng = scene.rng
    kinds = list(rng.choice(["pendulum", "roll", "lift"], size=int(rng.integers(1, 3)), replace=False))
    if "pendulum" in kinds:
        length, amp = rng.uniform(0.25, 0.5), rng.uniform(0.3, 1.0)
        x = rng.uniform(-0.4, 0.4)
        top = length + rng.uniform(0.15, 0.4)
        scene.bodies.append(
            f'<body pos="{x:.3f} 0.1 {top:.3f}"><joint name="swing" type="hinge" axis="0 1 0" damping="0.001"/>'
            f'<geom type="capsule" fromto="0 0 0 0 0 {-length:.3f}" size="0.008" material="{scene.material()}" '
            f'contype="0" conaffinity="0"/><geom type="sphere" pos="0 0 {-length:.3f}" size="{rng.uniform(0.03, 0.07):.3f}" '
            f'material="{scene.material()}" contype="0" conaffinity="0"/></body>')

        def start(model, data, now: float, amp=amp, done=_Once()) -> None:
            if not done.fired:
                data.qpos[model.jnt_qposadr[model.joint("swing").id]] = amp
                done.fired = True

        scene.controls.append(start)
    if "roll" in kinds:
        r = rng.uniform(0.04, 0.09)
        name = scene.name("ball")
        scene.bodies.append(f'<body name="{name}" pos="{rng.uniform(-0.5, -0.2):.3f} {rng.uniform(-0.2, 0.2):.3f} {r:.4f}">'
                            f'<freejoint/><geom type="sphere" size="{r:.3f}" material="{scene.material(True)}" '
                            f'friction="1 0.005 0.0001"/></body>')
        v = float(rng.uniform(0.2, 0.6))

        def roll(model, data, now: float, name=name, v=v, r=r, done=_Once()) -> None:
            if not done.fired:
                adr = model.jnt_dofadr[model.body(name).jntadr[0]]
                data.qvel[adr] = v
                data.qvel[adr + 4] = v / r  # rolling, not sliding: spin about y matches the speed
                done.fired = True

        scene.controls.append(roll)
    if "lift" in kinds:
        # A mocap body: moved by hand, eased so that it reaches the floor with no speed left.
        name = scene.name("lifted")
        kind, size, rest = scene.shape(("box", "cylinder"))
        x, y = rng.uniform(-0.4, 0.4), rng.uniform(-0.15, 0.15)
        scene.bodies.append(f'<body name="{name}" mocap="true" pos="{x:.3f} {y:.3f} {rest:.4f}">'
                            f'<geom type="{kind}" size="{size}" material="{scene.material()}" contype="0" '
                            f'conaffinity="0"/></body>')
        t0, height, each = rng.uniform(0.3, 1.0), rng.uniform(0.1, 0.35), rng.uniform(0.8, 1.5)

        def lift(model, data, now: float, name=name, base=(x, y, rest), t0=t0, height=height, each=each) -> None:
            mocap = model.body(name).mocapid[0]
            u = (now - t0) / each
            if 0 <= u < 1:
                z = height * _ease(u)
            elif 1 <= u < 2:
                z = height
            elif 2 <= u < 3:
                z = height * (1 - _ease(u - 2))
            else:
                z = 0.0
            data.mocap_pos[mocap] = (base[0] + 0.1 * max(0.0, min(u, 3.0)) / 3, base[1], base[2] + z)

        scene.controls.append(lift)


class _Once:
    """A scripted kick or start that has happened (one per control, kept in its defaults)."""

    fired = False


def _ease(u: float) -> float:
    """0 to 1 with no speed at either end (smootherstep)."""
    u = min(max(u, 0.0), 1.0)
    return u * u * u * (u * (6 * u - 15) + 10)


def build(spec: ClipSpec, step: float = STEP) -> tuple[str, Scene, dict]:
    """The world's MJCF (simulated in steps of ``step`` s), its scene (controls, holds) and
    the camera's drawn path."""
    rng = np.random.default_rng(spec.seed + 1)
    scene = Scene(rng)
    families = {"drop": drop_family, "strike": strike_family, "topple": topple_family, "slide": slide_family,
                "smooth": smooth_family}
    if spec.family == "mixed":
        drop_family(scene, spec.duration)
        strike_family(scene, spec.duration)
    else:
        families[spec.family](scene, spec.duration)
    w, h = spec.size
    floor = str(rng.choice(["checker", "flat", "flat"]))
    floor_tex = (f'<texture name="floor" type="2d" builtin="{floor}" rgb1="{_rgb(rng)}" rgb2="{_rgb(rng)}" '
                 f'mark="random" random="{rng.uniform(0.01, 0.2):.3f}" markrgb="{_rgb(rng)}" width="512" height="512"/>')
    wall_tex = (f'<texture name="wall" type="2d" builtin="{rng.choice(["gradient", "checker", "flat"])}" '
                f'rgb1="{_rgb(rng)}" rgb2="{_rgb(rng)}" mark="random" random="{rng.uniform(0.0, 0.1):.3f}" '
                f'markrgb="{_rgb(rng)}" width="512" height="512"/>')
    sun = np.array([rng.uniform(-1, 1), rng.uniform(-1, 0.5), -rng.uniform(0.6, 1.5)])
    sun /= np.linalg.norm(sun)
    xml = f"""<mujoco>
<option timestep="{step}"/>
<visual><global offwidth="{w}" offheight="{h}" fovy="{rng.uniform(30, 55):.1f}"/>
<quality shadowsize="2048"/>
<headlight ambient="{_rgb(rng, 0.1, 0.35)}" diffuse="{_rgb(rng, 0.2, 0.5)}" specular="0.1 0.1 0.1"/></visual>
<asset>{floor_tex}{wall_tex}
<texture name="sky" type="skybox" builtin="gradient" rgb1="{_rgb(rng)}" rgb2="{_rgb(rng)}" width="128" height="128"/>
<material name="floor" texture="floor" texrepeat="{rng.uniform(2, 10):.1f} {rng.uniform(2, 10):.1f}"
 reflectance="{rng.uniform(0, 0.15):.2f}"/>
<material name="wall" texture="wall" texrepeat="{rng.uniform(1, 6):.1f} {rng.uniform(1, 6):.1f}"/>
{"".join(scene.assets)}</asset>
<worldbody>
<light directional="true" pos="0 0 3" dir="{sun[0]:.3f} {sun[1]:.3f} {sun[2]:.3f}" diffuse="{_rgb(rng, 0.4, 0.9)}"
 castshadow="true"/>
<geom name="floor" type="plane" size="6 6 0.1" material="floor" friction="{rng.uniform(0.4, 1.0):.2f} 0.005 0.0001"/>
<geom name="wall" type="plane" pos="0 {rng.uniform(0.8, 2.5):.2f} 0" euler="90 0 0" size="6 3 0.1" material="wall"
 contype="0" conaffinity="0"/>
{"".join(scene.bodies)}
</worldbody>
<actuator>{"".join(scene.actuators)}</actuator>
<equality>{"".join(scene.equalities)}</equality>
</mujoco>"""
    camera = {"lookat": [float(rng.uniform(-0.15, 0.15)), float(rng.uniform(-0.1, 0.1)), float(rng.uniform(0.1, 0.3))],
              "distance": float(rng.uniform(1.3, 2.4)), "azimuth": float(90 + rng.uniform(-25, 25)),
              "elevation": float(-rng.uniform(5, 30)), "rate": float(rng.choice([-1, 1]) * rng.uniform(3, 8)),
              "shake": float(rng.uniform(0.15, 0.8)), "phases": rng.uniform(0, 2 * np.pi, (4, 3)).tolist()}
    return xml, scene, camera


def camera_at(cam: dict, move: str, t: float) -> tuple[list[float], float, float, float]:
    """(lookat, distance, azimuth, elevation) at time ``t``."""
    lookat, dist, az, el = list(cam["lookat"]), cam["distance"], cam["azimuth"], cam["elevation"]
    if move == "pan":
        az += cam["rate"] * t
    elif move == "orbit":
        az += 2.0 * cam["rate"] * math.sin(0.5 * t)
        el += 0.3 * cam["rate"] * math.sin(0.3 * t)
    elif move == "dolly":
        dist *= 1.0 + 0.05 * cam["rate"] / 8 * t
    elif move == "shake":
        # Handheld: a few incommensurate frequencies, fractions of a degree and a centimetre.
        ph = cam["phases"]
        wobble = [sum(math.sin(f * t + ph[i][j]) / (j + 1) for j, f in enumerate((7.3, 13.1, 23.7))) for i in range(4)]
        az += cam["shake"] * wobble[0]
        el += cam["shake"] * wobble[1]
        lookat[0] += 0.01 * cam["shake"] * wobble[2]
        lookat[2] += 0.01 * cam["shake"] * wobble[3]
    return lookat, dist, az, el


class Projector:
    """World points to picture coordinates (0..1 from the top left) through the camera the
    renderer last drew with (:meth:`of`)."""

    @classmethod
    def of(cls, scene, aspect: float) -> "Projector":
        """The camera of ``scene``: a mono picture is drawn from between its two eyes."""
        import mujoco

        return cls(mujoco.mjv_averageCamera(scene.camera[0], scene.camera[1]), aspect)

    def __init__(self, gl_camera, aspect: float) -> None:
        self.pos = np.array(gl_camera.pos, float)
        self.forward = np.array(gl_camera.forward, float)
        self.up = np.array(gl_camera.up, float)
        self.right = np.cross(self.forward, self.up)
        self.near = float(gl_camera.frustum_near)
        self.top, self.bottom = float(gl_camera.frustum_top), float(gl_camera.frustum_bottom)
        # The renderer sets left and right from the viewport's aspect, about the centre.
        self.centre, self.half = float(gl_camera.frustum_center), 0.5 * aspect * (self.top - self.bottom)

    def __call__(self, p: np.ndarray) -> tuple[float, float]:
        rel = p - self.pos
        z = max(float(rel @ self.forward), 1e-6)
        x = self.near * float(rel @ self.right) / z
        y = self.near * float(rel @ self.up) / z
        return ((x - (self.centre - self.half)) / (2 * self.half), (self.top - y) / (self.top - self.bottom))


@dataclass
class Contact:
    time: float
    speed: float  # m/s along the normal
    point: np.ndarray
    normal: np.ndarray
    bodies: tuple[int, int]


def _approaching(model, data, mujoco) -> list[Contact]:
    """Contacts whose bodies approach each other along the normal at 2 cm/s or more, now
    (before this step's contact impulses act)."""
    out = []
    res = np.zeros(6)
    for i in range(data.ncon):
        c = data.contact[i]
        n = np.array(c.frame[:3])
        p = np.array(c.pos)
        v = []
        for g in (c.geom1, c.geom2):
            mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_GEOM, g, res, 0)
            v.append(res[3:] + np.cross(res[:3], p - data.geom_xpos[g]))
        speed = float((v[0] - v[1]) @ n)  # the normal points from geom1 to geom2: positive is approach
        if speed >= 0.02:
            pair = sorted((int(model.geom_bodyid[c.geom1]), int(model.geom_bodyid[c.geom2])))
            out.append(Contact(float(data.time), speed, p, n, (pair[0], pair[1])))
    return out


def _merge(contacts: list[Contact], gap: float = 0.03) -> list[Contact]:
    """Contacts of one collision (a box's corners, a chattering settle: the same two bodies)
    within ``gap`` s of an earlier one are that event, as fast as the fastest."""
    out: list[Contact] = []
    for c in sorted(contacts, key=lambda c: c.time):
        near = [o for o in out if c.time - o.time < gap and o.bodies == c.bodies]
        if near:
            if c.speed > near[-1].speed:
                near[-1].speed, near[-1].normal = c.speed, c.normal
            continue
        out.append(Contact(c.time, c.speed, c.point, c.normal, c.bodies))
    return out


class _Unstable(Exception):
    """The simulation blew up (MuJoCo then resets it to the start: it would never end)."""


def clip_path(spec: ClipSpec, out_dir: Path) -> Path:
    return out_dir / f"{spec.name}{'.mov' if spec.codec == 'prores' else '.mp4'}"


def finished(spec: ClipSpec, out_dir: Path) -> bool:
    """Whether ``spec``'s clip and its truth are in ``out_dir``: the truth is written last, so
    a render cut short (a killed job) left none, and is not taken for a clip."""
    return clip_path(spec, out_dir).is_file() and (out_dir / f"{spec.name}.truth.json").is_file()


def render_clip(spec: ClipSpec, out_dir: Path, overwrite: bool = False) -> dict:
    """Simulate, film and encode one clip; write its truth files. Returns the truth.

    A world that MuJoCo cannot integrate stably (a light body spun hard into a stiff
    contact) is simulated again from the start in steps half as long, then a quarter."""
    path = clip_path(spec, out_dir)
    if path.exists() and not overwrite:
        raise CorpusError(f"{path} exists: pass --overwrite to render it again")
    for step in (STEP, STEP / 2, STEP / 4):
        try:
            return _film(spec, out_dir, path, step, overwrite)
        except _Unstable as exc:
            unstable = exc
    raise CorpusError(f"{spec.name}: the simulation is unstable even in steps of {STEP / 4 * 1000:g} ms ({unstable})")


def _film(spec: ClipSpec, out_dir: Path, path: Path, step: float, overwrite: bool) -> dict:
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import mujoco
    except ImportError:
        raise CorpusError("MuJoCo is not installed: pip install mujoco (or the project's [test] extra)") from None
    except Exception as exc:  # PyOpenGL fails on import when MUJOCO_GL names a library that is not there
        raise CorpusError(f"MuJoCo cannot load its OpenGL backend {os.environ['MUJOCO_GL']!r} ({exc}): install EGL "
                          "(apt install libegl1 libegl-mesa0 libgl1-mesa-dri) and leave MUJOCO_GL unset") from None

    xml, scene, cam = build(spec, step)
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    try:
        renderer = mujoco.Renderer(model, spec.size[1], spec.size[0])
    except Exception as exc:  # no OpenGL context: a message, not a traceback from deep in PyOpenGL
        raise CorpusError(f"MuJoCo cannot render without a display here ({exc}); install EGL "
                          "(apt install libegl1 libegl-mesa0 libgl1-mesa-dri) or set MUJOCO_GL") from None
    free = mujoco.MjvCamera()
    free.type = mujoco.mjtCamera.mjCAMERA_FREE
    rng = np.random.default_rng(spec.seed + 2)
    fps = float(spec.fps)
    n_frames = int(spec.duration * fps)
    taps = 3 if spec.shutter else 1
    w, h = spec.size
    phase = float(rng.uniform(0, 2 * np.pi))
    contacts: list[Contact] = []
    views: list[Projector] = []
    releases = {model.equality(name).id: t for name, t in scene.releases}
    for eq in releases:
        data.eq_active[eq] = 1

    def advance(until: float) -> None:
        while data.time < until - 1e-9:
            for eq, t in releases.items():
                if data.time >= t:
                    data.eq_active[eq] = 0
            for control in scene.controls:
                control(model, data, data.time)
            mujoco.mj_step1(model, data)
            contacts.extend(_approaching(model, data, mujoco))
            mujoco.mj_step2(model, data)
            if data.warning[mujoco.mjtWarning.mjWARN_BADQACC].number:
                raise _Unstable(f"at {data.time:.3f} s in steps of {step * 1000:g} ms")

    def shoot(t: float) -> np.ndarray:
        free.lookat[:], free.distance, free.azimuth, free.elevation = camera_at(cam, spec.move, t)
        renderer.update_scene(data, camera=free)
        return renderer.render().astype(np.float32)

    def frames() -> Iterator[bytes]:
        for k in range(n_frames):
            t0 = k / fps
            acc = np.zeros((h, w, 3), np.float32)
            for j in range(taps):
                advance(t0 + j / taps * spec.shutter / 360.0 / fps)
                acc += shoot(data.time)
                if j == 0:
                    views.append(Projector.of(renderer.scene, w / h))
            img = acc / taps
            if spec.flicker:
                img *= 1.0 + spec.flicker * (math.sin(2 * math.pi * 2.7 * t0 + phase) + 0.5 * rng.standard_normal())
            if spec.noise:
                img += rng.normal(0.0, spec.noise, (h, w, 1)).astype(np.float32)
            yield np.clip(img, 0, 255).astype(np.uint8).tobytes()
        advance(n_frames / fps)

    from syncfoley.core.atomic import atomic_path
    from syncfoley.core.errors import SyncfoleyError

    try:
        with atomic_path(path, overwrite) as tmp:
            _encode(frames(), spec, tmp)
        truth = _truth(spec, _merge(contacts), views, n_frames)
        for ext, key in ((".times.csv", "impacts"), (".ignore.csv", "band")):
            with atomic_path(out_dir / f"{spec.name}{ext}", overwrite=True) as tmp:
                tmp.write_text("".join(f"{i['time']:.5f}\n" for i in truth[key]))
        with atomic_path(out_dir / f"{spec.name}.truth.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps(truth, indent=1))
    except SyncfoleyError as exc:  # the clip appeared meanwhile, a full disk
        raise CorpusError(str(exc)) from None
    finally:
        renderer.close()
    return truth


def _encode(frames: Iterator[bytes], spec: ClipSpec, out: Path) -> None:
    """RGB frames to ``out`` by the ffmpeg command line, H.264 or ProRes as ``spec`` says."""
    w, h = spec.size
    codec = (["-c:v", "prores_ks", "-profile:v", "2", "-pix_fmt", "yuv422p10le"] if spec.codec == "prores" else
             ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(spec.crf), "-pix_fmt", "yuv420p"])
    try:
        enc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                                "-r", str(spec.fps), "-i", "-", *codec, str(out)], stdin=subprocess.PIPE)
    except FileNotFoundError:
        raise CorpusError("ffmpeg is not on PATH: it encodes the clips") from None
    try:
        if enc.stdin is None:
            raise CorpusError("ffmpeg's input could not be opened")
        try:
            for frame in frames:
                enc.stdin.write(frame)
            enc.stdin.close()
        except BrokenPipeError:
            raise CorpusError(f"ffmpeg stopped while encoding {spec.name}") from None
        if enc.wait() != 0:
            raise CorpusError(f"ffmpeg could not encode {spec.name}")
    finally:
        if enc.poll() is None:
            enc.kill()
            enc.wait()


def _truth(spec: ClipSpec, events: list[Contact], views: list[Projector], n_frames: int) -> dict:
    fps = float(spec.fps)
    hits, band = [], []
    for c in events:
        if c.time > n_frames / fps - 0.05:
            continue
        view = views[min(len(views) - 1, int(c.time * fps))]
        x, y = view(c.point)
        # The approach as the picture shows it: the normal velocity, projected.
        dt = 0.01
        x2, y2 = view(c.point + c.normal * c.speed * dt)
        aspect = spec.size[1] / spec.size[0]
        speed = math.hypot(x2 - x, (y2 - y) * aspect) / dt
        inside = 0.02 <= x <= 0.98 and 0.02 <= y <= 0.98
        settling = c.time < 0.2
        item = {"time": round(c.time, 5), "speed": round(speed, 4), "metres_per_second": round(c.speed, 3),
                "x": round(x, 4), "y": round(y, 4)}
        if speed >= HIT and inside and not settling:
            hits.append(item)
        elif speed >= BAND or settling:
            band.append(item)
    return {"name": spec.name, "family": spec.family, "seed": spec.seed, "engine": "mujoco", "fps": str(spec.fps),
            "size": list(spec.size), "duration": n_frames / fps, "shutter": spec.shutter, "codec": spec.codec,
            "noise": spec.noise, "flicker": spec.flicker, "camera": spec.move, "hit_speed": HIT, "band_speed": BAND,
            "impacts": hits, "band": band}


def _render(args: tuple[int, str, Optional[str], bool]) -> str:
    index, out, family, overwrite = args
    spec = make_spec(index, family)
    if not overwrite and finished(spec, Path(out)):
        return f"{spec.name}: kept (rendered before)"
    try:
        truth = render_clip(spec, Path(out), overwrite)
    except CorpusError as exc:
        return f"error: {exc}"
    return f"{spec.name}: {len(truth['impacts'])} impacts, {len(truth['band'])} in the band"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--first", type=int, default=0, help="index of the first clip (seed 30000 + index)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--family", choices=FAMILIES, default=None, help="render every clip as this family")
    parser.add_argument("--overwrite", action="store_true",
                        help="render clips that are already there again (else they are kept, so a cut-short run "
                             "resumes where it stopped)")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 10000 or args.first < 0 or not 1 <= args.jobs <= 64:
        parser.error(f"--count {args.count}, --first {args.first}, --jobs {args.jobs}: give 1..10000 clips from "
                     "index 0 on, with 1..64 jobs")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"{args.out} is a file: give a folder for the clips")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        # A file where the folder or one above it should be: say so, not a traceback.
        parser.error(f"{args.out}: cannot make the folder for the clips ({e.strerror}): give a folder")
    todo = [(i, str(args.out), args.family, args.overwrite) for i in range(args.first, args.first + args.count)]
    failed = 0
    with ProcessPoolExecutor(min(args.jobs, len(todo))) as pool:
        for line in pool.map(_render, todo):
            failed += line.startswith("error:")
            print(line, file=sys.stderr if line.startswith("error:") else sys.stdout, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
