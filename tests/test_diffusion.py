"""SyncFusion's diffusion model: exact keys, strict loading, the library's maths, seamless long renders."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch  # noqa: E402  (the 'neural' extra: a missing torch must fail here, not skip)
from conftest import run_cli  # noqa: E402

from syncfoley.bridge import api  # noqa: E402
from syncfoley.core.errors import (  # noqa: E402
    CheckpointError,
    DependencyError,
    MediaError,
    RequestError,
)
from syncfoley.engine.generate import diffusion as dif  # noqa: E402
from syncfoley.engine.generate.clap import save_embedding  # noqa: E402
from syncfoley.engine.generate.diffusion_net import CONFIGS, SyncFusionDiffusion  # noqa: E402
from syncfoley.engine.generate.diffusion_sampler import sample  # noqa: E402
from syncfoley.engine.generate.diffusion_windows import stitch  # noqa: E402
from syncfoley.engine.types import Onset, OnsetTrack, Region, TimeRange  # noqa: E402

# A copy of shared/syncfusion/diffusion_checkpoint_keys.json: model.* and onsets_encoder.* of the release.
RELEASED = json.loads((Path(__file__).resolve().parent / "data" / "diffusion_checkpoint_keys.json").read_text())
SR = 48000


def _reference_libraries():  # type: ignore[no-untyped-def]
    """audio-diffusion-pytorch 0.1.3 and audio-encoders-pytorch 0.0.22, the published model's code.

    They import torchaudio at import time for spectrogram helpers this model never
    uses; where torchaudio cannot load beside this torch build, a placeholder stands
    in for it, for these imports only.
    """
    try:
        import torchaudio  # noqa: F401
    except (ImportError, OSError):
        sys.modules["torchaudio"] = types.SimpleNamespace(transforms=types.SimpleNamespace())  # type: ignore
    from audio_diffusion_pytorch import DiffusionModel, UNetV0, VDiffusion, VSampler
    from audio_encoders_pytorch import Encoder1d

    return DiffusionModel, UNetV0, VDiffusion, VSampler, Encoder1d


def _library_model(cfg):  # type: ignore[no-untyped-def]
    DiffusionModel, UNetV0, VDiffusion, VSampler, Encoder1d = _reference_libraries()
    model = DiffusionModel(
        net_t=UNetV0, in_channels=1, channels=list(cfg.channels), factors=list(cfg.factors), items=list(cfg.items),
        attentions=list(cfg.attentions), attention_heads=cfg.attention_heads,
        attention_features=cfg.attention_features, context_channels=list(cfg.context_channels),
        diffusion_t=VDiffusion, sampler_t=VSampler, use_embedding_cfg=True, embedding_max_length=1,
        embedding_features=512, cross_attentions=list(cfg.cross_attentions),
        modulation_features=cfg.modulation_features,
    )
    encoder = Encoder1d(
        in_channels=1, channels=cfg.encoder_channels, multipliers=list(cfg.encoder_multipliers),
        factors=list(cfg.factors), num_blocks=list(cfg.encoder_blocks), resnet_groups=cfg.encoder_groups,
        patch_size=1,
    )
    return model, encoder


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = SyncFusionDiffusion(CONFIGS["tiny"])
    return dif.save_diffusion_checkpoint(model, tmp_path_factory.mktemp("dif") / "tiny.ckpt")


@pytest.fixture(scope="module")
def emb_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    vec = np.random.default_rng(1).standard_normal(512).astype(np.float32)
    return save_embedding(tmp_path_factory.mktemp("emb") / "wood.npy", vec / np.linalg.norm(vec))


def _track(times, duration, regions=()) -> OnsetTrack:  # type: ignore[no-untyped-def]
    return OnsetTrack(source="t", duration=duration, fps=25.0, detector="test",
                      onsets=tuple(Onset(float(t), 0.8) for t in times), range=TimeRange(0.0, duration),
                      regions=tuple(regions))


def test_network_has_exactly_the_released_keys_and_shapes() -> None:
    with torch.device("meta"):
        model = SyncFusionDiffusion(CONFIGS["syncfusion"])
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(RELEASED)  # same keys, same order
    assert got == RELEASED
    params = sum(p.numel() for p in model.parameters())
    assert 200e6 < params < 230e6, params  # "about 213 M" in the published description


def test_same_numbers_as_the_published_libraries() -> None:
    cfg = CONFIGS["tiny"]
    torch.manual_seed(3)
    lib, enc = _library_model(cfg)
    ours = SyncFusionDiffusion(cfg)
    state = {**{f"model.{k}": v for k, v in lib.state_dict().items()},
             **{f"onsets_encoder.{k}": v for k, v in enc.state_dict().items()}}
    assert list(state) == list(ours.state_dict())
    ours.load_state_dict(state, strict=True)
    n = 2**14
    track = torch.zeros(2, 1, n)
    track[0, 0, [100, 5000, 9000]] = 1.0
    track[1, 0, 300] = 1.0
    _, info = enc(track, with_info=True)
    ctx = ours.onsets_encoder(track)
    for a, b in zip(info["xs"][2:-1], ctx):
        assert torch.equal(a, b)
    x = torch.randn(2, 1, n)
    emb = torch.randn(2, 1, 512)
    with torch.no_grad():
        want = lib.net(x, torch.tensor([0.7, 0.2]), embedding=emb, channels=info["xs"][2:-1])
        got = ours.net(x, torch.tensor([0.7, 0.2]), emb, ctx)
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-4), (got - want).abs().max()
    # The whole sampler, guidance included, against the library's sampling call.
    noise = torch.randn(2, 1, n)
    with torch.no_grad():
        want = lib.sample(noise, num_steps=4, channels=info["xs"][2:-1], embedding=emb, embedding_scale=2.0)
    got = sample(ours, noise, track, emb, steps=4, guidance=2.0)
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-3), (got - want).abs().max()


def test_full_size_checkpoint_loads_strictly_and_renders_the_right_length(tmp_path: Path) -> None:
    # Random weights with exactly the released layout (clap.* included), as big as the release.
    torch.manual_seed(0)
    model = SyncFusionDiffusion(CONFIGS["syncfusion"])
    state = {k: v for k, v in model.state_dict().items()}
    state["clap.model.logit_scale_a"] = torch.tensor(1.0)
    payload = {"epoch": 99, "global_step": 1000, "pytorch-lightning_version": "1.7.7", "state_dict": state,
               "optimizer_states": [], "lr_schedulers": [], "callbacks": {}}
    path = tmp_path / "syncfusion.ckpt"
    torch.save(payload, str(path))
    del model, state, payload
    loaded = dif.load_diffusion(path, "cpu")
    assert loaded.model.cfg == CONFIGS["syncfusion"]
    assert set(loaded.clap_state) == {"model.logit_scale_a"}  # kept aside for CLAP
    assert loaded.model.model.diffusion.net is loaded.model.model.net  # aliases stay one module
    out = dif.render(loaded, [1000, 30000], 50000, np.ones(512, np.float32) / 512 ** 0.5,
                     dif.DiffusionOptions(steps=1, guidance=1.0, batch=1))
    assert out.audio.shape == (50000,) and np.all(np.isfinite(out.audio))
    dif._WARM.clear()


@pytest.mark.parametrize("change", ["drop", "reshape", "extra"])
def test_a_checkpoint_that_does_not_fit_names_the_key(tmp_path: Path, change: str) -> None:
    torch.manual_seed(0)
    model = SyncFusionDiffusion(CONFIGS["tiny"])
    state = dict(model.state_dict())
    key = "onsets_encoder.downsamples.3.blocks.1.block2.project.weight"
    if change == "drop":
        del state[key]
    elif change == "reshape":
        state[key] = torch.zeros(3, 3, 3)
    else:
        state["model.net.blocks.9.weight"] = torch.zeros(1)
    path = tmp_path / "bad.ckpt"
    torch.save({"state_dict": state, "syncfoley": {"config": CONFIGS["tiny"].to_dict()}}, str(path))
    with pytest.raises(CheckpointError) as err:
        dif.load_diffusion(path, "cpu")
    named = "model.net.blocks.9.weight" if change == "extra" else key
    assert named in str(err.value) and "diffusion model" in str(err.value)


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hook": types.SimpleNamespace(x=1)}, str(path))
    with pytest.raises(CheckpointError, match="weights_only"):
        dif.load_diffusion(path, "cpu")


def test_twenty_seconds_render_end_to_end_with_seamless_windows(tiny_ckpt: Path, emb_file: Path) -> None:
    rng = np.random.default_rng(5)
    times = np.sort(rng.uniform(0.05, 19.9, 70))
    track = _track(times, 20.0)
    request = api.generation_request(
        track, embedding=emb_file, engine="diffusion",
        diffusion=api.DiffusionOptions(checkpoint=str(tiny_ckpt), steps=2, guidance=2.0, batch=4),
    )
    seen: list[float] = []
    result = api.render(request, progress=lambda f, text: seen.append(f))
    assert result.engine == "diffusion"
    assert result.audio.shape == (20 * SR,) and result.audio.dtype == np.float32
    assert np.all(np.isfinite(result.audio)) and np.abs(result.audio).max() > 0
    assert result.info["windows"] == 5 and result.info["steps"] == 2
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    # Seamless on the onset track it was given: the windows' conditioning, joined with
    # the same cross-fades as the audio, is exactly the request's impulse train.
    out = dif.render(dif.load_diffusion(tiny_ckpt, "cpu"), dif.onset_samples(times, 0.0, 20 * SR), 20 * SR,
                     np.load(emb_file), dif.DiffusionOptions(steps=1, guidance=1.0, batch=8))
    windows = out.windows
    joined = stitch(windows, [w.local_track() for w in windows], 20 * SR)
    want = np.zeros(20 * SR, np.float32)
    want[dif.onset_samples(times, 0.0, 20 * SR)] = 1.0
    assert np.array_equal(joined, want)
    assert len(windows) == 5 and sum(len(w.onsets) for w in windows) > len(times)  # overlaps see hits twice...
    # ...and the audio is the windows joined by those weights (nothing else added at the seams).
    assert out.audio.shape == (20 * SR,)


def test_same_audio_whatever_the_batch_and_reproducible_by_seed(tiny_ckpt: Path, emb_file: Path) -> None:
    loaded = dif.load_diffusion(tiny_ckpt, "cpu")
    pos = dif.onset_samples([0.5, 3.0, 6.0, 9.5], 0.0, 12 * SR)
    emb = np.load(emb_file)
    a = dif.render(loaded, pos, 12 * SR, emb, dif.DiffusionOptions(steps=2, batch=1), seed=4).audio
    b = dif.render(loaded, pos, 12 * SR, emb, dif.DiffusionOptions(steps=2, batch=8), seed=4).audio
    c = dif.render(loaded, pos, 12 * SR, emb, dif.DiffusionOptions(steps=2, batch=8), seed=5).audio
    assert np.allclose(a, b, atol=1e-5)
    assert not np.allclose(a, c, atol=1e-3)
    # Before the first hit: silence, as the model was trained ("cut prefix").
    assert np.abs(a[: pos[0] - 300]).max() == 0.0


def test_cancel_between_steps(tiny_ckpt: Path, emb_file: Path) -> None:
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(dif.Cancelled):
        dif.render(dif.load_diffusion(tiny_ckpt, "cpu"), [1000], 12 * SR, np.load(emb_file),
                   dif.DiffusionOptions(steps=50, batch=1), cancel=cancel)
    assert len(calls) == 3  # stopped within a step of being asked, not after 3 windows x 50 steps


def test_auto_picks_diffusion_only_when_a_checkpoint_is_configured(tiny_ckpt: Path, emb_file: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    track = _track([0.5, 1.0], 2.0)
    monkeypatch.delenv(dif.ENV_VAR, raising=False)
    assert api.check_request(api.generation_request(track)) == "builtin"
    monkeypatch.setenv(dif.ENV_VAR, str(tiny_ckpt))
    request = api.generation_request(track, embedding=emb_file, diffusion=api.DiffusionOptions(steps=1))
    assert api.check_request(request) == "diffusion"
    assert api.check_request(api.generation_request(track, engine="builtin")) == "builtin"
    monkeypatch.setenv(dif.ENV_VAR, "/nowhere/x.ckpt")
    with pytest.raises(CheckpointError, match="SYNCFOLEY_DIFFUSION_CHECKPOINT"):
        api.check_request(api.generation_request(track))


def test_bad_requests_name_the_problem(tiny_ckpt: Path, emb_file: Path, tmp_path: Path) -> None:
    track = _track([0.5], 2.0)
    opts = api.DiffusionOptions(checkpoint=str(tiny_ckpt), steps=1, max_seconds=60)

    def check(**kw):  # type: ignore[no-untyped-def]
        return api.check_request(api.generation_request(track, engine="diffusion", diffusion=opts, **kw))

    with pytest.raises(RequestError, match="longer than the diffusion engine's maximum of 60 s"):
        check(embedding=emb_file, duration=61.0)
    with pytest.raises(RequestError, match="22050 is not supported.*48000"):
        api.generation_request(track, sample_rate=22050)
    with pytest.raises(RequestError, match="channels"):
        api.generation_request(track, channels=6)
    with pytest.raises(RequestError, match="unknown engine 'magic'"):
        api.generation_request(track, engine="magic")
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(48000, np.float32), 48000)
    with pytest.raises(MediaError, match="silent"):
        check(reference=silent)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF not really")
    with pytest.raises(MediaError, match="cannot be read"):
        check(reference=junk)
    with pytest.raises(RequestError, match="text prompt needs the diffusion engine"):
        api.check_request(api.generation_request(track, engine="builtin", text="glass clink"))
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros(100, np.float32))
    with pytest.raises(MediaError, match="100 values"):
        check(embedding=bad)
    with pytest.raises(CheckpointError, match="--diffusion-checkpoint PATH"):
        api.check_request(api.generation_request(track, engine="diffusion", embedding=emb_file,
                                                 diffusion=api.DiffusionOptions(checkpoint=None)))


def test_text_prompt_without_clap_says_what_is_missing(tiny_ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNCFOLEY_CLAP_CHECKPOINT", raising=False)
    track = _track([0.5], 2.0)
    request = api.generation_request(track, engine="diffusion", text="glass clink",
                                     diffusion=api.DiffusionOptions(checkpoint=str(tiny_ckpt), steps=1))
    with pytest.raises(DependencyError) as err:
        api.render(request)
    msg = str(err.value)
    assert "glass clink" in msg and "clap.*" in msg and "--clap" in msg and "--embedding" in msg
    # A preset with no embedding file needs CLAP too, and says so.
    request = api.generation_request(track, engine="diffusion", preset="metal",
                                     diffusion=api.DiffusionOptions(checkpoint=str(tiny_ckpt), steps=1))
    with pytest.raises(DependencyError, match="preset 'metal'"):
        api.render(request)


def test_preset_embedding_file_is_used(tiny_ckpt: Path, emb_file: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "door.yaml").write_text(
        "name: door\nmodes:\n  - {freq: 200, t60: 0.2}\nembedding: door.npy\n", encoding="utf-8")
    np.save(folder / "door.npy", np.load(emb_file))
    monkeypatch.setenv("SYNCFOLEY_PRESETS", str(folder))
    track = _track([0.5, 1.5], 2.0, regions=[Region(0.6, 1.2)])
    request = api.generation_request(track, engine="diffusion", preset="door", channels=2, sample_rate=44100,
                                     diffusion=api.DiffusionOptions(checkpoint=str(tiny_ckpt), steps=1))
    result = api.render(request)
    assert result.info["embedding"] == "preset door embedding"
    assert result.audio.shape == (88200, 2)
    assert np.array_equal(result.audio[:, 0], result.audio[:, 1])  # the model is mono


def test_cli_generate_with_the_diffusion_engine(tiny_ckpt: Path, emb_file: Path, tmp_path: Path) -> None:
    onsets = tmp_path / "hits.json"
    api.save_onsets(_track([0.3, 0.9, 1.4], 2.0), onsets)
    out = tmp_path / "foley.wav"
    res = run_cli("generate", "--onsets", str(onsets), "-o", str(out), "--engine", "diffusion",
                  "--diffusion-checkpoint", str(tiny_ckpt), "--embedding", str(emb_file), "--steps", "2",
                  "--device", "cpu", "-q")
    assert res.returncode == 0, res.stderr
    assert "diffusion engine" in res.stdout and "running on the CPU" in res.stderr
    data, sr = sf.read(str(out))
    assert sr == 48000 and len(data) == 96000
    res = run_cli("embed", "--text", "door slam", "-o", str(tmp_path / "e.npy"))
    assert res.returncode == 2
    assert "needs CLAP" in res.stderr or "laion-clap" in res.stderr
    assert not (tmp_path / "e.npy").exists()


def test_several_clips_share_batches_and_sound_as_if_rendered_alone(tiny_ckpt: Path, emb_file: Path) -> None:
    loaded = dif.load_diffusion(tiny_ckpt, "cpu")
    emb = np.load(emb_file)
    clips = [dif.Clip((2000, 30000), 48000, emb, seed=1), dif.Clip((500,), 24000, -emb, seed=2),
             dif.Clip((100, 200000, 300000), 8 * SR, emb, seed=3)]
    opts = dif.DiffusionOptions(steps=2, batch=8)
    steps: list[str] = []
    together = dif.render_clips(loaded, clips, opts, progress=lambda f, text: steps.append(text))
    assert len(steps) == 2  # 1 + 1 + 2 windows in one batch: two steps in all
    for clip, got in zip(clips, together):
        alone = dif.render(loaded, clip.onsets, clip.total, clip.embedding, opts, seed=clip.seed)
        assert got.audio.shape == (clip.total,)
        assert np.allclose(got.audio, alone.audio, atol=1e-5)


def test_network_runs_under_reduced_precision_autocast() -> None:
    # The CUDA path runs under fp16 autocast; the CPU's bf16 autocast exercises the same
    # dtype mixing (convs in low precision, norms and the sampler state in fp32).
    torch.manual_seed(0)
    model = SyncFusionDiffusion(CONFIGS["tiny"]).eval()
    n = 2**14
    track = torch.zeros(1, 1, n)
    track[0, 0, [500, 9000]] = 1.0
    x, emb = torch.randn(1, 1, n), torch.randn(1, 1, 512)
    with torch.no_grad():
        want = model.net(x, torch.tensor([0.5]), emb, model.onsets_encoder(track))
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            got = model.net(x, torch.tensor([0.5]), emb, model.onsets_encoder(track)).float()
    assert torch.isfinite(got).all()
    rel = (got - want).norm() / want.norm()
    assert rel < 0.05, float(rel)


def test_run_checks_the_sound_before_detecting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import EXAMPLE

    monkeypatch.delenv(dif.ENV_VAR, raising=False)
    calls: list[float] = []
    with pytest.raises(CheckpointError, match="diffusion checkpoint"):
        api.run(EXAMPLE, tmp_path / "out", engine="diffusion", progress=lambda f, t: calls.append(f))
    assert calls == [] and not (tmp_path / "out").exists(), "nothing detected, nothing written"


def test_conform_with_the_diffusion_engine(tiny_ckpt: Path, emb_file: Path, tmp_path: Path) -> None:
    import opentimelineio as otio
    import stand_ins

    from syncfoley.adapters import timeline
    from syncfoley.bridge.conform.options import ConformOptions

    edl = Path(__file__).resolve().parent / "data" / "edl" / "25fps.edl"
    stand_ins.make(timeline.read(edl), tmp_path / "media")
    options = ConformOptions.from_dict({"engine": "diffusion", "diffusion_checkpoint": str(tiny_ckpt),
                                        "embedding": str(emb_file), "steps": 1, "handles": 6})
    result = api.conform(edl, tmp_path / "out", [tmp_path / "media"], options, cache=tmp_path / "cache")
    assert (result.computed, result.skipped) == (4, 0)
    tl = otio.adapters.read_from_file(str(result.timeline))
    engines = {c.metadata["syncfoley"]["engine"] for c in tl.audio_tracks()[0].find_clips()}
    assert engines == {"diffusion"}
    # Another checkpoint is another sound: nothing may be reused from the first.
    other = tmp_path / "other.ckpt"
    torch.manual_seed(1)
    dif.save_diffusion_checkpoint(SyncFusionDiffusion(CONFIGS["tiny"]), other)
    options2 = options.replace(diffusion_checkpoint=str(other))
    plan = api.conform_plan(edl, [tmp_path / "media"], options2, cache=tmp_path / "cache")
    assert plan.summary()["compute"] == 4
    assert api.conform_plan(edl, [tmp_path / "media"], options, cache=tmp_path / "cache").summary()["reuse"] == 4
