"""``syncfoley``: the command line, a thin layer over :mod:`syncfoley.bridge.api`.

Only argparse is imported at start-up, so ``--help`` answers at once; each command
imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn, Optional, Sequence

from syncfoley.bridge.requests import ConformRequest, DemoRequest, DetectRequest, GenerateRequest, RunRequest
from syncfoley.engine.generate.sound import SoundOptions

PROG = "syncfoley"


def _version() -> str:
    from syncfoley.core.version import version

    return version()


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"{PROG} {_version()}")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors in the one error format (``error [usage]``, status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error [usage]: {message}; see '{self.prog} --help'\n")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


_TYPES: dict[str, Callable[[str], Any]] = {"int": int, "num": _number}


def _add_fields(sp: argparse.ArgumentParser, cls: Any, *, skip: Sequence[str] = (),
                require: Sequence[str] = ()) -> None:
    """The request type's fields as options, read from their one definition (help, metavar,
    default). An option left out is absent from the namespace, so the type's default holds."""
    groups: dict[str, Any] = {}
    for name, (spec, default) in cls.specs().items():
        if not spec.cli or name in skip:
            continue
        flags = spec.flags or ("--" + name.replace("_", "-"),)
        if not flags[0].startswith("-"):
            sp.add_argument(name, help=spec.help)
            continue
        title = {"diffusion": "diffusion engine", "clap": "diffusion engine"}.get(spec.group) or \
            ("sound" if name in _SOUND else "")
        if title and title not in groups:
            groups[title] = sp.add_argument_group(title)
        target = groups[title] if title else sp
        shown = "" if default is None or default is False or default == () else f"; default {default}"
        kw: dict[str, Any] = {"help": spec.help + shown, "default": argparse.SUPPRESS}
        if spec.kind == "bool":
            kw["action"] = "store_true"
        elif spec.kind == "paths_in":
            kw.update(action="append", metavar=spec.metavar)
        else:
            kw.update(type=_TYPES.get(spec.kind, str), metavar=spec.metavar)
        if name in require:
            kw["required"] = True
        target.add_argument(*flags, dest=name, **kw)


def _given(args: argparse.Namespace, cls: Any) -> Any:
    """The request type built from the options given on the command line."""
    return cls.from_dict({k: v for k, v in vars(args).items() if k in cls.specs()})


