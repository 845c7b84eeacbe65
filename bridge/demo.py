"""``syncfoley demo``: a generated cut with known impacts, to try ``syncfoley conform`` without footage.

Source clips with embedded start timecode and a CMX 3600 EDL; conform's tests and
benchmarks use the same cuts, and score the stem against :meth:`DemoCut.truth`.
Each source is a synthetic scene (a stick striking a block at irregular times,
exact by construction) written as a small H.264 MOV whose start timecode is
embedded, like camera media. The EDL cuts ``events`` windows out of the sources
back to back from ``record_start``; :attr:`DemoCut.truth` holds every impact
that lands on picture, in seconds from the record start, so the stem can be
scored with SyncFusion's protocol.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from syncfoley.adapters import edl
from syncfoley.engine.demo.scenes import Mover, Scene, Striker
from syncfoley.engine.types import Onset, OnsetTrack

START_TCS = ("19:11:54:10", "01:00:00:00", "07:30:12:05", "10:00:00:00", "02:13:41:20", "14:02:03:04")


@dataclass(frozen=True)
class DemoSource:
    name: str
    path: Path
    start: int  # embedded start timecode, frames
    seconds: float
    impacts: tuple[float, ...]  # seconds from the first frame


@dataclass(frozen=True)
class DemoEvent:
    number: int
    source: str
    source_in: int  # timecode-absolute frames
    record_in: int
    frames: int

    @property
    def source_out(self) -> int:
        return self.source_in + self.frames

    @property
    def record_out(self) -> int:
        return self.record_in + self.frames


@dataclass(frozen=True)
class DemoCut:
    folder: Path
    rate: Fraction
    drop: bool
    sources: tuple[DemoSource, ...]
    events: tuple[DemoEvent, ...]

    @property
    def fps(self) -> int:
        return round(self.rate)

    @property
    def record_start(self) -> int:
        return min(e.record_in for e in self.events)

    def truth(self, events: Sequence[DemoEvent] | None = None) -> list[float]:
        """Impacts on picture: seconds from the record start."""
        by_name = {s.name: s for s in self.sources}
        out = []
        for ev in events if events is not None else self.events:
            src = by_name[ev.source]
            for t in src.impacts:
                rec = ev.record_in + (src.start + t * float(self.rate) - ev.source_in)
                if ev.record_in <= rec < ev.record_out:
                    out.append((rec - self.record_start) / float(self.rate))
        return sorted(out)

    def truth_track(self, events: Sequence[DemoEvent] | None = None) -> OnsetTrack:
        """:meth:`truth` as the onset track a stem is scored against (``api.evaluate``)."""
        times = self.truth(events)
        return OnsetTrack(source="truth", duration=max(times) + 1, fps=float(self.rate), detector="truth",
                          onsets=tuple(Onset(t) for t in times))

    def edl_text(self, events: Sequence[DemoEvent] | None = None, title: str = "demo cut") -> str:
        fps = self.fps
        lines = [f"TITLE: {title}", f"FCM: {'DROP FRAME' if self.drop else 'NON-DROP FRAME'}", ""]
        for ev in events if events is not None else self.events:
            tcs = " ".join(edl.frames_to_tc(f, fps, self.drop)
                           for f in (ev.source_in, ev.source_out, ev.record_in, ev.record_out))
            lines.append(f"{ev.number:03d}  {ev.source:<8} V     C        {tcs}")
            lines.append(f"* FROM CLIP NAME:  {ev.source}.mov")
        return "\n".join(lines) + "\n"

    def write_edl(self, path: str | Path, events: Sequence[DemoEvent] | None = None) -> Path:
        Path(path).write_text(self.edl_text(events), encoding="ascii")
        return Path(path)

    def moved(self, index: int, frames: int) -> tuple[DemoEvent, ...]:
        """The events with one event's source window slipped by ``frames`` (a re-cut of one shot)."""
        evs = list(self.events)
        evs[index] = dataclasses.replace(evs[index], source_in=evs[index].source_in + frames)
        return tuple(evs)


