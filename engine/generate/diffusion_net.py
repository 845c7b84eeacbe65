"""SyncFusion's onset-conditioned diffusion network, written for inference speed.

The published model (shared/syncfusion/README.md) is audio-diffusion-pytorch
0.1.3's ``DiffusionModel(net_t=UNetV0, ...)`` with v-diffusion and classifier-free
guidance on a 512-d CLAP embedding, plus an ``Encoder1d`` from
audio-encoders-pytorch 0.0.22 that turns the onset impulse train into one context
tensor per UNet depth. This module is our own implementation of the same maths.
Its module names reproduce the released Lightning checkpoint's keys exactly
(``model.net...``, its aliases ``model.diffusion.net...`` and ``model.sampler.net...``,
and ``onsets_encoder...``): the odd nesting (``blocks.2.blocks.1.net.block.blocks``)
is the shape of those libraries' functional wrappers, kept so that a released file
loads with ``strict=True``.

What differs from the libraries is only how the same numbers are computed:

- cross-attention over a context of length 1 (the one CLAP vector) is exact without
  queries: a softmax over one key is 1, so every position receives
  ``to_out(v)``. The library computes a (length x 512) query tensor per layer for
  nothing; at the top of the UNet that is 262144 x 512 values per window;
- self-attention uses ``scaled_dot_product_attention`` (flash / memory-efficient
  kernels on a GPU);
- classifier-free guidance runs the conditional and unconditional passes as one
  batch (:mod:`syncfoley.engine.generate.diffusion_sampler`).

``DiffusionNetConfig`` presets: ``syncfusion`` (the published sizes) and ``tiny``
(same architecture, narrow, for CPU tests).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class DiffusionNetConfig:
    """Sizes of the UNet and of the onset encoder (defaults: the published model)."""

    channels: tuple[int, ...] = (8, 32, 64, 128, 256, 512, 1024, 1024)
    factors: tuple[int, ...] = (1, 4, 4, 4, 2, 2, 2, 2)
    items: tuple[int, ...] = (1, 2, 2, 2, 2, 2, 2, 4)
    attentions: tuple[int, ...] = (0, 0, 0, 0, 1, 1, 1, 1)
    cross_attentions: tuple[int, ...] = (1, 1, 1, 1, 1, 1, 1, 1)
    attention_heads: int = 8
    attention_features: int = 64
    embedding_features: int = 512
    embedding_max_length: int = 1
    modulation_features: int = 1024
    time_embedding_dim: int = 256
    resnet_groups: int = 8
    encoder_channels: int = 2
    encoder_multipliers: tuple[int, ...] = (1, 1, 4, 8, 16, 32, 64, 128, 128)
    encoder_blocks: tuple[int, ...] = (2, 2, 2, 2, 2, 2, 2, 2)
    encoder_groups: int = 2
    sample_rate: int = 48000
    window: int = 2**18

    @property
    def context_channels(self) -> tuple[int, ...]:
        return tuple(self.encoder_channels * m for m in self.encoder_multipliers[1:])

    @property
    def downsample(self) -> int:
        return math.prod(self.factors)

    def check(self) -> None:
        n = len(self.channels)
        for name in ("factors", "items", "attentions", "cross_attentions"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} must have {n} entries, one per UNet depth")
        if len(self.context_channels) != n or len(self.encoder_blocks) != n:
            raise ValueError(f"the onset encoder must give {n} context tensors")
        if self.window % self.downsample:
            raise ValueError(f"window {self.window} is not a multiple of the UNet's downsampling {self.downsample}")

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "DiffusionNetConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kw)  # type: ignore[arg-type]


CONFIGS: dict[str, DiffusionNetConfig] = {
    "syncfusion": DiffusionNetConfig(),
    # Same architecture, narrow and shallow in items: renders on a CPU in tests.
    "tiny": DiffusionNetConfig(
        channels=(8, 8, 8, 16, 16, 16, 16, 16),
        items=(1, 1, 1, 1, 1, 1, 1, 1),
        attention_heads=2,
        attention_features=8,
        modulation_features=32,
        encoder_multipliers=(1, 1, 2, 2, 2, 4, 4, 4, 4),
    ),
}


class _Held(nn.Module):
    """A container whose children are called ``blocks.N`` (the released names).

    The trees are walked by those names and positions (``blocks[2].blocks[1].net``), which
    typing cannot follow through ``nn.Module.__getattr__``: the containers are typed ``Any``.
    """

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__()
        self.blocks: Any = nn.ModuleList(modules)


class _Wrapped(nn.Module):
    """A container whose one child is called ``block``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.block: Any = module