# Sound fields go in the help's "sound" group.
_SOUND = frozenset(SoundOptions.specs())


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Foley in sync with picture: detect action onsets, render Foley on them.",
    )
    p.add_argument("--version", action=_VersionAction)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def quiet(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--overwrite", action="store_true", help="replace existing outputs")
        quiet(sp)

    run = sub.add_parser("run", help="detect onsets in a video and render a Foley track on them")
    _add_fields(run, RunRequest)
    quiet(run)
    run.set_defaults(func=cmd_run)

    det = sub.add_parser("detect", help="detect onsets in a video and write them as JSON, MIDI or CSV")
    _add_fields(det, DetectRequest)
    det.add_argument("-o", "--output", action="append", default=[], metavar="FILE",
                     help="onsets file: .json, .mid or .csv (repeat for several)")
    det.add_argument("--plot", metavar="PNG", help="draw the detector's curve and the onsets (.png, .pdf, .svg)")
    det.add_argument("--truth", metavar="FILE", help="true onsets (.json, .mid, .csv) to draw on the plot")
    det.add_argument("--note", type=int, default=60, help="MIDI note number of the onsets (default 60)")
    quiet(det)
    det.set_defaults(func=cmd_detect)

    gen = sub.add_parser("generate", help="render a Foley WAV from an onsets file (JSON, MIDI or CSV)")
    _add_fields(gen, GenerateRequest, require=("onsets", "output"))
    quiet(gen)
    gen.set_defaults(func=cmd_generate)

    em = sub.add_parser("embed", help="write the CLAP embedding of a recording or a text prompt (.npy)")
    em.add_argument("reference", nargs="?", metavar="REF.wav", help="recording of the sound")
    em.add_argument("--text", metavar="PROMPT", help="describe the sound instead of giving a recording")
    em.add_argument("-o", "--output", required=True, metavar="NPY", help="embedding file to write (.npy)")
    em.add_argument("--clap", metavar="PT", help="LAION-CLAP checkpoint (default: $SYNCFOLEY_CLAP_CHECKPOINT)")
    em.add_argument("--clap-tokenizer", metavar="DIR", help="roberta-base's tokenizer folder (vocab.json, "
                    "merges.txt) for --text (default: $SYNCFOLEY_CLAP_TOKENIZER, else the Hugging Face cache)")
    em.add_argument("--diffusion-checkpoint", metavar="CKPT",
                    help="take CLAP's weights from this SyncFusion checkpoint (its clap.* entries)")
    em.add_argument("--device", default="auto", help="auto (CUDA if there is a GPU), cpu or cuda")
    common(em)
    em.set_defaults(func=cmd_embed)

    ev = sub.add_parser("eval", help="score audio against its onsets with SyncFusion's protocol (JSON out)")
    ev.add_argument("audio", help="generated audio file")
    ev.add_argument("--onsets", required=True, metavar="FILE", help="the onsets it was rendered for")
    ev.add_argument("--reference", metavar="WAV", help="a real recording, for a spectral distance")
    ev.add_argument("--offset", type=_number, help="source time at which the audio starts")
    ev.add_argument("--tolerance", type=_number, default=0.1, help="match window in seconds (default 0.1)")
    ev.set_defaults(func=cmd_eval)

    tr = sub.add_parser("train-onset", help="train SyncFusion's onset network on videos with NAME.times.csv onsets")
    tr.add_argument("data", metavar="DATA_DIR", help="folder of videos, each with a NAME.times.csv of onset times")
    tr.add_argument("-o", "--output", required=True, metavar="CKPT", help="checkpoint to write (.ckpt)")
    tr.add_argument("--init", metavar="CKPT", help="start from this checkpoint (fine-tuning) instead of random weights")
    tr.add_argument("--net", default="syncfusion", metavar="NAME",
                    help="network size for a fresh start: syncfusion (the published one) or tiny; default syncfusion")
    tr.add_argument("--epochs", type=int, default=10, help="passes over the data (default 10)")
    tr.add_argument("--steps", type=int, help="stop after this many optimiser steps")
    tr.add_argument("--batch-size", type=int, default=16, help="clips per step (default 16, as published)")
    tr.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate (default 1e-4)")
    tr.add_argument("--val", type=float, default=0.1, metavar="SHARE", help="share of videos held out (default 0.1)")
    tr.add_argument("--no-augment", action="store_true", help="no random crops or colour jitter")
    tr.add_argument("--cache", metavar="DIR", help="keep decoded frames here between runs (default: a temporary folder)")
    tr.add_argument("--device", default="auto", help="auto (CUDA if there is a GPU), cpu or cuda")
    tr.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    common(tr)
    tr.set_defaults(func=cmd_train_onset)

    tm = sub.add_parser("train-motion", help="train the physics detector's networks (auto's picture detector) on videos with "
                                                "NAME.times.csv impacts")
    tm.add_argument("data", metavar="DATA_DIR", nargs="+",
                    help="folders of videos, each with a NAME.times.csv of impact times "
                         "(and optionally NAME.ignore.csv: contacts to count neither way)")
    tm.add_argument("-o", "--output", required=True, metavar="NPZ", help="weights to write (.npz); use them with "
                                                                         "--motion-weights or $SYNCFOLEY_MOTION_WEIGHTS")
    tm.add_argument("--val", metavar="DIR", help="validation videos (calibration and the default threshold); "
                                                  "default: a fifth of DATA_DIR's videos held out")
    tm.add_argument("--epochs", type=int, default=None, help="passes over the data (default 60)")
    tm.add_argument("--hidden", type=int, default=None, help="units per hidden layer (default 64)")
    tm.add_argument("--members", type=int, default=None,
                    help="networks in the committee, each from its own seed; their mean scores (default 3)")
    tm.add_argument("--cache", metavar="DIR", help="keep extracted motion features here between runs")
    tm.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    common(tm)
    tm.set_defaults(func=cmd_train_motion)

    tu = sub.add_parser("tune-motion", help="fit the motion scorer's onset verifier, calibration and default "
                                            "threshold on annotated videos, keeping its networks")
    tu.add_argument("data", metavar="DATA_DIR", nargs="+", help="folders of videos with NAME.times.csv impacts "
                                                                "(the layout train-motion reads)")
    tu.add_argument("-o", "--output", required=True, metavar="NPZ", help="tuned weights to write (.npz)")
    tu.add_argument("--motion-weights", metavar="NPZ", help="the scorer to tune (default: "
                                                            "$SYNCFOLEY_MOTION_WEIGHTS, else the bundled one)")
    tu.add_argument("--cache", metavar="DIR", help="keep extracted motion features here between runs")
    tu.add_argument("--no-verifier", dest="verifier", action="store_false",
                    help="refit only the calibration and threshold, without the onset verifier (which needs "
                         "scikit-learn and a few dozen annotated videos)")
    tu.add_argument("--seed", type=int, default=0, help="random seed of the verifier (default 0)")
    common(tu)
    tu.set_defaults(func=cmd_tune_motion)

    co = sub.add_parser("conform", help="Foley for a whole cut: EDL/OTIO/FCP XML in, a Foley track conformed "
                                        "to the edit out (re-conforms redo only what changed)")
    _add_fields(co, ConformRequest, require=("outdir",))
    quiet(co)
    co.set_defaults(func=cmd_conform)

    sv = sub.add_parser("serve", help="run the engine daemon: OSC requests over UDP, jobs kept warm on the GPU")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --token)")
    sv.add_argument("--port", type=int, default=9000, help="UDP port (default 9000; 0 picks a free one)")
    sv.add_argument("--workdir", default=None, metavar="DIR",
                    help="job records, outputs and the log (default ~/.cache/syncfoley/daemon)")
    sv.add_argument("--token", default=None, help="secret every request must carry (default: $SYNCFOLEY_TOKEN)")
    sv.add_argument("--media-root", action="append", default=[], metavar="DIR",
                    help="only read media under this folder (repeat; default: anywhere you can read)")
    sv.add_argument("--output-root", action="append", default=[], metavar="DIR",
                    help="also allow writing under this folder (repeat; the workdir always is)")
    sv.add_argument("--queue-limit", type=int, default=32, help="jobs waiting before requests get 'busy' (32)")
    sv.add_argument("--device", default="auto", help="where models run: auto, cpu or cuda")
    sv.add_argument("--ray-address", default=None, metavar="ADDR",
                    help="the Ray cluster (HOST:PORT of its head, or 'auto') that conform requests with executor "
                         "ray run on; the only one they may use (default: a Ray started on this machine per conform)")
    sv.add_argument("-q", "--quiet", action="store_true", help="log to the workdir only, not to stderr")
    sv.set_defaults(func=cmd_serve)

    sd = sub.add_parser("send", help="send one OSC request to the daemon (for scripts without sockets)")
    sd.add_argument("address", help="ping, status, cancel, shutdown, detect, generate, run (or a full /syncfoley/ path)")
    sd.add_argument("json", nargs="?", help="the request as a JSON object, or @FILE to read it from FILE (so no "
                                            "shell or command line has to carry it)")
    sd.add_argument("--host", default="127.0.0.1")
    sd.add_argument("--port", type=int, default=9000)
    sd.add_argument("--wait", action="store_true", help="wait for the job: progress on stderr, the result on stdout")
    sd.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for a job (default 3600)")
    sd.add_argument("--token", default=None, help="added to the request (default: $SYNCFOLEY_TOKEN)")
    sd.add_argument("--result", default=None, metavar="FILE",
                    help="write the result (what stdout would show) to FILE, atomically; FILE must not exist")
    sd.add_argument("--log", default=None, metavar="FILE",
                    help="append the progress lines and any error to FILE instead of stderr")
    sd.add_argument("--exit-status", default=None, metavar="FILE",
                    help="when done, write the exit status to FILE (atomically, after --result), whatever "
                         "happened: what a caller that cannot wait on the process polls for")
    sd.set_defaults(func=cmd_send)

    ins = sub.add_parser("install-scripts", help="copy the REAPER or Resolve scripts into that program's "
                                                 "per-user script folder")
    ins.add_argument("target", help="reaper or resolve")
    ins.add_argument("--dest", metavar="DIR", help="copy here instead of the program's folder")
    ins.add_argument("--overwrite", action="store_true", help="replace scripts installed before")
    ins.set_defaults(func=cmd_install_scripts)

    dm = sub.add_parser("demo", help="write a cut with known impacts (clips, an EDL, the true hits) to try "
                                     "'syncfoley conform' without footage")
    _add_fields(dm, DemoRequest)
    dm.set_defaults(func=cmd_demo)

    pr = sub.add_parser("presets", help="list the material presets")
    pr.set_defaults(func=cmd_presets)
    return p


