"""How well the physics detector's motion measurement follows moving objects, by speed.

The networks can only learn an impact from the motion the flow measures, so a flow that
loses an object before it lands hides the impact (or shows a false one where it lost
it). This films worlds of the physics corpus (``physics_corpus.py``, its own worlds,
cameras, blur and noise; no encoding) and, for every dynamic object that holds whole
blocks, compares the motion the detector's flow measures in the trusted blocks lying wholly
on it between two frames with the true motion of the material there (the engine's body
poses through the clip's camera), in analysis pixels. Per band of true speed it prints the
object-pairs, the share with no trusted block on the object (flat colour has nothing to
follow), the median error, and the share the flow lost (an error over a third of the speed
and over 2 pixels)::

    python bench/flow_tracking.py [--clips 24] [--first 3000] [--family drop close strike]

Seeds are the corpus's ``val`` split from ``--first`` on; the default lies beyond every
named set of ``corpus_sets.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import physics_corpus as pc  # noqa: E402

# True speeds (analysis pixels a frame) the figures are broken down by.
BANDS = (0.0, 2.0, 4.0, 8.0, 16.0, 24.0, 32.0, float("inf"))
# Objects narrower than this (analysis pixels) hold no whole block.
MIN_SIZE = 24.0


class RecordingPainter(pc.Painter):
    """Draws as the corpus does and notes, at every tap of the shutter, the camera's map from
    the world to the screen and each dynamic object's pose, outline and size."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.taps: list[tuple[np.ndarray, dict[int, tuple]]] = []

    def draw(self, world, cam) -> np.ndarray:
        to_screen, _ = self.transform(cam)
        # The camera is affine: its matrix and offset from three points.
        o, ex, ey = to_screen(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
        affine = np.array([[ex[0] - o[0], ey[0] - o[0], o[0]], [ex[1] - o[1], ey[1] - o[1], o[1]]])
        ppm = cam[2] * self.size[0] / pc.VIEW
        seen = {}
        for i, (shape, _vis) in enumerate(world.drawn):
            body = shape.body
            if body.body_type != body.DYNAMIC:
                continue
            if hasattr(shape, "get_vertices"):
                local = np.array([tuple(v) for v in shape.get_vertices()])
            else:
                ang = np.linspace(0, 2 * np.pi, 28, endpoint=False)
                local = np.stack([shape.radius * np.cos(ang), shape.radius * np.sin(ang)], axis=1)
            # Its narrower side in its own frame: a stick held at 45 degrees is still thin.
            size = float((local.max(axis=0) - local.min(axis=0)).min()) * ppm
            outline = to_screen(np.array([tuple(body.local_to_world(tuple(v))) for v in local]))
            seen[i] = (np.array(tuple(body.position)), float(body.angle), size, outline)
        self.taps.append((affine, seen))
        return super().draw(world, cam)


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def track_clip(spec: pc.ClipSpec, out_dir: Path) -> list[tuple[float, float, bool]]:
    """(true speed, error, measured) in analysis pixels for every object and frame pair of
    one clip: the object's true motion at its centre, and the median error of the flow's
    trusted blocks lying wholly on it (measured False: it has none, a flat-coloured object
    has no texture inside to follow)."""
    import cv2

    from syncfoley.engine.detect.flow_field import FlowConfig, FlowMatcher
    from syncfoley.engine.media import video

    painters: list[RecordingPainter] = []

    class Painter(RecordingPainter):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            painters.append(self)

    pairs: list[tuple[float, float, bool]] = []

    def measure(path, frames, fps, codec="h264") -> None:
        Path(path).touch()  # the generator renames what it wrote into place
        cfg = FlowConfig()
        scale = cfg.width / spec.size[0]
        shape = (int(round(spec.size[1] * scale)), cfg.width)
        matcher = FlowMatcher(shape, cfg)
        b = cfg.block
        centres = (np.stack(np.mgrid[0:matcher.rows, 0:matcher.cols], axis=-1)[..., ::-1] * b + b / 2) / scale
        painter = painters[-1]
        prev = before = None
        for frame in frames:
            taps, painter.taps = painter.taps, []
            grey = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (shape[1], shape[0]),
                              interpolation=cv2.INTER_AREA)
            # The middle tap of the shutter stands for the frame (blur spreads an object around it).
            now = taps[len(taps) // 2] if taps else None
            if prev is not None and before is not None and now is not None:
                field = matcher.field(prev, grey)
                got = field.vectors + field.camera  # (dy, dx)
                affine0, objs0 = before
                affine1, objs1 = now
                inverse0 = np.linalg.inv(affine0[:, :2])
                for i, (pos0, ang0, size, outline) in objs0.items():
                    if i not in objs1 or size * scale < MIN_SIZE:
                        continue
                    pos1, ang1 = objs1[i][0], objs1[i][1]
                    # Blocks lying wholly on the object: centre at least half a block's diagonal inside.
                    poly = outline.astype(np.float32).reshape(-1, 1, 2)
                    inside = [(r, c) for r in range(matcher.rows) for c in range(matcher.cols)
                              if cv2.pointPolygonTest(poly, (float(centres[r, c, 0]), float(centres[r, c, 1])), True)
                              >= 0.75 * b / scale]
                    if not inside:
                        continue
                    # Where the material at each block centre, and at the outline's centre, is a frame
                    # later: screen -> world -> the body's own frame -> its next pose -> the next screen.
                    pts = np.array([centres[r, c] for r, c in inside] + [outline.mean(axis=0)])
                    world = (inverse0 @ (pts - affine0[:, 2]).T).T
                    local = (_rotation(-ang0) @ (world - pos0).T).T
                    moved = (affine1[:, :2] @ (pos1 + (_rotation(ang1) @ local.T).T).T).T + affine1[:, 2]
                    true = (moved - pts)[:, ::-1] * scale  # (dy, dx) in analysis pixels
                    speed = float(np.hypot(*true[-1]))
                    trusted = [j for j, (r, c) in enumerate(inside) if field.valid[r, c]]
                    if not trusted:
                        pairs.append((speed, float("nan"), False))
                        continue
                    errors = [float(np.hypot(*(got[inside[j]] - true[j]))) for j in trusted]
                    pairs.append((speed, float(np.median(errors)), True))
            prev, before = grey, now

    saved_painter, saved_write = pc.Painter, video.write_video
    pc.Painter, video.write_video = Painter, measure  # type: ignore[misc, assignment]
    try:
        pc.render_clip(spec, out_dir, overwrite=True)
    finally:
        pc.Painter, video.write_video = saved_painter, saved_write  # type: ignore[misc]
    return pairs


def report(pairs: list[tuple[float, float, bool]]) -> None:
    speed = np.array([p[0] for p in pairs])
    error = np.array([p[1] for p in pairs])
    measured = np.array([p[2] for p in pairs])
    lost = measured & (error > np.maximum(2.0, speed / 3.0))
    print(f"{'true speed (px/frame)':<24}{'pairs':>7}{'untrusted':>11}{'median error':>14}{'lost':>7}")
    for lo, hi in zip(BANDS[:-1], BANDS[1:]):
        m = (speed >= lo) & (speed < hi)
        if not m.any():
            continue
        band = f"{lo:.0f}+" if hi == float("inf") else f"{lo:.0f}-{hi:.0f}"
        seen = m & measured
        med = float(np.median(error[seen])) if seen.any() else float("nan")
        share = float(lost[seen].sum() / seen.sum()) if seen.any() else float("nan")
        print(f"{band:<24}{int(m.sum()):>7}{1 - seen.sum() / m.sum():>11.2f}{med:>14.2f}{share:>7.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--first", type=int, default=3000, help="first index of the val split's seeds")
    parser.add_argument("--family", nargs="+", default=["drop", "close", "strike"], choices=pc.FAMILIES)
    args = parser.parse_args(argv)
    if args.clips < 1 or args.first < 0 or args.first + args.clips > pc.SPLIT_SPAN:
        parser.error(f"--first {args.first} --clips {args.clips}: give 1 or more clips from index 0 on, within the "
                     f"val split's {pc.SPLIT_SPAN} seeds")
    pairs: list[tuple[float, float, bool]] = []
    with tempfile.TemporaryDirectory(prefix="syncfoley-flow-") as tmp:
        for n in range(args.clips):
            spec = pc.make_spec("val", args.first + n, args.family[n % len(args.family)])
            pairs += track_clip(spec, Path(tmp))
    if not pairs:
        print("no object large enough to hold a block was filmed", file=sys.stderr)
        return 1
    print(f"{args.clips} clips ({', '.join(args.family)}), val seeds from {args.first}")
    report(pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