@dataclass
class _Cond:
    """What every UNet item may read besides ``x``."""

    features: Tensor  # (B, modulation_features): time embedding
    channels: Sequence[Tensor]  # per depth: onset context
    embedding: Tensor  # (B, 1, 512)


def _conv_block(channels: int, groups: int) -> nn.Sequential:
    return nn.Sequential(nn.GroupNorm(groups, channels), nn.SiLU(), nn.Conv1d(channels, channels, 3, padding=1))


class ResnetItem(nn.Module):
    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.block = _Held(_Held(_conv_block(channels, groups), _conv_block(channels, groups)), nn.Identity())

    def forward(self, x: Tensor, cond: _Cond) -> Tensor:
        convs = self.block.blocks[0].blocks
        return convs[1](convs[0](x)) + x


class ModulationItem(nn.Module):
    """Scale and shift of the channel-normalised signal from the time embedding."""

    def __init__(self, channels: int, modulation_features: int) -> None:
        super().__init__()
        inner = _Held(
            nn.Sequential(nn.SiLU(), nn.Linear(modulation_features, channels * 2)),
            nn.LayerNorm(channels, elementwise_affine=False, eps=1e-6),
        )
        self.blocks: Any = nn.ModuleList([_Wrapped(inner)])

    def forward(self, x: Tensor, cond: _Cond) -> Tensor:
        to_scale_shift = self.blocks[0].block.blocks[0]
        scale, shift = to_scale_shift(cond.features).unsqueeze(-1).chunk(2, dim=1)
        # LayerNorm over channels, computed in (B, C, N) layout without transposes, in fp32
        # even under fp16 autocast (variances of large activations overflow fp16).
        xf = x.float()
        mean = xf.mean(dim=1, keepdim=True)
        var = xf.var(dim=1, keepdim=True, unbiased=False)
        normed = ((xf - mean) * torch.rsqrt(var + 1e-6)).to(x.dtype)
        return normed * (1 + scale) + shift


class InjectItem(nn.Module):
    """Concatenate the onset context of this depth and mix it in with a 1x1 conv."""

    def __init__(self, channels: int, context_channels: int, depth: int) -> None:
        super().__init__()
        self.depth = depth
        self.block = _Held(nn.Conv1d(channels + context_channels, channels, 1))

    def forward(self, x: Tensor, cond: _Cond) -> Tensor:
        return self.block.blocks[0](torch.cat([x, cond.channels[self.depth]], dim=1)) + x


class _Attention(nn.Module):
    def __init__(self, features: int, heads: int, head_features: int, context_features: Optional[int]) -> None:
        super().__init__()
        mid = heads * head_features
        ctx = context_features if context_features is not None else features
        self.heads = heads
        self.norm = nn.LayerNorm(features)
        self.norm_context = nn.LayerNorm(ctx)
        self.to_q = nn.Linear(features, mid, bias=False)
        self.to_kv = nn.Linear(ctx, mid * 2, bias=False)
        self.attention = _Held(nn.Linear(mid, features, bias=False))


class SelfAttentionItem(nn.Module):
    def __init__(self, channels: int, heads: int, head_features: int) -> None:
        super().__init__()
        self.blocks: Any = nn.ModuleList([_Wrapped(_Attention(channels, heads, head_features, None))])

    def forward(self, x: Tensor, cond: _Cond) -> Tensor:
        a: _Attention = self.blocks[0].block
        t = x.transpose(1, 2)  # (B, N, C)
        h = a.norm(t)
        q = a.to_q(h)
        k, v = a.to_kv(h).chunk(2, dim=-1)
        b, n, _ = q.shape
        q, k, v = (z.view(b, n, a.heads, -1).transpose(1, 2) for z in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v)
        out = a.attention.blocks[0](out.transpose(1, 2).reshape(b, n, -1))
        return x + out.transpose(1, 2)


