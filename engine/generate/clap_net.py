"""LAION-CLAP's audio tower (HTSAT-tiny, no fusion) and its projection, in plain torch.

Module names follow LAION's ``CLAP`` model, so its state dicts (and SyncFusion's ``clap.model.*``
entries) load key for key: ``audio_branch`` is the HTSAT Swin transformer with its own front end
(an STFT as two convolutions, a mel filterbank, both stored in the weights), ``audio_projection``
maps its 768-d pooled features to the 512-d joint space. Inference only: no dropout, no spec
augmentation, no mixup, no fusion.

What the tower computes, for 10 s of 48 kHz audio (shorter clips repeated, then zero padded, as
LAION does): power spectrogram (1024-point Hann, hop 480, reflect-padded) -> 64 mel bands
50 Hz-14 kHz -> 10 log10 (floor 1e-10) -> batch norm per band -> bicubic stretch to 1024 frames ->
folded into a 256 x 256 image (four 256-frame strips stacked along frequency) -> 4x4 patches ->
four Swin stages (depths 2, 2, 6, 2; heads 4, 8, 16, 32; 8x8 windows, shifted every other block)
-> layer norm -> the mean over the final map -> ``audio_projection`` -> unit length.
Checked against LAION's own code by ``tests/test_clap_equivalence.py`` (golden file made by
``bench/clap_reference.py``).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

SPEC_SIZE = 256
MEL_BINS = 64
N_FFT = 1024
HOP = 480
CLIP_SAMPLES = 480000  # 10 s at 48 kHz
EMBED_DIM = 96
DEPTHS = (2, 2, 6, 2)
HEADS = (4, 8, 16, 32)
WINDOW = 8
CLASSES = 527  # AudioSet's, of HTSAT's classifier head (in the weights; not used for embeddings)
JOINT = 512


class Stft(nn.Module):
    """The STFT as two 1-d convolutions (weights: cosine and sine kernels times the window)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_real = nn.Conv1d(1, N_FFT // 2 + 1, N_FFT, stride=HOP, bias=False)
        self.conv_imag = nn.Conv1d(1, N_FFT // 2 + 1, N_FFT, stride=HOP, bias=False)


class Spectrogram(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stft = Stft()

    def forward(self, wave: Tensor) -> Tensor:
        """(B, samples) -> power spectrogram (B, 1, frames, 513)."""
        x = F.pad(wave[:, None, :], (N_FFT // 2, N_FFT // 2), mode="reflect")
        real = self.stft.conv_real(x)[:, None].transpose(2, 3)
        imag = self.stft.conv_imag(x)[:, None].transpose(2, 3)
        return real ** 2 + imag ** 2


class LogMel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.melW = nn.Parameter(torch.zeros(N_FFT // 2 + 1, MEL_BINS), requires_grad=False)

    def forward(self, power: Tensor) -> Tensor:
        mel = torch.matmul(power, self.melW)
        return 10.0 * torch.log10(torch.clamp(mel, min=1e-10))  # reference power 1: no offset


class PatchEmbed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Conv2d(1, EMBED_DIM, kernel_size=4, stride=4)
        self.norm = nn.LayerNorm(EMBED_DIM)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class Mlp(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def relative_index(window: int) -> Tensor:
    """For each pair of positions in a window, the row of the relative-position bias table."""
    ys, xs = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    flat = torch.stack([ys.flatten(), xs.flatten()])  # 2, w*w
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


class WindowAttention(nn.Module):
    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_index(window))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Optional[Tensor]) -> Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        index = self.get_buffer("relative_position_index")
        bias = self.relative_position_bias_table[index.reshape(-1)].reshape(n, n, -1)
        attn = attn + bias.permute(2, 0, 1)[None]
        if mask is not None:
            windows = mask.shape[0]
            attn = (attn.reshape(b // windows, windows, self.heads, n, n) + mask[None, :, None]).reshape(-1, self.heads, n, n)
        return self.proj((attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c))


def windows_of(x: Tensor, w: int) -> Tensor:
    b, h, wd, c = x.shape
    return x.reshape(b, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)


def from_windows(x: Tensor, w: int, h: int, wd: int) -> Tensor:
    b = x.shape[0] // ((h // w) * (wd // w))
    return x.reshape(b, h // w, wd // w, w, w, -1).permute(0, 1, 3, 2, 4, 5).reshape(b, h, wd, -1)


def shift_mask(size: int, window: int, shift: int) -> Tensor:
    """Where a shifted window wraps round, positions from different regions must not attend to
    each other: -100 between them (as LAION stores it), 0 within a region."""
    regions = torch.zeros(1, size, size, 1)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for hs in cuts:
        for ws in cuts:
            regions[:, hs, ws, :] = label
            label += 1
    flat = windows_of(regions, window)[..., 0]
    diff = flat[:, None, :] - flat[:, :, None]
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


class SwinBlock(nn.Module):
    def __init__(self, dim: int, size: int, heads: int, shift: bool) -> None:
        super().__init__()
        self.size = size
        self.window = min(WINDOW, size)
        self.shift = WINDOW // 2 if shift and size > WINDOW else 0
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, self.window)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim)
        self.register_buffer("attn_mask", shift_mask(size, self.window, self.shift) if self.shift else None)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        s, w = self.size, self.window
        y = self.norm1(x).reshape(b, s, s, c)
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(1, 2))
        y = from_windows(self.attn(windows_of(y, w), self.attn_mask), w, s, s)
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + y.reshape(b, n, c)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, dim: int, size: int) -> None:
        super().__init__()
        self.size = size
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: Tensor) -> Tensor:
        b, _, c = x.shape
        g = x.reshape(b, self.size, self.size, c)
        x = torch.cat([g[:, 0::2, 0::2], g[:, 1::2, 0::2], g[:, 0::2, 1::2], g[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x.reshape(b, -1, 4 * c)))


class Stage(nn.Module):
    def __init__(self, dim: int, size: int, depth: int, heads: int, merge: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([SwinBlock(dim, size, heads, shift=i % 2 == 1) for i in range(depth)])
        self.downsample = PatchMerging(dim, size) if merge else None

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x) if self.downsample is not None else x


class Htsat(nn.Module):
    """HTSAT-tiny: waveform (B, 480000) -> pooled features (B, 768)."""

    def __init__(self) -> None:
        super().__init__()
        self.spectrogram_extractor = Spectrogram()
        self.logmel_extractor = LogMel()
        self.bn0 = nn.BatchNorm2d(MEL_BINS)
        self.patch_embed = PatchEmbed()
        grid = SPEC_SIZE // 4
        self.layers = nn.ModuleList([
            Stage(EMBED_DIM * 2 ** i, grid // 2 ** i, DEPTHS[i], HEADS[i], merge=i < len(DEPTHS) - 1)
            for i in range(len(DEPTHS))])
        features = EMBED_DIM * 2 ** (len(DEPTHS) - 1)
        self.norm = nn.LayerNorm(features)
        final = SPEC_SIZE // 2 ** (len(DEPTHS) - 1) // 4 // (SPEC_SIZE // MEL_BINS)
        # HTSAT's token-semantic classifier: kept so that the weights load; embeddings do not use it.
        self.tscam_conv = nn.Conv2d(features, CLASSES, kernel_size=(final, 3), padding=(0, 1))
        self.head = nn.Linear(CLASSES, CLASSES)

    def image(self, wave: Tensor) -> Tensor:
        """The normalised log-mel of 10 s, folded into HTSAT's 256 x 256 input (B, 1, 256, 256)."""
        x = self.logmel_extractor(self.spectrogram_extractor(wave))  # B, 1, frames, mels
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        ratio = SPEC_SIZE // MEL_BINS
        x = F.interpolate(x, (SPEC_SIZE * ratio, MEL_BINS), mode="bicubic", align_corners=True)
        b = x.shape[0]
        x = x.permute(0, 1, 3, 2).reshape(b, 1, MEL_BINS, ratio, SPEC_SIZE)
        return x.permute(0, 1, 3, 2, 4).reshape(b, 1, MEL_BINS * ratio, SPEC_SIZE)

    def forward(self, wave: Tensor) -> Tensor:
        x = self.patch_embed(self.image(wave))
        for stage in self.layers:
            x = stage(x)
        return self.norm(x).mean(dim=1)  # the mean over every position of the final map


def fit_clip(wave: Tensor) -> Tensor:
    """LAION's fill for clips shorter than 10 s: whole repeats, then zeros (longer clips are the
    caller's to reduce: see clap.loudest_chunk)."""
    n = wave.shape[-1]
    if n >= CLIP_SAMPLES:
        return wave[..., :CLIP_SAMPLES]
    repeats = CLIP_SAMPLES // n
    return F.pad(wave.repeat(repeats), (0, CLIP_SAMPLES - n * repeats))


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (linear to 1 kHz, logarithmic above), as librosa's default."""
    f = np.asarray(f, dtype=np.float64)
    linear = f / (200.0 / 3)
    logstep = np.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, linear)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3))


def front_end_weights(sr: int = 48000, fmin: float = 50.0, fmax: float = 14000.0) -> dict[str, np.ndarray]:
    """The front end's fixed weights, as LAION's torchlibrosa builds them: the windowed DFT
    kernels (periodic Hann, 1024 points, bins 0..512) and the Slaney-normalised mel filterbank.
    A CLAP checkpoint carries them; this rebuilds them where one does not (and checks one that does)."""
    n = N_FFT
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    k = np.arange(n // 2 + 1)
    angle = -2 * np.pi * np.outer(np.arange(n), k) / n  # (n, bins)
    real = (np.cos(angle) * window[:, None]).T[:, None, :]
    imag = (np.sin(angle) * window[:, None]).T[:, None, :]
    freqs = np.linspace(0.0, sr / 2, n // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(fmin)), _hz_to_mel(np.array(fmax)), MEL_BINS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    mel = np.maximum(0.0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return {"audio_branch.spectrogram_extractor.stft.conv_real.weight": real.astype(np.float32),
            "audio_branch.spectrogram_extractor.stft.conv_imag.weight": imag.astype(np.float32),
            "audio_branch.logmel_extractor.melW": mel.T.astype(np.float32)}


# -------------------------------------------------------------------------- text tower
ROBERTA = {"vocab": 50265, "width": 768, "layers": 12, "heads": 12, "inner": 3072, "positions": 514, "pad": 1}
CONTEXT = 77  # tokens per prompt, as LAION pads and truncates


class Embeddings(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        w = ROBERTA["width"]
        self.word_embeddings = nn.Embedding(ROBERTA["vocab"], w, padding_idx=ROBERTA["pad"])
        self.position_embeddings = nn.Embedding(ROBERTA["positions"], w, padding_idx=ROBERTA["pad"])
        self.token_type_embeddings = nn.Embedding(1, w)
        self.LayerNorm = nn.LayerNorm(w, eps=1e-5)

    def forward(self, ids: Tensor) -> Tensor:
        # RoBERTa counts positions from pad + 1 over the real tokens; padding keeps the pad's.
        real = (ids != ROBERTA["pad"]).long()
        positions = torch.cumsum(real, dim=1) * real + ROBERTA["pad"]
        x = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        w = ROBERTA["width"]
        self.query, self.key, self.value = nn.Linear(w, w), nn.Linear(w, w), nn.Linear(w, w)


class DenseNorm(nn.Module):
    def __init__(self, inner: int) -> None:
        super().__init__()
        self.dense = nn.Linear(inner, ROBERTA["width"])
        self.LayerNorm = nn.LayerNorm(ROBERTA["width"], eps=1e-5)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.self = SelfAttention()
        self.output = DenseNorm(ROBERTA["width"])

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        b, n, w = x.shape
        h = ROBERTA["heads"]

        def heads(t: Tensor) -> Tensor:
            return t.reshape(b, n, h, w // h).transpose(1, 2)

        q, k, v = heads(self.self.query(x)), heads(self.self.key(x)), heads(self.self.value(x))
        scores = (q @ k.transpose(-1, -2)) / (w // h) ** 0.5 + bias
        context = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, w)
        return self.output(context, x)


class Dense(nn.Module):
    """A module holding one ``dense`` layer, as transformers nests its intermediate and pooler."""

    def __init__(self, inner: int, outer: int) -> None:
        super().__init__()
        self.dense = nn.Linear(inner, outer)


class Layer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attention = Attention()
        self.intermediate = Dense(ROBERTA["width"], ROBERTA["inner"])
        self.output = DenseNorm(ROBERTA["inner"])

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        x = self.attention(x, bias)
        return self.output(F.gelu(self.intermediate.dense(x)), x)


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.ModuleList([Layer() for _ in range(ROBERTA["layers"])])


class Roberta(nn.Module):
    """roberta-base (as transformers names it): token ids -> the pooled first token (B, 768)."""

    def __init__(self) -> None:
        super().__init__()
        self.embeddings = Embeddings()
        self.encoder = Encoder()
        self.pooler = Dense(ROBERTA["width"], ROBERTA["width"])

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        x = self.embeddings(ids)
        # Padding gets the most negative score there is, as transformers does: it adds nothing.
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return torch.tanh(self.pooler.dense(x[:, 0]))


class TrainingHead(nn.Module):
    """LAION's MLPLayers (``*_transform``): used in training only, kept so that the weights load."""

    def __init__(self) -> None:
        super().__init__()
        self.sequential = nn.Sequential(nn.Linear(JOINT, JOINT), nn.ReLU(), nn.Dropout(0.1), nn.Linear(JOINT, JOINT))


class Clap(nn.Module):
    """LAION's ``CLAP`` model (HTSAT-tiny, RoBERTa, no fusion), key for key: the state dict of
    ``CLAP_Module.model``, which SyncFusion's checkpoint holds under ``clap.model.``."""

    def __init__(self) -> None:
        super().__init__()
        self.logit_scale_a = nn.Parameter(torch.zeros(()))
        self.logit_scale_t = nn.Parameter(torch.zeros(()))
        self.audio_branch = Htsat()
        self.audio_projection = nn.Sequential(nn.Linear(768, JOINT), nn.ReLU(), nn.Linear(JOINT, JOINT))
        self.audio_transform = TrainingHead()
        self.text_branch = Roberta()
        self.text_projection = nn.Sequential(nn.Linear(ROBERTA["width"], JOINT), nn.ReLU(), nn.Linear(JOINT, JOINT))
        self.text_transform = TrainingHead()

    def audio(self, wave: Tensor) -> Tensor:
        """(B, 480000) at 48 kHz -> unit 512-d embeddings (B, 512)."""
        return F.normalize(self.audio_projection(self.audio_branch(wave)), dim=-1)

    def text(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Token ids and attention mask (B, 77) -> unit 512-d embeddings (B, 512)."""
        return F.normalize(self.text_projection(self.text_branch(ids, mask)), dim=-1)
