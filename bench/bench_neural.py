"""Speed of SyncFusion's onset network: seconds of video analysed per second.

Network only (random weights of the published size unless --checkpoint; clips as
the detector feeds them: 2 s at 15 fps, 112x112, half-overlapping, so one clip per
second of video), and with --video the whole detector on a file beside the bare
decode of the same file to 112x112 RGB (the baseline, same run).

    python bench/bench_neural.py [--device auto|cpu|cuda] [--seconds 60] [--batch 8]
                                 [--checkpoint CKPT] [--net syncfusion|tiny] [--video FILE]
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of video to simulate")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--checkpoint")
    parser.add_argument("--net", default="syncfusion")
    parser.add_argument("--video")
    args = parser.parse_args(argv)

    import torch

    from syncfoley.engine.detect.onset_checkpoint import load_onset_model
    from syncfoley.engine.detect.onset_net import CONFIGS, VideoOnsetNet
    from syncfoley.engine.models.checkpoints import pick_device

    device = pick_device(args.device)
    net = load_onset_model(args.checkpoint, device) if args.checkpoint else VideoOnsetNet(CONFIGS[args.net]).to(device).eval()
    cfg = net.cfg
    half = device == "cuda"
    if half:
        net = net.half()
    clips = max(1, int(round(args.seconds * cfg.fps / (cfg.window // 2))))
    x = torch.randn(args.batch, 3, cfg.window, cfg.size, cfg.size, device=device)
    x = x.half() if half else x

    def run(n: int) -> None:
        with torch.inference_mode():
            for _ in range(0, n, args.batch):
                net(x)
        if device == "cuda":
            torch.cuda.synchronize()

    run(args.batch)  # warm-up: cuDNN autotuning, lazy allocations
    t0 = time.perf_counter()
    run(clips)
    secs = time.perf_counter() - t0
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"device: {device} ({name}), torch {torch.__version__}, {'fp16' if half else 'fp32'}, batch {args.batch}")
    print(f"network only: {clips} clips ({args.seconds:.0f} s of video) in {secs:.2f} s -> "
          f"{args.seconds / secs:.1f}x real time")

    if args.video:
        from syncfoley.bridge import api
        from syncfoley.engine.media import video as media

        info = media.probe(args.video)
        span = media.check_range(info, None, None)
        t0 = time.perf_counter()
        for _ in media.iter_frames(args.video, span, cfg.size, cfg.size, "rgb24"):
            pass
        decode = time.perf_counter() - t0
        if args.checkpoint is None:
            print("(--video needs --checkpoint: the detector loads its weights from a file)")
            return 0
        t0 = time.perf_counter()
        track = api.detect(args.video, detector="neural", checkpoint=args.checkpoint, device=device)
        detect = time.perf_counter() - t0
        print(f"file: {args.video} ({info.duration:.1f} s, {info.width}x{info.height} @ {info.fps:.3f} fps)")
        print(f"decode to {cfg.size}x{cfg.size}: {decode:.2f} s ({info.duration / decode:.1f}x real time)")
        print(f"neural detect: {detect:.2f} s ({info.duration / detect:.1f}x real time, "
              f"{detect / decode:.2f}x the decode), {len(track.onsets)} onsets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