class CrossAttentionItem(nn.Module):
    """Attention to the sound embedding. With one embedding token, exact without queries."""

    def __init__(self, channels: int, heads: int, head_features: int, context_features: int, depth: int) -> None:
        super().__init__()
        self.depth = depth
        self.blocks: Any = nn.ModuleList([_Wrapped(_Attention(channels, heads, head_features, context_features))])

    def value(self, embedding: Tensor) -> Tensor:
        a: _Attention = self.blocks[0].block
        _, v = a.to_kv(a.norm_context(embedding)).chunk(2, dim=-1)
        return a.attention.blocks[0](v)  # (B, 1, C)

    def forward(self, x: Tensor, cond: _Cond) -> Tensor:
        a: _Attention = self.blocks[0].block
        if cond.embedding.shape[1] == 1:
            return x + self.value(cond.embedding).transpose(1, 2)
        # General case (longer contexts): ordinary attention.
        t = x.transpose(1, 2)
        q = a.to_q(a.norm(t))
        k, v = a.to_kv(a.norm_context(cond.embedding)).chunk(2, dim=-1)
        b, n, _ = q.shape
        m = k.shape[1]
        q = q.view(b, n, a.heads, -1).transpose(1, 2)
        k, v = (z.view(b, m, a.heads, -1).transpose(1, 2) for z in (k, v))
        out = F.scaled_dot_product_attention(q, k, v)
        out = a.attention.blocks[0](out.transpose(1, 2).reshape(b, n, -1))
        return x + out.transpose(1, 2)


class _Downsample(nn.Module):
    def __init__(self, in_channels: int, channels: int, factor: int) -> None:
        super().__init__()
        self.block = nn.Conv1d(in_channels, channels, kernel_size=factor, stride=factor)

    def forward(self, x: Tensor, cond: _Cond) -> Tensor:
        return self.block(x)


class _Upsample(nn.Module):
    def __init__(self, channels: int, out_channels: int, factor: int) -> None:
        super().__init__()
        self.factor = factor
        self.block = nn.Sequential(nn.Upsample(scale_factor=factor, mode="nearest"),
                                   nn.Conv1d(channels, out_channels, 3, padding=1))

    def forward(self, x: Tensor, cond: _Cond) -> Tensor:
        if self.factor > 1:
            x = x.repeat_interleave(self.factor, dim=-1)
        return self.block[1](x)


class UNetBlock(nn.Module):
    """One depth: downsample, items, the deeper block, items, upsample; modulated skip."""

    def __init__(self, cfg: DiffusionNetConfig, depth: int, in_channels: int, out_channels: int,
                 inner: Optional["UNetBlock"]) -> None:
        super().__init__()
        c = cfg.channels[depth]
        ctx = cfg.context_channels[depth]

        def items() -> list[nn.Module]:
            one: list[nn.Module] = []
            for _ in range(cfg.items[depth]):
                one.append(ResnetItem(c, cfg.resnet_groups))
                one.append(ModulationItem(c, cfg.modulation_features))
                if ctx > 0:
                    one.append(InjectItem(c, ctx, depth))
                if cfg.attentions[depth]:
                    one.append(SelfAttentionItem(c, cfg.attention_heads, cfg.attention_features))
                if cfg.cross_attentions[depth]:
                    one.append(CrossAttentionItem(c, cfg.attention_heads, cfg.attention_features,
                                                  cfg.embedding_features, depth))
            return one

        seq: list[nn.Module] = [_Downsample(in_channels, c, cfg.factors[depth])]
        seq += items()
        if inner is not None:
            seq.append(inner)
        seq += items()
        seq.append(_Upsample(c, out_channels, cfg.factors[depth]))
        self.skip_adapter = (_Wrapped(nn.Conv1d(in_channels, out_channels, 1)) if in_channels != out_channels
                             else nn.Identity())
        self.block = _Held(*seq)
        self.skip = _Held(nn.Sequential(nn.SiLU(), nn.Linear(cfg.modulation_features, out_channels)))

    def forward(self, x: Tensor, cond: _Cond) -> Tensor:
        skip = self.skip_adapter.block(x) if isinstance(self.skip_adapter, _Wrapped) else x
        for item in self.block.blocks:
            x = item(x, cond)
        scale = self.skip.blocks[0](cond.features).unsqueeze(-1)
        return skip + scale * x


class _UNet(nn.Module):
    def __init__(self, cfg: DiffusionNetConfig) -> None:
        super().__init__()
        inner: Optional[UNetBlock] = None
        n = len(cfg.channels)
        for depth in reversed(range(n)):
            in_ch = 1 if depth == 0 else cfg.channels[depth - 1]
            inner = UNetBlock(cfg, depth, in_ch, in_ch, inner)
        assert inner is not None
        self.net = inner


