"""Our CLAP (HTSAT-tiny audio tower, RoBERTa text tower) against LAION's own code, and the ways
users reach it: weights inside a SyncFusion checkpoint, a LAION ``.pt``, a text prompt's tokenizer.

The golden file ``tests/data/clap/golden.npz`` was made by LAION's laion-clap 1.1.7 (transformers
4.57) in a separate virtual environment with ``bench/clap_reference.py``, from weights that
``tests/clap_seeded.py`` rebuilds here from their keys alone. laion-clap is not installed here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import clap_seeded as cs
import numpy as np
import pytest
import soundfile as sf
import torch

from syncfoley.bridge import api
from syncfoley.core.errors import CheckpointError, DependencyError, MediaError
from syncfoley.engine.generate import clap as emb
from syncfoley.engine.generate import diffusion as dif
from syncfoley.engine.generate.clap_net import Clap, fit_clip, front_end_weights
from syncfoley.engine.generate.diffusion_net import CONFIGS, SyncFusionDiffusion

DATA = Path(__file__).parent / "data" / "clap"
SPEC: dict[str, Any] = json.loads((DATA / "keys.json").read_text())["keys"]
GOLDEN = np.load(DATA / "golden.npz")
# Measured: 4e-8 (audio) and 9e-8 (text) largest difference of a unit vector's component.
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def seeded_state() -> dict[str, torch.Tensor]:
    """The golden run's weights: learned ones from their keys, fixed ones as we build them."""
    fixed = {k: v for k, v in Clap().state_dict().items() if SPEC[k]["kind"] == "fixed"}
    fixed.update({k: torch.from_numpy(v) for k, v in front_end_weights().items()})
    learned = {k: torch.from_numpy(v) for k, v in cs.learned_state(SPEC).items()}
    return {**fixed, **learned}


def test_the_key_set_is_laions_exactly() -> None:
    ours = {k: list(v.shape) for k, v in Clap().state_dict().items()}
    assert ours == {k: v["shape"] for k, v in SPEC.items()}  # 417 keys, names and shapes


def test_fixed_tensors_are_built_as_laions() -> None:
    """Buffers bit for bit; the STFT kernels and mel filterbank (computed in float64 by both,
    by different formulas) to float32 rounding."""
    built = {**Clap().state_dict(), **{k: torch.from_numpy(v) for k, v in front_end_weights().items()}}
    for key, spec in SPEC.items():
        if spec["kind"] != "fixed":
            continue
        a = built[key].numpy()
        if key.endswith(("weight", "melW")):
            assert abs(float(a.astype(np.float64).sum()) - spec["sum"]) < 1e-5 * max(1.0, spec["abs_sum"]), key
            assert abs(float(np.abs(a.astype(np.float64)).sum()) - spec["abs_sum"]) < 1e-6 * spec["abs_sum"], key
        else:
            assert hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() == spec["sha256"], key


def test_audio_and_text_embeddings_equal_laions(seeded_state: dict[str, torch.Tensor]) -> None:
    # Through the product's loader, with the keys as SyncFusion's checkpoint holds them.
    model = emb.build_clap({f"model.{k}": v for k, v in seeded_state.items()}, "cpu", "test weights")
    with torch.no_grad():
        for name, x in cs.signals().items():
            got = model.audio(fit_clip(torch.from_numpy(cs.quantised(x)))[None])[0].numpy()
            ref = GOLDEN[f"audio_{name}"]
            assert float(got @ ref) >= 0.999 and np.abs(got - ref).max() < TOLERANCE, name
        ids, mask = emb.tokenize(list(cs.PROMPTS), DATA / "tokenizer")
        assert np.array_equal(ids, GOLDEN["text_ids"]) and np.array_equal(mask, GOLDEN["text_mask"])
        got = model.text(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    assert np.all((got * GOLDEN["text"]).sum(axis=1) >= 0.999) and np.abs(got - GOLDEN["text"]).max() < TOLERANCE
    # LAION's front end: the log-mel of the first signal.
    first = torch.from_numpy(cs.quantised(next(iter(cs.signals().values()))))[None]
    branch = model.audio_branch
    logmel = branch.logmel_extractor(branch.spectrogram_extractor(first))[0, 0].detach().numpy()
    assert np.abs(logmel - GOLDEN["logmel_knocks"]).max() < 1e-3  # dB


@pytest.fixture(scope="module")
def syncfusion_ckpt(tmp_path_factory: pytest.TempPathFactory, seeded_state: dict[str, torch.Tensor]) -> Path:
    """A diffusion checkpoint as SyncFusion releases it, clap.model.* included (random weights,
    exact shapes; half precision to keep the file near 300 MB)."""
    torch.manual_seed(0)
    state = {f"model.{k}": v.half() if v.is_floating_point() else v for k, v in seeded_state.items()}
    return dif.save_diffusion_checkpoint(SyncFusionDiffusion(CONFIGS["tiny"]),
                                         tmp_path_factory.mktemp("sf") / "syncfusion.ckpt", clap_state=state)


def _knocks(path: Path, seconds: float, freq: float = 700.0, sr: int = 44100, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.2 * sr)) / sr
    y = 0.002 * rng.standard_normal(int(seconds * sr))
    for when in np.arange(0.1, seconds - 0.3, 0.7):
        y[int(when * sr): int(when * sr) + len(t)] += 0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-t * 30)
    sf.write(str(path), y, sr)
    return path


