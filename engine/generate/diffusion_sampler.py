"""v-diffusion sampling with classifier-free guidance, batched.

The schedule and update are audio-diffusion-pytorch 0.1.3's ``VSampler`` with a
linear schedule: noise levels ``sigma_i = 1 - i / steps``, ``alpha = cos(sigma pi/2)``,
``beta = sin(sigma pi/2)``, and per step

    v   = net(x, sigma_i)          (guided: v_u + (v_c - v_u) * scale)
    x0  = alpha_i x - beta_i v
    eps = beta_i x + alpha_i v
    x   = alpha_{i+1} x0 + beta_{i+1} eps

The library runs the conditional and the unconditional ("no embedding") passes one
after the other; here they are one batch of twice the size, and several windows
share that batch. On CUDA the network runs under fp16 autocast (norms stay fp32);
the sampler's state ``x`` stays fp32 so 150 small updates do not drift.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from syncfoley.engine.generate.diffusion_net import SyncFusionDiffusion

StepHook = Callable[[int, int], None]  # (step done, steps) -> None; may raise to cancel


def guided_velocity(model: SyncFusionDiffusion, x: Tensor, sigma: float, embedding: Tensor,
                    channels: Sequence[Tensor], guidance: float) -> Tensor:
    net = model.net
    b = x.shape[0]
    if guidance == 1.0:
        return net(x, torch.full((b,), sigma, device=x.device), embedding, channels)
    uncond = net.unconditional.to(embedding.dtype).unsqueeze(0).expand(b, -1, -1)
    both = net(
        torch.cat([x, x]),
        torch.full((2 * b,), sigma, device=x.device),
        torch.cat([embedding, uncond]),
        [torch.cat([c, c]) for c in channels],
    )
    cond, free = both.float().chunk(2)
    return free + (cond - free) * guidance


@torch.no_grad()
def sample(model: SyncFusionDiffusion, noise: Tensor, onset_tracks: Tensor, embedding: Tensor,
           steps: int, guidance: float, on_step: Optional[StepHook] = None) -> Tensor:
    """Denoise ``noise`` (B, 1, N) given onset impulse trains (B, 1, N) and embeddings (B, 1, 512)."""
    device = noise.device
    use_amp = device.type == "cuda"
    with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
        channels = model.onsets_encoder(onset_tracks)
        x = noise.float()
        sigmas = [1.0 - i / steps for i in range(steps + 1)]
        for i in range(steps):
            a0, b0 = math.cos(sigmas[i] * math.pi / 2), math.sin(sigmas[i] * math.pi / 2)
            a1, b1 = math.cos(sigmas[i + 1] * math.pi / 2), math.sin(sigmas[i + 1] * math.pi / 2)
            v = guided_velocity(model, x, sigmas[i], embedding, channels, guidance).float()
            x0 = a0 * x - b0 * v
            eps = b0 * x + a0 * v
            x = a1 * x0 + b1 * eps
            if on_step is not None:
                on_step(i + 1, steps)
    return x