class NumberEmbedder(nn.Module):
    """Random Fourier features of the noise level, then a linear layer."""

    def __init__(self, features: int, dim: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.randn(dim // 2))
        self.to_out = nn.Linear(dim + 1, features)

    def forward(self, t: Tensor) -> Tensor:
        t = t.reshape(-1, 1).to(self.weights.dtype)
        freqs = t * self.weights.unsqueeze(0) * 2 * math.pi
        return self.to_out(torch.cat([t, freqs.sin(), freqs.cos()], dim=-1))


class DiffusionNet(nn.Module):
    """v-prediction network: ``forward(x, sigma, embedding, channels) -> v``.

    Children in the released order: time embedder, time MLP (one Linear+GELU
    applied twice: the library repeats one module, so both keys hold the same
    tensor), then the guidance wrapper (its learned "no embedding" vector, the UNet).
    """

    def __init__(self, cfg: DiffusionNetConfig) -> None:
        super().__init__()
        cfg.check()
        self.cfg = cfg
        mlp = nn.Sequential(nn.Linear(cfg.modulation_features, cfg.modulation_features), nn.GELU())
        self.blocks: Any = nn.ModuleList([
            NumberEmbedder(cfg.modulation_features, cfg.time_embedding_dim),
            _Held(mlp, mlp),
            _Held(_Held(nn.Embedding(cfg.embedding_max_length, cfg.embedding_features)), _UNet(cfg)),
        ])

    @property
    def unconditional(self) -> Tensor:
        """The learned embedding that stands for "no sound given" (guidance's other half)."""
        return self.blocks[2].blocks[0].blocks[0].weight

    def time_features(self, sigma: Tensor) -> Tensor:
        f = F.gelu(self.blocks[0](sigma))
        mlp = self.blocks[1].blocks
        return mlp[1](mlp[0](f))

    def forward(self, x: Tensor, sigma: Tensor, embedding: Tensor, channels: Sequence[Tensor]) -> Tensor:
        cond = _Cond(features=self.time_features(sigma).to(x.dtype), channels=channels, embedding=embedding.to(x.dtype))
        return self.blocks[2].blocks[1].net(x, cond)


class _Alias(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net


class DiffusionModel(nn.Module):
    """``net`` plus the two aliases the released checkpoint also stores it under."""

    def __init__(self, cfg: DiffusionNetConfig) -> None:
        super().__init__()
        self.net = DiffusionNet(cfg)
        self.diffusion = _Alias(self.net)
        self.sampler = _Alias(self.net)


class _ConvBlock1d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, groups: int, kernel: int = 3, stride: int = 1,
                 padding: int = 1) -> None:
        super().__init__()
        self.groupnorm = nn.GroupNorm(groups, in_channels)
        self.activation = nn.SiLU()
        self.project = nn.Conv1d(in_channels, out_channels, kernel, stride=stride, padding=padding)

    def forward(self, x: Tensor) -> Tensor:
        return self.project(self.activation(self.groupnorm(x)))


class _ResnetBlock1d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, groups: int) -> None:
        super().__init__()
        self.block1 = _ConvBlock1d(in_channels, out_channels, groups)
        self.block2 = _ConvBlock1d(out_channels, out_channels, groups)
        self.to_out = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.block2(self.block1(x)) + self.to_out(x)


class _EncoderStage(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, factor: int, groups: int, blocks: int) -> None:
        super().__init__()
        self.downsample = nn.Conv1d(in_channels, out_channels, factor * 2 + 1, stride=factor, padding=factor)
        self.blocks: Any = nn.ModuleList([_ResnetBlock1d(out_channels, out_channels, groups) for _ in range(blocks)])

    def forward(self, x: Tensor) -> Tensor:
        x = self.downsample(x)
        for b in self.blocks:
            x = b(x)
        return x


class OnsetEncoder(nn.Module):
    """The onset impulse train -> one context tensor per UNet depth (``Encoder1d``'s ``xs[2:-1]``)."""

    def __init__(self, cfg: DiffusionNetConfig) -> None:
        super().__init__()
        ch = [cfg.encoder_channels * m for m in cfg.encoder_multipliers]
        patcher = nn.Module()
        patcher.block = _ResnetBlock1d(1, ch[0], 1)
        self.to_in: Any = patcher
        self.downsamples = nn.ModuleList([
            _EncoderStage(ch[i], ch[i + 1], cfg.factors[i], cfg.encoder_groups, cfg.encoder_blocks[i])
            for i in range(len(cfg.factors))
        ])

    def forward(self, track: Tensor) -> list[Tensor]:
        x = self.to_in.block(track)
        out = []
        for stage in self.downsamples:
            x = stage(x)
            out.append(x)
        return out


class SyncFusionDiffusion(nn.Module):
    """The Lightning module's layout: ``model`` (diffusion) and ``onsets_encoder``."""

    def __init__(self, cfg: DiffusionNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = DiffusionModel(cfg)
        self.onsets_encoder = OnsetEncoder(cfg)

    @property
    def net(self) -> DiffusionNet:
        return self.model.net
