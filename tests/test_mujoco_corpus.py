"""The second, independent test corpus: MuJoCo worlds filmed by MuJoCo's own renderer
(bench/mujoco_corpus.py). Its truth must be the physics: the approach speed before the
contact acts, projected where the camera sees it."""

from __future__ import annotations

import json
import math
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import mujoco_corpus as mc  # noqa: E402

BALL = """<mujoco><option timestep="0.001"/><worldbody>
<geom type="plane" size="2 2 0.1"/>
<body pos="0 0 {z}"><freejoint/><geom type="sphere" size="0.05" solref="0.005 0.2"/></body>
<body pos="0.5 0 0.0505"><freejoint/><geom type="box" size="0.05 0.05 0.05"/></body>
</worldbody></mujoco>"""


def _simulate(xml: str, seconds: float) -> list:
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    seen = []
    while data.time < seconds:
        mujoco.mj_step1(model, data)
        seen += mc._approaching(model, data, mujoco)
        mujoco.mj_step2(model, data)
    return seen


def test_the_truth_is_the_approach_speed_before_the_contact_acts() -> None:
    # A ball falls 0.45 m onto the floor: it arrives at sqrt(2 g h), after sqrt(2 h / g). Read after
    # the contact impulse instead, the speed would be a fraction of that (the bounce) or nothing.
    contacts = _simulate(BALL.format(z=0.5), 0.6)
    # The box placed half a millimetre above the floor settles onto it at once (the corpus counts
    # the first 0.2 s neither way); after that it never approaches the floor.
    events = [e for e in mc._merge(contacts) if e.time > 0.05]
    first = events[0]
    assert first.time == pytest.approx(math.sqrt(2 * 0.45 / 9.81), abs=0.003)
    assert first.speed == pytest.approx(math.sqrt(2 * 9.81 * 0.45), rel=0.03)
    assert abs(first.normal[2]) == pytest.approx(1.0, abs=1e-6)
    # The ball's bounce is a second, slower event.
    assert {e.bodies for e in events} == {first.bodies}
    assert len(events) >= 2 and events[1].speed < first.speed


def test_the_projection_puts_what_the_camera_looks_at_in_the_middle() -> None:
    model = mujoco.MjModel.from_xml_string(BALL.format(z=0.5))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:], cam.distance, cam.azimuth, cam.elevation = [0.1, 0.2, 0.3], 2.0, 90.0, -20.0
    scene = mujoco.MjvScene(model, maxgeom=100)
    mujoco.mjv_updateScene(model, data, mujoco.MjvOption(), None, cam, mujoco.mjtCatBit.mjCAT_ALL, scene)
    view = mc.Projector.of(scene, 16 / 9)
    centre = np.array([0.1, 0.2, 0.3])
    assert view(centre) == pytest.approx((0.5, 0.5), abs=1e-4)
    # Azimuth 90 looks along +y: +x is to the right, +z is up (smaller y in the picture).
    # 10 cm to the right, at 2 m through MuJoCo's default 45 degree vertical field of view, 16:9.
    x, y = view(centre + [0.1, 0, 0])
    assert x - 0.5 == pytest.approx(0.1 / (2 * 2.0 * math.tan(math.radians(22.5)) * 16 / 9), rel=0.01)
    assert y == pytest.approx(0.5, abs=1e-4)
    x, y = view(centre + [0, 0, 0.1])
    assert y < 0.45 and x == pytest.approx(0.5, abs=1e-4)


def _spec(name: str = "mujoco_9999_drop") -> mc.ClipSpec:
    return mc.ClipSpec(name=name, family="drop", seed=31234, fps=Fraction(25), size=(192, 108), duration=3.0,
                       shutter=0.0, codec="h264", crf=18, noise=0.0, flicker=0.0, move="still")


def test_a_rendered_clip_shows_each_impact_where_and_when_the_truth_says(tmp_path: Path) -> None:
    import av

    truth = mc.render_clip(_spec(), tmp_path)
    video = tmp_path / "mujoco_9999_drop.mp4"
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="gray").astype(float) for f in container.decode(video=0)]
    assert len(frames) == 75 and frames[0].shape == (108, 192)
    saved = json.loads((tmp_path / "mujoco_9999_drop.truth.json").read_text())
    assert saved["impacts"] == truth["impacts"] and truth["impacts"], truth
    times = [float(t) for t in (tmp_path / "mujoco_9999_drop.times.csv").read_text().split()]
    assert times == [i["time"] for i in truth["impacts"]]
    for hit in truth["impacts"][:1]:
        assert hit["speed"] >= mc.HIT and 0.2 <= hit["time"] < 3.0
        # At the impact the object is at the contact point; at the start (held higher up) it was not.
        k = int(hit["time"] * 25)
        x, y = int(hit["x"] * 192), int(hit["y"] * 108)
        patch = (slice(max(0, y - 6), y + 6), slice(max(0, x - 6), x + 6))
        assert np.abs(frames[k][patch] - frames[0][patch]).max() > 20


def test_a_clip_already_there_is_not_rendered_again(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = _spec()
    (tmp_path / f"{spec.name}.mp4").write_bytes(b"keep me")
    with pytest.raises(mc.CorpusError, match="exists: pass --overwrite"):
        mc.render_clip(spec, tmp_path)
    assert (tmp_path / f"{spec.name}.mp4").read_bytes() == b"keep me"
    assert not list(tmp_path.glob("*.truth.json"))


@pytest.mark.parametrize("args, says", [
    (["--count", "0"], "--count 0"),
    (["--jobs", "0"], "--jobs 0"),
    (["--family", "nope"], "invalid choice"),
])
def test_bad_arguments_are_refused_by_name(tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str],
                                           says: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        mc.main([str(tmp_path / "out"), *args])
    assert exit_.value.code == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_file_where_the_folder_should_be_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "clips"
    out.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_:
        mc.main([str(out), "--count", "1"])
    assert exit_.value.code == 2 and "is a file" in capsys.readouterr().err
    assert out.read_text() == "not a folder"


def test_a_run_cut_short_resumes_where_it_stopped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # A clip with its truth is kept and the run goes on (exit 0); a video without its truth (a
    # render killed between the two) is not taken for a clip: it is named, and the run fails.
    done, cut = mc.make_spec(0), mc.make_spec(1)
    ext = {s.name: ".mov" if s.codec == "prores" else ".mp4" for s in (done, cut)}
    (tmp_path / f"{done.name}{ext[done.name]}").write_bytes(b"keep me")
    (tmp_path / f"{done.name}.truth.json").write_text("{}")
    (tmp_path / f"{cut.name}{ext[cut.name]}").write_bytes(b"half")
    assert mc.finished(done, tmp_path) and not mc.finished(cut, tmp_path)
    assert mc.main([str(tmp_path), "--count", "2", "--jobs", "1"]) == 1
    out, err = capsys.readouterr()
    assert f"{done.name}: kept" in out and f"{cut.name}{ext[cut.name]} exists" in err
    assert (tmp_path / f"{done.name}{ext[done.name]}").read_bytes() == b"keep me"
    assert (tmp_path / f"{cut.name}{ext[cut.name]}").read_bytes() == b"half"
