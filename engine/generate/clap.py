"""Sound embeddings: the 512-d LAION-CLAP vector that sets the diffusion model's timbre.

SyncFusion conditions on CLAP (HTSAT-tiny, no fusion, ``630k-audioset-best.pt``)
of a reference clip or of a text prompt. Sources, in order:

1. an embedding file (``.npy``, 512 floats) given with ``--embedding`` or carried
   by a preset (``embedding: file.npy`` beside the preset);
2. CLAP run here, on a reference WAV or a text prompt (or on the built-in
   engine's rendering of a preset, so presets work with the diffusion engine too).
   CLAP's weights come from the diffusion checkpoint's ``clap.*`` entries when it
   has them, else from ``--clap PATH`` / ``$SYNCFOLEY_CLAP_CHECKPOINT``. The code
   is the optional ``laion-clap`` package (``pip install 'syncfoley[clap]'``).

``syncfoley embed`` writes the vector once, so later renders need no CLAP at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from syncfoley.core.errors import CheckpointError, DependencyError, MediaError, RequestError
from syncfoley.engine.models.checkpoints import WeightsSource

DIM = 512
CLAP_RATE = 48000
CLAP_SECONDS = 10.0  # HTSAT's input length: longer audio is cut, shorter repeated
ENV_VAR = "SYNCFOLEY_CLAP_CHECKPOINT"


def load_embedding(path: str | Path) -> np.ndarray:
    """A 512-d embedding from ``.npy`` (shape (512,), (1, 512) or (1, 1, 512))."""
    from syncfoley.core.fence import check_read

    p = Path(path)
    if not p.is_file():
        raise MediaError(f"embedding file {p} does not exist; write one with 'syncfoley embed'")
    try:
        data = np.load(str(check_read(p, "embedding")), allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise MediaError(f"{p} is not a NumPy .npy embedding file ({exc})") from None
    vec = np.asarray(data, dtype=np.float32).reshape(-1)
    if vec.size != DIM:
        raise MediaError(f"{p} holds {vec.size} values with shape {tuple(np.shape(data))}; "
                         f"a CLAP embedding has {DIM}")
    if not np.all(np.isfinite(vec)) or not np.any(vec):
        raise MediaError(f"{p} holds NaN, infinite or all-zero values; it is not an embedding")
    return vec


def save_embedding(path: str | Path, vec: np.ndarray, overwrite: bool = False) -> Path:
    from syncfoley.core.atomic import atomic_path

    p = Path(path)
    if p.suffix.lower() != ".npy":
        raise RequestError(f"embedding files are .npy; {p.name!r} has another extension")
    with atomic_path(p, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(vec, dtype=np.float32).reshape(DIM))
    return p


def read_reference(path: str | Path) -> np.ndarray:
    """A reference recording as mono float32 at 48 kHz; silence and unreadable files are errors."""
    import soundfile as sf

    from syncfoley.core.fence import check_read

    p = Path(path)
    if not p.is_file():
        raise MediaError(f"reference audio {p} does not exist")
    real = check_read(p, "reference audio")
    try:
        data, sr = sf.read(str(real), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile's error types vary by version
        raise MediaError(f"reference audio {p} cannot be read ({exc}); give a WAV, FLAC, AIFF or OGG file") from None
    mono = data.mean(axis=1)
    if len(mono) < sr // 20:
        raise MediaError(f"reference audio {p} is {len(mono) / sr * 1000:.0f} ms long; give at least 50 ms")
    peak = float(np.abs(mono).max())
    if peak < 10 ** (-60 / 20):
        raise MediaError(f"reference audio {p} is silent (peak {20 * np.log10(peak + 1e-12):.0f} dBFS); "
                         "give a recording of the sound you want")
    if sr != CLAP_RATE:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(sr, CLAP_RATE)
        mono = resample_poly(mono, CLAP_RATE // g, sr // g).astype(np.float32)
    return mono


def loudest_chunk(audio: np.ndarray, seconds: float = CLAP_SECONDS, sr: int = CLAP_RATE) -> np.ndarray:
    """The ``seconds`` of ``audio`` with the most energy (all of it when shorter)."""
    n = int(seconds * sr)
    if len(audio) <= n:
        return audio
    energy = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
    hop = sr // 10
    starts = np.arange(0, len(audio) - n + 1, hop)
    best = int(starts[np.argmax(energy[starts + n] - energy[starts])])
    return audio[best: best + n]


# Missing CLAP is answered by clap_embedder, which knows what the request wanted it for.
WEIGHTS = WeightsSource(ENV_VAR, "--clap", "CLAP checkpoint", "give 630k-audioset-best.pt", "")
resolve_clap_checkpoint = WEIGHTS.resolve


class ClapEmbedder:
    """LAION-CLAP (HTSAT-tiny, no fusion) with weights from a file or a SyncFusion checkpoint."""

    def __init__(self, state: dict[str, Any], device: str = "cpu", source: str = "") -> None:
        try:
            import laion_clap
        except ImportError:
            raise DependencyError(
                "CLAP embeddings need the laion-clap package: pip install 'syncfoley[clap]' "
                "(or give --embedding FILE.npy written elsewhere with 'syncfoley embed')"
            ) from None
        try:
            module = laion_clap.CLAP_Module(enable_fusion=False, amodel="HTSAT-tiny", device=device)
        except OSError as exc:
            raise DependencyError(
                "LAION-CLAP could not build its text branch: it needs the 'roberta-base' tokenizer and config "
                f"in the Hugging Face cache (HF_HOME), which cannot be downloaded here ({exc})"
            ) from None
        own = module.state_dict()
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
        if not any(k.startswith("model.") for k in state):
            state = {f"model.{k}": v for k, v in state.items()}
        # transformers versions differ on whether position_ids is a saved buffer.
        state = {k: v for k, v in state.items() if k in own or not k.endswith("position_ids")}
        missing = [k for k in own if k not in state and not k.endswith("position_ids")]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            first = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
            raise CheckpointError(f"{source or 'CLAP weights'} do not fit LAION-CLAP HTSAT-tiny: {first}")
        module.load_state_dict(state, strict=False)
        self.module = module.eval()
        self.device = device

    @classmethod
    def from_file(cls, path: Path, device: str = "cpu") -> "ClapEmbedder":
        from syncfoley.engine.models.checkpoints import read_state

        state, _ = read_state(path)
        return cls(state, device, str(path))

    def audio(self, audio: np.ndarray) -> np.ndarray:
        import torch

        chunk = loudest_chunk(audio)
        # SyncFusion quantises to int16 and back before CLAP, as CLAP was trained.
        chunk = (np.clip(chunk, -1.0, 1.0) * 32767.0).astype(np.int16).astype(np.float32) / 32767.0
        with torch.no_grad():
            x = torch.as_tensor(chunk[None, :], device=self.device)
            emb = self.module.get_audio_embedding_from_data(x=x, use_tensor=True)
        return emb.reshape(-1).float().cpu().numpy()

    def text(self, prompt: str) -> np.ndarray:
        import torch

        if not prompt.strip():
            raise RequestError("the text prompt is empty; describe the sound, e.g. 'wood knock'")
        with torch.no_grad():
            emb = self.module.get_text_embedding([prompt], use_tensor=True)
        return emb.reshape(-1).float().cpu().numpy()


def clap_embedder(clap_path: Optional[str | Path], diffusion_clap_state: Optional[dict[str, Any]],
                  device: str = "cpu", why: str = "") -> ClapEmbedder:
    """CLAP from the diffusion checkpoint's weights, else from ``clap_path`` / $SYNCFOLEY_CLAP_CHECKPOINT."""
    if diffusion_clap_state:
        return ClapEmbedder(diffusion_clap_state, device, "the diffusion checkpoint's clap.* weights")
    found = resolve_clap_checkpoint(clap_path)
    if found is None:
        raise DependencyError(
            f"{why or 'this request'} needs CLAP, and none is available: the diffusion checkpoint has no clap.* "
            f"weights and no CLAP checkpoint was given (--clap 630k-audioset-best.pt or ${ENV_VAR}); "
            "or give --embedding FILE.npy"
        )
    return ClapEmbedder.from_file(found, device)