def test_a_reference_through_a_syncfusion_checkpoint_needs_nothing_else(
        syncfusion_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNCFOLEY_CLAP_CHECKPOINT", raising=False)
    monkeypatch.delenv("SYNCFOLEY_CLAP_TOKENIZER", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "no-hub"))  # no tokenizer, no cache: audio needs neither
    ref = _knocks(tmp_path / "knock.wav", 2.0)
    a = np.load(api.embed(tmp_path / "a.npy", reference=ref, diffusion_checkpoint=syncfusion_ckpt, device="cpu"))
    b = np.load(api.embed(tmp_path / "b.npy", reference=ref, diffusion_checkpoint=syncfusion_ckpt, device="cpu"))
    assert a.shape == (512,) and abs(float(np.linalg.norm(a)) - 1.0) < 1e-5 and np.array_equal(a, b)
    high = np.load(api.embed(tmp_path / "h.npy", reference=_knocks(tmp_path / "high.wav", 2.0, 3000.0),
                             diffusion_checkpoint=syncfusion_ckpt, device="cpu"))
    assert not np.allclose(a, high, atol=1e-4), "different sounds, different embeddings"
    # 30 s: the loudest 10 s, the same on every run (LAION would crop at random).
    long_ref = _knocks(tmp_path / "long.wav", 30.0, seed=3)
    runs = [np.load(api.embed(tmp_path / f"l{i}.npy", reference=long_ref, diffusion_checkpoint=syncfusion_ckpt,
                              device="cpu")) for i in range(2)]
    assert np.array_equal(runs[0], runs[1])
    # A text prompt needs the tokenizer, and says where to get it.
    with pytest.raises(DependencyError, match="--clap-tokenizer DIR"):
        api.embed(tmp_path / "t.npy", text="glass clink", diffusion_checkpoint=syncfusion_ckpt, device="cpu")
    assert not (tmp_path / "t.npy").exists()
    text = np.load(api.embed(tmp_path / "t.npy", text="glass clink", diffusion_checkpoint=syncfusion_ckpt,
                             device="cpu", clap_tokenizer=DATA / "tokenizer"))
    assert text.shape == (512,) and not np.allclose(text, a, atol=1e-3)


def test_bad_clap_input_is_one_clear_line(tmp_path: Path) -> None:
    ref = _knocks(tmp_path / "knock.wav", 1.0)
    torch.save({"epoch": 45, "state_dict": {"module.weight": torch.zeros(512, 8)}}, str(tmp_path / "bad.pt"))
    with pytest.raises(CheckpointError, match=r"do not fit LAION-CLAP HTSAT-tiny .*missing 'logit_scale_a'"):
        api.embed(tmp_path / "b.npy", reference=ref, clap=tmp_path / "bad.pt", device="cpu")
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(48000), 48000)
    with pytest.raises(MediaError, match="silent"):
        api.embed(tmp_path / "s.npy", reference=silent, clap=tmp_path / "bad.pt", device="cpu")
    (tmp_path / "tok").mkdir()
    with pytest.raises(DependencyError, match="not a RoBERTa tokenizer folder: it needs vocab.json and merges.txt"):
        emb.find_tokenizer(tmp_path / "tok")
    assert not list(tmp_path.glob("*.npy"))


def test_every_diffusion_timbre_goes_through_our_clap(syncfusion_ckpt: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A reference, a text prompt and a preset without an embedding file, rendered by the
    diffusion engine with the checkpoint's own CLAP."""
    from syncfoley.engine.types import Onset, OnsetTrack, TimeRange

    monkeypatch.setenv("SYNCFOLEY_CLAP_TOKENIZER", str(DATA / "tokenizer"))
    track = OnsetTrack(source="t", duration=1.0, fps=25.0, detector="test", onsets=(Onset(0.3, 0.8),),
                       range=TimeRange(0.0, 1.0))
    ref = _knocks(tmp_path / "knock.wav", 1.0)
    seen = {}
    for name, timbre in (("reference", {"reference": str(ref)}), ("text", {"text": "glass clink"}),
                         ("preset", {"preset": "metal"})):
        result = api.render(api.generation_request(
            track, engine="diffusion", **timbre, diffusion=api.DiffusionOptions(checkpoint=str(syncfusion_ckpt),
                                                                               steps=1, device="cpu")))
        seen[name] = result.info["embedding"]
        assert result.audio.shape[0] == 48000
    assert seen == {"reference": f"CLAP of {ref}", "text": "CLAP of text 'glass clink'",
                    "preset": "CLAP of preset metal (built-in rendering)"}


def _npy_claiming(path: Path, shape: tuple[int, ...]) -> Path:
    """A .npy file whose header declares ``shape`` and holds no data."""
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return path


@pytest.mark.parametrize("make, message", [
    # NumPy allocates what a header declares before reading: 512 GB was a MemoryError.
    (lambda d: _npy_claiming(d / "liar.npy", (2**37,)), r"liar.npy is not a NumPy .npy embedding file"),
    (lambda d: (np.savez(d / "e.npz", a=np.zeros(512)), d / "e.npz")[1], r"e.npz is an .npz archive"),
    (lambda d: (np.save(d / "s.npy", np.array(["x"] * 512)), d / "s.npy")[1], r"s.npy holds <U1 values, not numbers"),
    (lambda d: (np.save(d / "b.npy", np.zeros(10**6, np.float32)), d / "b.npy")[1], r"holds 1000000 values"),
])
def test_an_embedding_file_that_is_not_one_is_refused_by_name(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        emb.load_embedding(make(tmp_path))
