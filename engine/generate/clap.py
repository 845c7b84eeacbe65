"""Sound embeddings: the 512-d LAION-CLAP vector that sets the diffusion model's timbre.

SyncFusion conditions on CLAP (HTSAT-tiny, no fusion, ``630k-audioset-best.pt``)
of a reference clip or of a text prompt. Sources, in order:

1. an embedding file (``.npy``, 512 floats) given with ``--embedding`` or carried
   by a preset (``embedding: file.npy`` beside the preset);
2. CLAP run here, on a reference WAV or a text prompt (or on the built-in
   engine's rendering of a preset, so presets work with the diffusion engine too).
   CLAP's weights come from the diffusion checkpoint's ``clap.*`` entries when it
   has them, else from ``--clap PATH`` / ``$SYNCFOLEY_CLAP_CHECKPOINT``. The network is our
   own (:mod:`.clap_net`, checked against LAION's code); audio needs nothing more, text
   needs roberta-base's tokenizer files (``--clap-tokenizer DIR``).

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
        # Mapped, not read: NumPy allocates whatever shape a header declares before reading,
        # so a 128-byte file that declares 512 GB was a MemoryError; mapped, it is a short file.
        data = np.load(str(check_read(p, "embedding")), allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise MediaError(f"{p} is not a NumPy .npy embedding file ({exc})") from None
    if not isinstance(data, np.ndarray):  # an .npz archive loads as a mapping of arrays
        data.close()
        raise MediaError(f"{p} is an .npz archive; an embedding is one array in an .npy file ('syncfoley embed')")
    if data.size != DIM:  # before a copy: a mapped file may hold gigabytes
        raise MediaError(f"{p} holds {data.size} values with shape {tuple(data.shape)}; "
                         f"a CLAP embedding has {DIM}")
    try:
        vec = np.asarray(data, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as exc:  # strings, structured records
        raise MediaError(f"{p} holds {data.dtype} values, not numbers ({exc})") from None
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
    from syncfoley.engine.media.sound_file import read_sound

    p = Path(path)
    if not p.is_file():
        raise MediaError(f"reference audio {p} does not exist")
    mono = read_sound(p, "reference audio", CLAP_RATE, "give a recording that plays")
    if len(mono) < CLAP_RATE // 20:
        raise MediaError(f"reference audio {p} is {len(mono) / CLAP_RATE * 1000:.0f} ms long; give at least 50 ms")
    peak = float(np.abs(mono).max())
    if peak < 10 ** (-60 / 20):
        raise MediaError(f"reference audio {p} is silent (peak {20 * np.log10(peak + 1e-12):.0f} dBFS); "
                         "give a recording of the sound you want")
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
TOKENIZER_ENV = "SYNCFOLEY_CLAP_TOKENIZER"
# Keys some transformers versions save and others do not: never required, never refused.
OPTIONAL_KEYS = ("text_branch.embeddings.position_ids", "text_branch.embeddings.token_type_ids")


def clap_keys(state: dict[str, Any]) -> dict[str, Any]:
    """LAION's state dict as ``Clap`` names it, from any of the layouts it is stored in: LAION's
    ``.pt`` (``state_dict``, maybe ``module.``-prefixed from DDP), or SyncFusion's ``clap.*``
    entries with the prefix removed (``model.`` of CLAP_Module)."""
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "model."):
            key = key.removeprefix(prefix)
        if key not in OPTIONAL_KEYS:
            out[key] = value
    return out


def build_clap(state: dict[str, Any], device: str = "cpu", source: str = "CLAP weights") -> Any:
    """Our CLAP (:mod:`.clap_net`) with ``state`` loaded, checked key for key and shape for shape:
    the first key that does not fit is named, with what HTSAT-tiny CLAP expects."""
    import torch

    from syncfoley.engine.generate.clap_net import Clap

    state = clap_keys(state)
    with torch.device("meta"):
        model = Clap()
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        first = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        more = len(missing) + len(unexpected) - 1
        raise CheckpointError(f"{source} do not fit LAION-CLAP HTSAT-tiny (no fusion) with RoBERTa: {first}"
                              + (f" and {more} more" if more else "") + "; give 630k-audioset-best.pt or a "
                              "SyncFusion diffusion checkpoint")
    for key, value in state.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise CheckpointError(f"{source}: {key} has shape {tuple(value.shape)}, HTSAT-tiny CLAP expects "
                                  f"{tuple(own[key].shape)}")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True,
                          assign=True)
    return model.to(device).eval()


def find_tokenizer(folder: Optional[str | Path] = None) -> Path:
    """The RoBERTa tokenizer folder (vocab.json and merges.txt) a text prompt needs: ``folder``,
    else $SYNCFOLEY_CLAP_TOKENIZER, else roberta-base in the Hugging Face cache."""
    import os

    from syncfoley.core.fence import check_read

    given = folder or os.environ.get(TOKENIZER_ENV)
    if given:
        p = Path(given)
        if not (p / "vocab.json").is_file() or not (p / "merges.txt").is_file():
            raise DependencyError(f"{p} is not a RoBERTa tokenizer folder: it needs vocab.json and merges.txt "
                                  "(roberta-base's, as the Hugging Face hub has them)")
        return check_read(p, "CLAP tokenizer")
    hub = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME") or Path.home() / ".cache" /
                                                      "huggingface") / "hub")
    for snap in sorted((hub / "models--roberta-base" / "snapshots").glob("*"), reverse=True):
        if (snap / "vocab.json").is_file() and (snap / "merges.txt").is_file():
            return snap
    raise DependencyError(
        "a text prompt needs the RoBERTa tokenizer CLAP was trained with, and none was found: give "
        f"--clap-tokenizer DIR (or set ${TOKENIZER_ENV}) with roberta-base's vocab.json and merges.txt, "
        f"or put roberta-base in the Hugging Face cache ({hub}); or give --embedding FILE.npy")


def tokenize(prompts: list[str], folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention masks (len(prompts), 77) as LAION's RobertaTokenizer makes them:
    byte-level BPE, <s> ... </s>, padded with <pad> and truncated to 77."""
    try:
        from tokenizers import Tokenizer, pre_tokenizers, processors
        from tokenizers.models import BPE
    except ImportError:
        raise DependencyError("text prompts need the tokenizers package: pip install 'syncfoley[clap]'") from None
    from syncfoley.engine.generate.clap_net import CONTEXT, ROBERTA

    try:
        tok = Tokenizer(BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt")))
    except Exception as exc:  # the Rust side's errors are plain Exceptions
        raise DependencyError(f"the tokenizer in {folder} cannot be read ({exc})") from None
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    found = {t: tok.token_to_id(t) for t in ("<s>", "</s>", "<pad>")}
    ids = {t: i for t, i in found.items() if i is not None}
    if len(ids) < 3 or ids["<pad>"] != ROBERTA["pad"]:
        raise DependencyError(f"the tokenizer in {folder} is not RoBERTa's (its <s>, </s> and <pad> ids are {found})")
    tok.post_processor = processors.RobertaProcessing(("</s>", ids["</s>"]), ("<s>", ids["<s>"]))
    tok.enable_truncation(CONTEXT)
    tok.enable_padding(length=CONTEXT, pad_id=ids["<pad>"], pad_token="<pad>")
    enc = tok.encode_batch(prompts)
    return np.array([e.ids for e in enc], np.int64), np.array([e.attention_mask for e in enc], np.int64)


class ClapEmbedder:
    """LAION-CLAP (HTSAT-tiny, no fusion) with weights from a file or a SyncFusion checkpoint."""

    def __init__(self, state: dict[str, Any], device: str = "cpu", source: str = "",
                 tokenizer: Optional[str | Path] = None) -> None:
        self.model = build_clap(state, device, source or "CLAP weights")
        self.device = device
        self.tokenizer = tokenizer

    @classmethod
    def from_file(cls, path: Path, device: str = "cpu", tokenizer: Optional[str | Path] = None) -> "ClapEmbedder":
        from syncfoley.engine.models.checkpoints import read_state

        state, _ = read_state(path)
        return cls(state, device, str(path), tokenizer)

    def audio(self, audio: np.ndarray) -> np.ndarray:
        """The embedding of a 48 kHz mono recording. Longer than 10 s: its loudest 10 s, the
        same every time (LAION would crop at random); shorter: repeated to 10 s, as LAION does."""
        import torch

        from syncfoley.engine.generate.clap_net import fit_clip

        chunk = loudest_chunk(audio)
        # SyncFusion quantises to int16 and back before CLAP, as CLAP was trained.
        chunk = ((np.clip(chunk, -1.0, 1.0) * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)
        with torch.no_grad():
            x = fit_clip(torch.as_tensor(chunk, device=self.device))[None]
            emb = self.model.audio(x)
        return emb.reshape(-1).float().cpu().numpy()

    def text(self, prompt: str) -> np.ndarray:
        import torch

        if not prompt.strip():
            raise RequestError("the text prompt is empty; describe the sound, e.g. 'wood knock'")
        ids, mask = tokenize([prompt], find_tokenizer(self.tokenizer))
        with torch.no_grad():
            emb = self.model.text(torch.as_tensor(ids, device=self.device), torch.as_tensor(mask, device=self.device))
        return emb.reshape(-1).float().cpu().numpy()


def clap_embedder(clap_path: Optional[str | Path], diffusion_clap_state: Optional[dict[str, Any]],
                  device: str = "cpu", why: str = "", tokenizer: Optional[str | Path] = None) -> ClapEmbedder:
    """CLAP from the diffusion checkpoint's weights, else from ``clap_path`` / $SYNCFOLEY_CLAP_CHECKPOINT."""
    if diffusion_clap_state:
        return ClapEmbedder(diffusion_clap_state, device, "the diffusion checkpoint's clap.* weights", tokenizer)
    found = resolve_clap_checkpoint(clap_path)
    if found is None:
        raise DependencyError(
            f"{why or 'this request'} needs CLAP, and none is available: the diffusion checkpoint has no clap.* "
            f"weights and no CLAP checkpoint was given (--clap 630k-audioset-best.pt or ${ENV_VAR}); "
            "or give --embedding FILE.npy"
        )
    return ClapEmbedder.from_file(found, device, tokenizer)