def _progress(args: argparse.Namespace) -> Any:
    from syncfoley.bridge.progress_bar import TerminalProgress

    return TerminalProgress(sys.stderr, enabled=not getattr(args, "quiet", False))


def _with_progress(args: argparse.Namespace, work: Callable[[Any], Any]) -> Any:
    bar = _progress(args)
    if not getattr(args, "quiet", False) and _first_compile():
        print(f"{PROG}: compiling the signal kernels for this machine (once; about 15 s)", file=sys.stderr,
              flush=True)
    try:
        return work(bar)
    finally:
        bar.close()


def _first_compile() -> bool:
    """Whether numba has no cached machine code for the kernels yet (the first run after
    installing compiles them, silently, for about 15 s)."""
    import os

    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return False
    if os.environ.get("NUMBA_CACHE_DIR"):  # numba keeps its cache there and only there
        caches = [Path(os.environ["NUMBA_CACHE_DIR"])]
    else:  # beside the modules, or (a read-only install) numba's user-wide cache
        root = Path(__file__).resolve().parents[1] / "engine"
        caches = [root / "detect" / "__pycache__", root / "generate" / "__pycache__",
                  Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "numba"]
    return not any(any(c.rglob("*.nbi")) for c in caches if c.is_dir())


def _warn_slow(track: Any) -> None:
    if track.detector == "neural" and track.extra.get("device") == "cpu":
        print(f"{PROG}: note: the onset network ran on the CPU, about 0.3x real time on two cores "
              "(use a CUDA GPU for long files)", file=sys.stderr)