def _scene(rng: random.Random, seconds: float, fps: Fraction, size: tuple[int, int]) -> Scene:
    w, h = size
    s = w / 640
    hits, t = [], 0.5 + rng.random() * 0.4
    while t < seconds - 0.3:
        hits.append(round(t, 4))
        t += rng.uniform(0.5, 1.0)
    return Scene(
        width=w, height=h, fps=fps, duration=seconds, noise=1.5, blur_samples=1, seed=rng.randrange(1 << 30),
        objects=(
            Striker(x=300 * s, contact_y=230 * h / 360, hits=tuple(hits), lift=80 * s, length=100 * s, width=12 * s),
            Mover(x=520 * s, y=120 * h / 360, sway=60 * s, period=2.3, radius=22 * s),
        ),
    )


def make(folder: str | Path, rate: str = "25", events: int = 50, sources: int = 3, source_seconds: float = 30.0,
         seed: int = 0, size: tuple[int, int] = (320, 180), record_start: str = "01:00:00:00") -> DemoCut:
    """Write ``sources`` clips into ``folder`` and plan ``events`` cuts of 1.5-3.5 s between them."""
    from syncfoley.engine.media.video import write_video

    fr = edl.RATES[rate]
    drop = rate in ("29.97", "59.94")
    fps = round(fr)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    made = []
    for k in range(sources):
        name = f"SRC_{chr(65 + k)}"
        scene = _scene(rng, source_seconds, fr, size)
        tc = START_TCS[k % len(START_TCS)]
        if drop:
            tc = tc[:8] + ";" + tc[9:]
        path = folder / f"{name}.mov"
        write_video(path, scene.frames(), fr, timecode=tc)
        made.append(DemoSource(name, path, edl.tc_to_frames(tc, fps, drop), source_seconds, tuple(scene.impacts())))
    margin = fps  # a second of handle room at both ends of every source
    at = edl.tc_to_frames(record_start, fps, drop)
    evs = []
    for n in range(1, events + 1):
        src = made[rng.randrange(len(made))]
        frames = int(rng.uniform(1.5, 3.5) * float(fr))
        total = int(src.seconds * float(fr))
        offset = rng.randrange(margin, total - margin - frames)
        evs.append(DemoEvent(n, src.name, src.start + offset, at, frames))
        at += frames
    return DemoCut(folder, fr, drop, tuple(made), tuple(evs))


@dataclass(frozen=True)
class DemoFiles:
    """What :func:`write_demo` wrote."""

    cut: DemoCut
    edl: Path
    media: Path
    truth: Path


def write_demo(outdir: str | Path, rate: str, events: int, seed: int, overwrite: bool) -> DemoFiles:
    """Write a demo cut into ``outdir``: ``media/`` (the source clips), ``cut.edl`` and
    ``truth.onsets.json`` (every impact on picture, seconds from the record start), so that
    ``syncfoley conform OUTDIR/cut.edl --media-root OUTDIR/media -o OUTDIR/foley`` runs at once.
    The settings are checked by :class:`~syncfoley.bridge.requests.DemoRequest`, which defines them."""
    from syncfoley.adapters import onsets_json
    from syncfoley.core.atomic import atomic_path, check_writable
    from syncfoley.core.errors import RequestError

    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise RequestError(f"output folder {out} is a file; give a folder (it is created if missing)")
    sources = max(1, min(3, events))
    names = [out / "cut.edl", out / "truth.onsets.json"] + \
        [out / "media" / f"SRC_{chr(65 + k)}.mov" for k in range(sources)]
    check_writable(names, overwrite)
    cut = make(out / "media", rate=rate, events=events, sources=sources, source_seconds=20.0, seed=seed)
    with atomic_path(names[0], overwrite=overwrite) as tmp:
        cut.write_edl(tmp)
    onsets_json.write(cut.truth_track(), names[1], overwrite)
    return DemoFiles(cut, names[0], out / "media", names[1])
