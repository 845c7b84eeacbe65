"""Diffusion engine speed against the published code's plain sampling call, same run, same weights.

    python bench/bench_diffusion.py [--device cuda] [--config syncfusion] [--measure 10]

Random weights (speed does not depend on them) with the published architecture.
For each batch size (windows of 2**18 samples sampled together) and step count it
prints seconds per window and the real-time factor of:

- baseline: audio-diffusion-pytorch 0.1.3's ``DiffusionModel.sample(...)`` with the
  onsets encoded by audio-encoders-pytorch's ``Encoder1d``, fp32, guidance as the
  library does it (two passes per step);
- syncfoley: :func:`syncfoley.engine.generate.diffusion_sampler.sample` (one batched guided
  pass, query-free cross-attention, SDPA, fp16 autocast on CUDA).

Sampling time is linear in the step count (every step is the same network call),
so by default ``--measure`` steps are timed after a warm-up and scaled to 150 and
50; ``--measure 0`` times every step. The script says which it did.
"""

from __future__ import annotations

import argparse
import sys
import time
import types


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--config", default="syncfusion", help="syncfusion (published size) or tiny")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--steps", default="150,50")
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--measure", type=int, default=10, help="steps timed per case (0: all of them)")
    p.add_argument("--no-baseline", action="store_true")
    args = p.parse_args(argv)

    import torch

    from syncfoley.engine.generate.diffusion_net import CONFIGS, SyncFusionDiffusion
    from syncfoley.engine.generate.diffusion_sampler import sample
    from syncfoley.engine.models.checkpoints import pick_device

    device = torch.device(pick_device(args.device))
    cfg = CONFIGS[args.config]
    torch.manual_seed(0)
    ours = SyncFusionDiffusion(cfg).to(device).eval()
    window_s = cfg.window / cfg.sample_rate

    lib = enc = None
    if not args.no_baseline:
        try:
            import torchaudio  # noqa: F401
        except (ImportError, OSError):
            # The libraries import torchaudio for spectrogram helpers this model never uses.
            sys.modules["torchaudio"] = types.SimpleNamespace(transforms=types.SimpleNamespace())  # type: ignore
        try:
            from audio_diffusion_pytorch import DiffusionModel, UNetV0, VDiffusion, VSampler
            from audio_encoders_pytorch import Encoder1d
        except ImportError:
            print("baseline unavailable: pip install audio-diffusion-pytorch==0.1.3 audio-encoders-pytorch==0.0.22 "
                  "a-unet==0.0.16 (or pass --no-baseline)", file=sys.stderr)
            return 2
        lib = DiffusionModel(
            net_t=UNetV0, in_channels=1, channels=list(cfg.channels), factors=list(cfg.factors),
            items=list(cfg.items), attentions=list(cfg.attentions), attention_heads=cfg.attention_heads,
            attention_features=cfg.attention_features, context_channels=list(cfg.context_channels),
            diffusion_t=VDiffusion, sampler_t=VSampler, use_embedding_cfg=True, embedding_max_length=1,
            embedding_features=512, cross_attentions=list(cfg.cross_attentions),
            modulation_features=cfg.modulation_features,
        )
        enc = Encoder1d(in_channels=1, channels=cfg.encoder_channels, multipliers=list(cfg.encoder_multipliers),
                        factors=list(cfg.factors), num_blocks=list(cfg.encoder_blocks),
                        resnet_groups=cfg.encoder_groups, patch_size=1)
        state = ours.state_dict()
        lib.load_state_dict({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})
        enc.load_state_dict({k[len("onsets_encoder."):]: v for k, v in state.items()
                             if k.startswith("onsets_encoder.")})
        lib, enc = lib.to(device).eval(), enc.to(device).eval()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def inputs(b: int):  # type: ignore[no-untyped-def]
        g = torch.Generator().manual_seed(b)
        track = torch.zeros(b, 1, cfg.window)
        for i in range(b):
            track[i, 0, torch.randint(0, cfg.window, (12,), generator=g)] = 1.0
        return (torch.randn(b, 1, cfg.window, generator=g).to(device), track.to(device),
                torch.randn(b, 1, 512, generator=g).to(device))

    def run_ours(b: int, steps: int) -> float:
        noise, track, emb = inputs(b)
        sample(ours, noise, track, emb, steps=1, guidance=args.guidance)  # warm-up
        sync()
        t = time.perf_counter()
        sample(ours, noise, track, emb, steps=steps, guidance=args.guidance)
        sync()
        return time.perf_counter() - t

    @torch.no_grad()
    def run_baseline(b: int, steps: int) -> float:
        noise, track, emb = inputs(b)
        _, info = enc(track, with_info=True)
        lib.sample(noise, num_steps=1, channels=info["xs"][2:-1], embedding=emb, embedding_scale=args.guidance)
        sync()
        t = time.perf_counter()
        _, info = enc(track, with_info=True)
        lib.sample(noise, num_steps=steps, channels=info["xs"][2:-1], embedding=emb, embedding_scale=args.guidance)
        sync()
        return time.perf_counter() - t

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}; model: {args.config}; window 2**{cfg.window.bit_length() - 1} samples "
          f"({window_s:.2f} s); guidance {args.guidance:g}")
    if args.measure:
        print(f"each case: {args.measure} steps timed after a warm-up, scaled linearly to the step count")
    print(f"{'steps':>5} {'batch':>5} {'baseline s/window':>18} {'x RT':>7} {'syncfoley s/window':>19} {'x RT':>7} "
          f"{'speed-up':>9}")
    for steps in [int(s) for s in args.steps.split(",")]:
        for b in [int(x) for x in args.batches.split(",")]:
            timed = args.measure if args.measure and args.measure < steps else steps
            scale = steps / timed
            mine = run_ours(b, timed) * scale / b
            base = run_baseline(b, timed) * scale / b if lib is not None else float("nan")
            print(f"{steps:>5} {b:>5} {base:>18.3f} {window_s / base:>7.2f} {mine:>19.3f} {window_s / mine:>7.2f} "
                  f"{base / mine:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