def _warn_partial(track: Any) -> None:
    stopped = track.extra.get("decode_stopped_at")
    if stopped is not None:
        print(f"{PROG}: warning: {track.source} could not be decoded past {stopped:.3f} s "
              f"({track.extra.get('decode_error')}); onsets are only those found before", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from syncfoley.bridge import api

    req = _given(args, RunRequest)
    result = _with_progress(
        args,
        lambda bar: api.run(req.video, req.outdir or ".", detect=req.detect, sound=req.sound,
                            overwrite=req.overwrite, progress=bar),
    )
    _warn_partial(result.track)
    _warn_slow(result.track)
    print(f"{len(result.track.onsets)} onsets ({result.track.detector})")
    for path in (result.onsets_json, result.onsets_midi, result.foley_wav, result.timeline):
        print(path)
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from syncfoley.bridge import api
    from syncfoley.core.atomic import check_writable
    from syncfoley.core.errors import RequestError

    req = _given(args, DetectRequest)
    outputs = [Path(o) for o in args.output]
    if not outputs and not args.plot:
        raise RequestError("nothing to write: give -o FILE (.json, .mid, .csv) and/or --plot PNG")
    for o in outputs:
        if api.onset_format(o) == "midi":
            from syncfoley.adapters.midi import check_note

            check_note(args.note)  # before the work, not after a detection
    if args.plot:
        from syncfoley.adapters import plot

        plot.check(args.plot)  # before the work: a missing matplotlib must not cost a detection
    check_writable(outputs + ([Path(args.plot)] if args.plot else []), req.overwrite)
    truth = api.load_onsets(args.truth).times() if args.truth else None
    track = _with_progress(args, lambda bar: api.detect(req.video, req.detect, progress=bar))
    _warn_partial(track)
    _warn_slow(track)
    from syncfoley.core.atomic import output_set

    with output_set():
        for o in outputs:
            api.save_onsets(track, o, overwrite=req.overwrite, note=args.note)
        if args.plot:
            from syncfoley.adapters import plot

            outputs.append(plot.write(track, args.plot, truth, overwrite=req.overwrite))
    print(f"{len(track.onsets)} onsets ({track.detector})")
    for o in outputs:
        print(o)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from syncfoley.bridge import api
    from syncfoley.core.atomic import check_writable

    req = _given(args, GenerateRequest)
    check_writable([Path(req.output)], req.overwrite)
    track = api.load_onsets(req.onsets)
    request = api.generation_request(track, start=req.start, duration=req.duration, sound=req.sound,
                                     device=req.device)
    engine = api.check_request(request)
    if engine == "diffusion":
        _warn_slow_diffusion(request.diffusion.device)
    result = _with_progress(args, lambda bar: api.render(request, progress=bar))
    api.write_wav(req.output, result.audio, request.sample_rate, overwrite=req.overwrite)
    print(f"{result.engine} engine" + (f" ({result.info['embedding']})" if "embedding" in result.info else ""))
    print(req.output)
    return 0


def _warn_slow_diffusion(device: str) -> None:
    from syncfoley.engine.models.checkpoints import pick_device

    if pick_device(device) == "cpu":
        print(f"{PROG}: note: the diffusion engine is running on the CPU, which is slow: the published model "
              "takes about 5 s per step for each 5.5 s window on two cores; a CUDA GPU is far faster",
              file=sys.stderr)


def cmd_embed(args: argparse.Namespace) -> int:
    from syncfoley.bridge import api

    out = api.embed(args.output, reference=args.reference, text=args.text, clap=args.clap,
                    diffusion_checkpoint=args.diffusion_checkpoint, device=args.device, overwrite=args.overwrite,
                    clap_tokenizer=args.clap_tokenizer)
    print(out)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from syncfoley.bridge import api

    track = api.load_onsets(args.onsets)
    scores = api.evaluate(args.audio, track, offset=args.offset, reference=args.reference, tolerance=args.tolerance)
    print(json.dumps(scores.to_dict(), indent=2))
    return 0


def cmd_train_onset(args: argparse.Namespace) -> int:
    from syncfoley.bridge import api

    config = api.TrainConfig(
        net=args.net, epochs=args.epochs, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        val_fraction=args.val, augment=not args.no_augment, seed=args.seed, device=args.device,
    )
    result = _with_progress(
        args,
        lambda bar: api.train_onset(args.data, args.output, config, init=args.init, cache=args.cache,
                                    overwrite=args.overwrite, progress=bar),
    )
    print(f"{result.steps} steps, {result.epochs} epochs on {result.train_videos} videos "
          f"({result.val_videos} held out)")
    if result.losses:
        print(f"training loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f}")
    if result.val_losses:
        print(f"held-out loss {result.val_losses[0]:.4f} -> {result.val_losses[-1]:.4f}")
    print(result.checkpoint)
    return 0


def cmd_train_motion(args: argparse.Namespace) -> int:
    from syncfoley.bridge import api

    given = {"epochs": args.epochs, "hidden": args.hidden, "members": args.members}
    config = api.MotionTrainConfig(seed=args.seed, **{k: v for k, v in given.items() if v is not None})
    result = _with_progress(
        args,
        lambda bar: api.train_motion(args.data, args.output, config, val_dir=args.val, cache=args.cache,
                                     overwrite=args.overwrite, progress=bar),
    )
    print(f"trained on {result.train_videos} videos, validated on {result.val_videos}")
    if result.losses:
        print(f"training loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f}")
    print(f"validation at sensitivity 0.5 (probability >= {result.threshold:.2f}): precision {result.val_precision:.2f}, "
          f"recall {result.val_recall:.2f}, F1 {result.val_f1:.2f} within +-0.1 s")
    print(result.weights)
    return 0


def cmd_tune_motion(args: argparse.Namespace) -> int:
    from syncfoley.bridge import api

    result = _with_progress(
        args,
        lambda bar: api.tune_motion(args.data, args.output, weights=args.motion_weights, cache=args.cache,
                                    overwrite=args.overwrite, progress=bar, verifier=args.verifier, seed=args.seed),
    )
    videos = f"{result.videos} video" + ("s" if result.videos != 1 else "")
    how = " (onset verifier, out of fold)" if args.verifier else ""
    print(f"tuned on {videos}{how}: at sensitivity 0.5 (probability >= {result.threshold:.2f}) "
          f"precision {result.val_precision:.2f}, recall {result.val_recall:.2f}, F1 {result.val_f1:.2f} within +-0.1 s")
    print(result.weights)
    return 0


def cmd_conform(args: argparse.Namespace) -> int:
    from syncfoley.bridge import api
    from syncfoley.bridge.conform.outputs import event_plan_row

    req = _given(args, ConformRequest)
    if req.dry_run:
        plan = api.conform_plan(req.timeline, req.media_root, req.options, cache=req.cache)
        for ep in plan.events:
            print(event_plan_row(ep))
        for problem in plan.problems:
            print(f"   -  skip     {problem}")
        s = plan.summary()
        unread = f"; {s['unread']} line(s) could not be read" if s["unread"] else ""
        print(f"{s['events']} events: {s['compute']} to compute, {s['reuse']} to reuse, {s['skipped']} skipped"
              f"{unread}")
        return 0 if s["skipped"] == 0 and s["unread"] == 0 else 1
    result = _with_progress(
        args,
        lambda bar: api.conform(req.timeline, req.outdir, req.media_root, req.options, cache=req.cache,
                                overwrite=req.overwrite, progress=bar),
    )
    for problem in result.problems:
        print(f"{PROG}: skipped: {problem}", file=sys.stderr)
    unread = len(result.problems) - result.skipped
    print(f"{result.events} events: {result.computed} computed, {result.reused} reused, {result.skipped} skipped"
          + (f"; {unread} line(s) could not be read" if unread > 0 else ""))
    for path in (result.timeline, result.edl, result.stem, result.report):
        print(path)
    # 1, not 2: the outputs were written, but not everything in the cut is in them.
    return 0 if result.complete else 1


def _token(given: Optional[str]) -> Optional[str]:
    """--token, else $SYNCFOLEY_TOKEN; blank is no token (a secret of spaces protects nothing)."""
    import os

    token = given if given is not None else os.environ.get("SYNCFOLEY_TOKEN")
    return token if token is not None and token.strip() else None


def cmd_serve(args: argparse.Namespace) -> int:

    from syncfoley.bridge.daemon.server import ServeConfig, serve

    kw: dict[str, Any] = {}
    if args.workdir:
        kw["workdir"] = Path(args.workdir)
    cfg = ServeConfig(
        host=args.host, port=args.port, token=_token(args.token),
        media_roots=tuple(Path(r) for r in args.media_root), output_roots=tuple(Path(r) for r in args.output_root),
        queue_limit=args.queue_limit, device=args.device, verbose=not args.quiet, ray_address=args.ray_address, **kw,
    )

    def ready(address: tuple[str, int]) -> None:
        print(f"{PROG} serve: listening on udp://{address[0]}:{address[1]}", file=sys.stderr, flush=True)

    return serve(cfg, ready)


REQUEST_FILE_LIMIT = 1 << 20  # a request is a few KB; a bigger file is a mistake


def _request_text(given: Optional[str]) -> Optional[str]:
    """The request as given, or read from ``@FILE``."""
    from syncfoley.core.errors import RequestError

    if given is None or not given.startswith("@"):
        return given
    path = Path(given[1:])
    try:
        with path.open("rb") as fh:
            data = fh.read(REQUEST_FILE_LIMIT + 1)
    except OSError as exc:
        raise RequestError(f"cannot read the request file {path}: {exc.strerror or exc}") from None
    if len(data) > REQUEST_FILE_LIMIT:
        raise RequestError(f"the request file {path} is over {REQUEST_FILE_LIMIT} bytes; a request is a JSON object "
                           "of a few KB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestError(f"the request file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


class _SendLog:
    """Where ``send`` reports: stderr, or the ``--log`` file (a line at a time, flushed, so a poller sees it)."""

    def __init__(self, path: Optional[str]) -> None:
        self.fh = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115  (closed in close())

    def line(self, text: str) -> None:
        out = self.fh or sys.stderr
        print(text, file=out, flush=True)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def cmd_send(args: argparse.Namespace) -> int:
    from syncfoley.core.atomic import atomic_path
    from syncfoley.core.errors import SyncfoleyError

    status = 2
    log = _SendLog(None)
    try:
        log = _SendLog(args.log)
        status = _send(args, log)
        return status
    except SyncfoleyError as exc:
        if log.fh is not None:
            log.line(f"{PROG}: error [{exc.code}]: {exc}")
        raise
    except OSError as exc:
        if log.fh is not None:
            log.line(f"{PROG}: error [os]: {exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}")
        raise
    except KeyboardInterrupt:
        status = 130
        raise
    finally:
        log.close()
        if args.exit_status:
            # Last, and whatever happened: a caller polling for this file must never wait for ever.
            with atomic_path(args.exit_status, overwrite=True) as tmp:
                tmp.write_text(f"{status}\n", encoding="ascii")


def _send(args: argparse.Namespace, log: _SendLog) -> int:
    from syncfoley.bridge.daemon import client as osc_client
    from syncfoley.core.atomic import atomic_path, check_writable
    from syncfoley.core.errors import SyncfoleyError

    if args.result:
        check_writable([Path(args.result)], overwrite=False)
    if log.fh is not None:  # a first line at once: the caller knows the command ran
        log.line(f"sending {args.address} to {args.host}:{args.port}")
    payload = _request_text(args.json)
    token = _token(args.token)
    if token:
        try:
            data = json.loads(payload) if payload else {}
        except (ValueError, RecursionError) as exc:
            raise SyncfoleyError(f"the request is not JSON ({exc})", code="bad_json") from None
        if not isinstance(data, dict):
            raise SyncfoleyError("the request must be a JSON object", code="bad_json")
        payload = json.dumps({**data, "token": token})

    def show(reply: "osc_client.Reply") -> None:
        if reply.kind == "progress" and len(reply.args) >= 3:
            log.line(f"progress {reply.args[0]} {float(reply.args[1]):.3f} {reply.args[2]}")
        elif reply.kind == "accepted" and args.wait:
            log.line(f"accepted {reply.args[0]}")

    # An error reply is a ClientError, printed by main with the daemon's code.
    final = osc_client.send(args.address, payload, host=args.host, port=args.port, wait=args.wait,
                            timeout=args.timeout, on_reply=show)
    if final.kind in ("done", "status"):
        text = str(final.args[-1])
    else:
        text = " ".join([final.kind, *(str(a) for a in final.args)])
    if args.result:
        with atomic_path(args.result) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def cmd_install_scripts(args: argparse.Namespace) -> int:
    from syncfoley.bridge.install_scripts import install

    for path in install(args.target, args.dest, args.overwrite):
        print(path)
    hint = {"reaper": "in REAPER: Actions > Show action list > New action > Load ReaScript",
            "resolve": "in Resolve: Workspace > Scripts > Edit"}.get(args.target)
    if hint:
        print(f"{PROG}: {hint}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from syncfoley.bridge import api

    req = _given(args, DemoRequest)
    files = api.demo(req.outdir, **{k: v for k, v in req.to_dict().items() if k != "outdir"})
    impacts = len(files.cut.truth())
    print(f"{len(files.cut.events)} events from {len(files.cut.sources)} clips, {impacts} impacts on picture")
    for path in (files.edl, files.media, files.truth):
        print(path)
    out = Path(req.outdir)
    print(f"{PROG}: try: {PROG} conform {out / 'cut.edl'} --media-root {out / 'media'} -o {out / 'foley'}",
          file=sys.stderr)
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from syncfoley import presets

    for name in presets.names():
        p = presets.load(name)
        print(f"{name:<10} {p.description}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    from syncfoley.core.errors import SyncfoleyError

    # Exit status: 0 done, 1 done with problems (a conform that skipped events), 2 a user error
    # (one line, with its stable code), 130 interrupted; anything else is a bug, with its traceback.
    try:
        return int(args.func(args))
    except SyncfoleyError as exc:
        print(f"{PROG}: error [{exc.code}]: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # The file system said no (permissions, a full disk): the user's to fix.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{PROG}: error [os]: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
