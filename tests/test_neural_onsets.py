"""SyncFusion's onset network: exact architecture, strict loading, stitching, training."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch  # noqa: E402  (the 'neural' extra; a missing torch must fail here, not skip)
from conftest import EXAMPLE, run_cli  # noqa: E402

from syncfoley.bridge import api  # noqa: E402
from syncfoley.core.errors import CheckpointError, FormatError, MediaError  # noqa: E402
from syncfoley.engine.demo.scenes import demo_scene  # noqa: E402
from syncfoley.engine.detect import onset_checkpoint  # noqa: E402
from syncfoley.engine.detect.neural import Stitcher, resample_frames  # noqa: E402
from syncfoley.engine.detect.onset_checkpoint import load_onset_model, save_onset_checkpoint  # noqa: E402
from syncfoley.engine.detect.onset_net import CONFIGS, OnsetModule, VideoOnsetNet  # noqa: E402
from syncfoley.engine.detect.onset_training import TrainConfig, find_examples, read_times  # noqa: E402
from syncfoley.engine.media.video import write_video  # noqa: E402
from syncfoley.engine.types import TimeRange  # noqa: E402

# A copy of shared/syncfusion/onset_checkpoint_keys.json: the released checkpoint's keys and shapes.
KEYS = Path(__file__).resolve().parent / "data" / "onset_checkpoint_keys.json"
RELEASED = json.loads(KEYS.read_text())


def released_checkpoint(path: Path, drop: str = "", reshape: str = "", extra: str = "") -> Path:
    """A file shaped like SyncFusion's release: Lightning fields, random weights with
    exactly the published keys and shapes (optionally one key dropped, reshaped or added)."""
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in RELEASED.items():
        if key == drop:
            continue
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.05
        if key == reshape:
            state[key] = torch.zeros([s + 1 for s in shape])
    if extra:
        state[extra] = torch.zeros(3)
    payload = {
        "epoch": 41, "global_step": 12345, "pytorch-lightning_version": "2.0.9",
        "state_dict": state, "loops": {}, "callbacks": {}, "optimizer_states": [], "lr_schedulers": [],
        "hyper_parameters": {"lr": 1e-4, "lr_beta1": 0.95},
    }
    torch.save(payload, path)
    return path


def test_network_has_exactly_the_released_keys_and_shapes() -> None:
    state = OnsetModule(CONFIGS["syncfusion"]).state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == RELEASED
    assert len(state) == 226


def test_strict_load_of_a_released_checkpoint(tmp_path: Path) -> None:
    path = released_checkpoint(tmp_path / "onset.ckpt")
    net = load_onset_model(path, "cpu")
    saved = torch.load(path, weights_only=True)["state_dict"]
    for key in ("net.model.stem.0.weight", "net.model.layer4.0.conv1.0.3.weight", "fc.2.bias"):
        assert torch.equal(net.state_dict()[key], saved["model." + key]), key
    assert not net.training
    with torch.inference_mode():
        out = net(torch.randn(2, 3, 30, 112, 112))
    assert out.shape == (2, 30), "one logit per frame: the time axis is never strided"


@pytest.mark.parametrize(
    "change, named",
    [
        ({"drop": "model.net.model.layer3.0.conv1.0.3.weight"},
         "'model.net.model.layer3.0.conv1.0.3.weight' (shape [256, 460, 3, 1, 1]) is missing"),
        ({"reshape": "model.fc.0.weight"}, "'model.fc.0.weight' has shape [129, 513], the network needs [128, 512]"),
        ({"extra": "model.fc.3.weight"}, "unexpected key 'model.fc.3.weight'"),
    ],
)
def test_a_checkpoint_that_does_not_fit_is_refused_naming_the_key(tmp_path: Path, change: dict[str, str], named: str) -> None:
    path = released_checkpoint(tmp_path / "bad.ckpt", **change)
    with pytest.raises(CheckpointError) as err:
        load_onset_model(path)
    assert named in str(err.value)


def test_files_that_are_not_safe_checkpoints_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="weights_only"):
        load_onset_model(junk)
    # Code in a pickle is exactly what weights_only=True exists to refuse.
    code = tmp_path / "code.ckpt"
    torch.save({"state_dict": {}, "hook": Fraction(1, 3)}, code)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_onset_model(code)


def test_checkpoint_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.ckpt", tmp_path / "b.ckpt"
    a.write_bytes(b"x")
    b.write_bytes(b"x")
    monkeypatch.delenv(onset_checkpoint.ENV_VAR, raising=False)
    assert onset_checkpoint.resolve_checkpoint(None) is None
    monkeypatch.setenv(onset_checkpoint.ENV_VAR, str(b))
    assert onset_checkpoint.resolve_checkpoint(None) == b
    assert onset_checkpoint.resolve_checkpoint(a) == a, "an explicit path wins over the environment"
    with pytest.raises(CheckpointError, match="not there"):
        onset_checkpoint.resolve_checkpoint(tmp_path / "typo.ckpt")


def test_neural_detector_without_a_checkpoint_says_how_to_get_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != onset_checkpoint.ENV_VAR}
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "syncfoley.bridge.cli", "detect", str(EXAMPLE), "--detector", "neural",
         "-o", str(tmp_path / "x.json")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 2
    assert "--checkpoint" in proc.stderr and onset_checkpoint.ENV_VAR in proc.stderr
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("frames", [1, 17, 30, 31, 44, 45, 46, 100, 151])
def test_overlapping_clips_cover_every_frame_once_stitched(frames: int) -> None:
    """Feed frame indices through the stitcher with an identity 'network': every
    frame must come back as itself, whatever the length."""
    stitch = Stitcher(window=30, hop=15)
    clips = []
    for i in range(frames):
        clips += stitch.push(np.full(1, i))
    clips += stitch.finish()
    for start, clip in clips:
        assert list(clip[:, 0]) == [min(i, frames - 1) for i in range(start, start + 30)]
        stitch.add(start, np.arange(start, start + 30, dtype=float))
    np.testing.assert_allclose(stitch.logits(), np.arange(frames))
    assert len(stitch.frames) <= 30, "memory is one clip, not the file"


def test_resampling_to_15_fps_shows_the_frame_on_screen() -> None:
    source = [(i / 25, np.full(1, i)) for i in range(50)]  # 2 s at 25 fps
    out = list(resample_frames(iter(source), TimeRange(0.0, 2.0), 15.0))
    assert len(out) == 30
    for t, img in out:
        assert int(img[0]) == int(np.floor(t * 25 + 1e-6)), t


class Brightness(torch.nn.Module):
    """Stands in for a trained network. SyncFusion labels frame k when the onset
    falls in [k/15, (k+1)/15), so its consequence shows from frame k+1 on: the
    logit of a frame is the brightness of the next one (the clip's last repeats)."""

    def __init__(self) -> None:
        super().__init__()
        self.cfg = CONFIGS["tiny"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = 4.0 * x.float().mean(dim=(1, 3, 4))
        return torch.cat([m[:, 1:], m[:, -1:]], dim=1)

    def half(self) -> "Brightness":
        return self


def test_neural_onsets_land_where_the_network_fires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flashes at known times in a 25 fps file: the whole path (decode, 15 fps
    resampling, overlapping clips, stitching, peak picking, timing) must put each
    onset within one network frame (1/15 s) of its flash."""
    flashes = [0.52, 1.3, 2.02, 2.9, 3.7, 4.66, 5.5]
    levels = [1.0, 0.6, 0.3]

    def frames():  # type: ignore[no-untyped-def]
        for i in range(int(6.0 * 25)):
            t = i / 25
            v = 0.0
            for f in flashes:
                k = int(np.floor((t - f) * 25 + 1e-9))
                if 0 <= k < len(levels):
                    v = levels[k]
            yield np.full((72, 128, 3), int(20 + 200 * v), dtype=np.uint8)

    path = tmp_path / "flashes.mp4"
    write_video(path, frames(), Fraction(25))
    ckpt = tmp_path / "stand-in.ckpt"
    ckpt.write_bytes(b"-")
    monkeypatch.setattr(onset_checkpoint, "load_onset_model", lambda p, device="cpu": Brightness())
    track = api.detect(path, detector="neural", checkpoint=ckpt, device="cpu")
    assert track.detector == "neural"
    found = track.times()
    assert len(found) == len(flashes), found
    for f, t in zip(flashes, found):
        assert abs(t - f) <= 1 / 15 + 1e-6, (f, t)
    assert len(track.curve.values) == 90  # 6 s at 15 fps


def test_greatest_hits_annotations(tmp_path: Path) -> None:
    times = tmp_path / "2015-02-16-16-49-06.times.csv"
    times.write_text("time,labels\n1.5,wood hit static\n0.25,metal scratch dynamic\n")
    assert read_times(times) == (0.25, 1.5)
    with pytest.raises(MediaError, match="no video beside it"):
        find_examples(tmp_path)
    (tmp_path / "2015-02-16-16-49-06_denoised.mp4").write_bytes(b"")
    assert find_examples(tmp_path)[0].video.name == "2015-02-16-16-49-06_denoised.mp4"
    times.write_text("0.5,hit\nsoon,hit\n")
    with pytest.raises(FormatError, match=r":2: 'soon'"):
        read_times(times)


@pytest.fixture(scope="module")
def annotated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four short annotated clips in the Greatest Hits layout."""
    root = tmp_path_factory.mktemp("greatest-hits")
    for i in range(4):
        scene = demo_scene(seed=i, fps=Fraction(15), duration=4.0)
        write_video(root / f"clip{i}.mp4", scene.frames(), scene.fps)
        (root / f"clip{i}.times.csv").write_text("".join(f"{t:.4f},wood hit static\n" for t in scene.impacts()))
    return root


def test_training_lowers_the_loss_and_writes_a_checkpoint_the_detector_reads(annotated: Path, tmp_path: Path) -> None:
    out = tmp_path / "onset.ckpt"
    result = api.train_onset(
        annotated, out, TrainConfig(net="tiny", epochs=8, steps=16, batch_size=4, lr=1e-3, val_fraction=0.25)
    )
    assert result.steps == 16 and result.train_videos == 3 and result.val_videos == 1
    first, last = np.mean(result.losses[:4]), np.mean(result.losses[-4:])
    assert last < first, result.losses
    assert result.val_losses[-1] < result.val_losses[0], f"held-out loss did not fall: {result.val_losses}"
    # The checkpoint is in the released layout and loads strictly.
    payload = torch.load(out, weights_only=True)
    assert all(k.startswith("model.") for k in payload["state_dict"])
    assert payload["syncfoley"]["config"]["widths"] == [8, 16, 32, 64]
    proc = run_cli("detect", str(EXAMPLE), "--detector", "neural", "--checkpoint", str(out), "--device", "cpu",
                   "-o", str(tmp_path / "n.json"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "n.json").read_text())
    assert data["detector"] == "neural"


def test_auto_uses_the_network_when_a_checkpoint_is_configured(tmp_path: Path) -> None:
    ckpt = tmp_path / "tiny.ckpt"
    torch.manual_seed(0)
    save_onset_checkpoint(VideoOnsetNet(CONFIGS["tiny"]), ckpt)
    env = {**os.environ, onset_checkpoint.ENV_VAR: str(ckpt)}
    import subprocess
    import sys

    out = tmp_path / "auto.json"
    proc = subprocess.run(
        [sys.executable, "-m", "syncfoley.bridge.cli", "detect", str(EXAMPLE), "-o", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["detector"] == "neural" and data["detector_requested"] == "auto"


def test_train_onset_cli_refuses_bad_settings(tmp_path: Path, annotated: Path) -> None:
    proc = run_cli("train-onset", str(annotated), "-o", str(tmp_path / "x.ckpt"), "--net", "huge")
    assert proc.returncode == 2 and "'syncfusion' or 'tiny'" in proc.stderr
    proc = run_cli("train-onset", str(tmp_path / "none"), "-o", str(tmp_path / "x.ckpt"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    proc = run_cli("train-onset", str(annotated), "-o", str(tmp_path / "x.ckpt"), "--batch-size", "0")
    assert proc.returncode == 2 and "batch-size must be at least 1" in proc.stderr


def test_the_default_threshold_is_the_published_codes() -> None:
    # SyncFusion's code picks peaks at 0.75 (its paper says 0.5): its figures came from the code.
    from syncfoley.engine.detect.neural import NeuralDetectorConfig

    assert NeuralDetectorConfig().threshold == 0.75
