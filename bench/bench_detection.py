"""Accuracy and speed of the picture detectors on the physics corpus's test split.

Per scene family: true impacts, onsets found, precision, recall and F1 within +-0.1 s
and within +-1 frame (one-to-one matching; an onset near a contact in the corpus's
"band", too gentle to call either way, counts neither way; on smooth-only clips every
onset is false). Pooled over all clips: the same, and the ROC AUC of confidence and of
strength as separators of true from false onsets, 95% intervals of the pooled precision,
recall, F1 and confidence AUC from resampling the clips, the recall by the impacts'
approach speed, and how strength ranks with the approach speed of the impacts found
(Spearman: strength should follow the violence of the hit). Then the speed: motion analysis of a
60 s 1080p25 H.264 clip against a bare decode of the same file by the ffmpeg command line
(``ffmpeg -threads 2 -i X -f null -``), the same decode on one thread (what bounds detection
when the two take about as long), and peak memory against a 15 s clip; the timed call includes
Python's start-up and imports, as a user's command would.

    python bench/physics_corpus.py CORPUS/test --split test --count 48   # once (about 10 min)
    python bench/bench_detection.py CORPUS/test [--detector physics|motion] [--sensitivity 0.5] [--speed] [--own]

``--own`` adds the project's own demo scenes (the detector must keep F1 >= 0.95 there).
Your own footage, annotated as ``syncfoley train-motion`` reads it (``NAME.times.csv`` of
impact times beside each video, ``NAME.ignore.csv`` of contacts to count neither way, folders
searched recursively), is judged the same way, under the family ``unnamed`` and without the
breakdown by approach speed, which needs a generator's truth::

    python bench/bench_detection.py MY_ANNOTATED_FOOTAGE
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent


def pairs(found: list[float], truth: list[float], tol: float) -> dict[int, int]:
    """One-to-one matching within ``tol``, each true impact in turn taking the nearest free
    onset: true impact index -> onset index."""
    taken: dict[int, int] = {}
    for j, t in enumerate(truth):
        near = [i for i, d in enumerate(found) if i not in taken.values() and abs(d - t) <= tol]
        if near:
            taken[j] = min(near, key=lambda i: abs(found[i] - t))
    return taken


def matched(taken: dict[int, int], count: int) -> list[bool]:
    """Per onset of ``count``, whether :func:`pairs` matched it to a true impact."""
    used = set(taken.values())
    return [i in used for i in range(count)]


def match(found: list[float], truth: list[float], tol: float) -> tuple[list[bool], int]:
    """Per onset whether it matched a true impact (see :func:`pairs`), and the count."""
    taken = pairs(found, truth, tol)
    return matched(taken, len(found)), len(taken)


# Approach speeds (picture widths per second) the recall is broken down by: the truth
# starts at 0.2, and the slow impacts are where the detector loses most.
SPEED_BINS = (0.2, 0.3, 0.4, 0.6, 1.0, 1.5, 2.5)


def recall_by_speed(speeds: list[float], found: list[bool]) -> list[tuple[str, int, float]]:
    """Per approach-speed bin: its label, the true impacts in it and the share found."""
    edges = (*SPEED_BINS, float("inf"))
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        got = [f for s, f in zip(speeds, found) if lo <= s < hi]
        label = f"{lo:g}-{hi:g}" if hi != float("inf") else f">={lo:g}"
        rows.append((label, len(got), sum(got) / len(got) if got else float("nan")))
    return rows


def judge(found: list[float], truth: list[float], band: list[float], tol: float,
          smooth: bool) -> tuple[dict[int, int], list[bool], list[bool]]:
    """One clip's onsets against its truth: the matching (:func:`pairs`), per onset whether
    it matched, and per onset whether it counts neither way (unmatched, but within ``tol``
    of a contact in the band; on a smooth-only clip every unmatched onset is false)."""
    taken = pairs(found, truth, tol)
    ok = matched(taken, len(found))
    neutral = [not o and not smooth and any(abs(d - b) <= tol for b in band) for d, o in zip(found, ok)]
    return taken, ok, neutral


def false_onsets(ok: list[bool], neutral: list[bool]) -> int:
    """The false onsets of :func:`judge`'s verdicts: matched no impact, and near no contact of the band."""
    return sum(1 for o, n in zip(ok, neutral) if not o and not n)


def auc(scores: list[float], labels: list[bool]) -> float:
    """The share of (true, false) pairs the score orders rightly, ties counting half (by ranks:
    the bootstrap below computes it thousands of times)."""
    from scipy.stats import rankdata

    lab = np.asarray(labels, bool)
    n_pos, n_neg = int(lab.sum()), int((~lab).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(np.asarray(scores, np.float64))
    return float((ranks[lab].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def prf(hits: int, false: int, truth: int) -> tuple[float, float, float]:
    p = hits / (hits + false) if hits + false else float("nan")
    r = hits / truth if truth else float("nan")
    f = 2 * p * r / (p + r) if truth and hits else (0.0 if truth else float("nan"))
    return p, r, f


@dataclass(frozen=True)
class ClipCount:
    """One clip's part of the pooled figures: true impacts, those found and the false onsets
    within 0.1 s, and (confidence, true?) of each onset that counts either way."""

    truth: int
    hits: int
    false: int
    onsets: tuple[tuple[float, bool], ...] = ()


def pooled_figures(counts: list[ClipCount]) -> tuple[float, float, float, float]:
    """Precision, recall, F1 within 0.1 s and the confidence ROC AUC, pooled over ``counts``."""
    p, r, f = prf(sum(c.hits for c in counts), sum(c.false for c in counts), sum(c.truth for c in counts))
    onsets = [o for c in counts for o in c.onsets]
    return p, r, f, auc([o[0] for o in onsets], [o[1] for o in onsets])


def bootstrap_intervals(counts: list[ClipCount], draws: int = 2000, seed: int = 0,
                        level: float = 0.95) -> list[tuple[float, float]]:
    """Intervals for :func:`pooled_figures` from resampling the clips with replacement.

    A test split is a sample of clips: an impact's neighbours in one clip share its picture,
    camera and codec, so the clip is what is drawn, not the onset. Draws where a figure is
    undefined (an AUC with no false onset drawn) are left out of that figure's interval.
    """
    rng = np.random.default_rng(seed)
    drawn = np.array([pooled_figures([counts[i] for i in rng.integers(0, len(counts), len(counts))])
                      for _ in range(draws)])
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    out = []
    for column in drawn.T:
        column = column[~np.isnan(column)]
        out.append((float(np.percentile(column, lo)), float(np.percentile(column, hi))) if len(column)
                   else (float("nan"), float("nan")))
    return out


def evaluate(clips: list[tuple[str, Path, dict]], sensitivity: float, detector: str) -> None:
    from syncfoley.bridge import api

    rows: dict[str, dict[str, float]] = {}
    conf: list[float] = []
    strength: list[float] = []
    labels: list[bool] = []
    speeds: list[float] = []
    caught: list[bool] = []
    errors: list[float] = []  # onset minus impact, in frames, for the pairs matched within 0.1 s
    violence: list[tuple[float, float]] = []  # (strength, the impact's approach speed) per pair within 0.1 s
    counts: list[ClipCount] = []
    for family, path, truth in clips:
        track = api.detect(path, detector=detector, sensitivity=sensitivity)
        found = track.times()
        true_t = [i["time"] for i in truth["impacts"]]
        band_t = [i["time"] for i in truth.get("band", [])]
        frame = 1.0 / float(track.fps)
        row = rows.setdefault(family, dict(truth=0, found=0, h1=0, f1=0, hf=0, ff=0, astray=0))
        row["truth"] += len(true_t)
        for tol, hk, fk in ((0.1, "h1", "f1"), (frame, "hf", "ff")):
            taken, ok, neutral = judge(found, true_t, band_t, tol, family == "smooth")
            false = false_onsets(ok, neutral)
            row[hk] += len(taken)
            row[fk] += false
            if tol == 0.1:
                row["found"] += len(found)
                row["astray"] += sum(1 for o in ok if not o)
                # Footage annotated by its times alone has no approach speeds to break recall down by.
                speed_of = [i.get("speed") for i in truth["impacts"]]
                speeds += [float(v) for v in speed_of if v is not None]
                caught += [j in taken for j, v in enumerate(speed_of) if v is not None]
                errors += [(found[i] - true_t[j]) / frame for j, i in taken.items()]
                violence += [(track.onsets[i].strength, float(v)) for j, i in taken.items()
                             if (v := speed_of[j]) is not None]
                kept = [(onset, o) for o, n, onset in zip(ok, neutral, track.onsets) if not n]
                conf += [onset.confidence for onset, _ in kept]
                strength += [onset.strength for onset, _ in kept]
                labels += [o for _, o in kept]
                counts.append(ClipCount(len(true_t), len(taken), false, tuple((t.confidence, o) for t, o in kept)))
        print(f"  {path.name}: {len(true_t)} true, {len(found)} found", file=sys.stderr)
    print(f"{'family':<10}{'truth':>6}{'found':>6}{'P':>6}{'R':>6}{'F1':>6}{'P@1f':>7}{'R@1f':>6}{'F1@1f':>7}")
    total = dict(truth=0, found=0, h1=0, f1=0, hf=0, ff=0, astray=0)
    for family, row in sorted(rows.items()):
        for k in total:
            total[k] += row[k]
        _row(family, row)
    _row("pooled", total)
    f01, f1f = prf(int(total["h1"]), int(total["f1"]), int(total["truth"]))[2], prf(
        int(total["hf"]), int(total["ff"]), int(total["truth"]))[2]
    print(f"pooled: {total['h1']:.0f} of {total['truth']:.0f} impacts found and {total['f1']:.0f} false within 0.1 s "
          f"(F1 {f01:.3f}); {total['hf']:.0f} and {total['ff']:.0f} within a frame (F1 {f1f:.3f})")
    smooth = rows.get("smooth")
    if smooth is not None:
        # A set-down in the smooth family can land fast enough to be an impact; finding it is
        # a hit (counted above), not an onset where only smooth motion happened.
        print(f"onsets on smooth-only clips: {smooth['astray']:.0f} "
              f"(and {smooth['found'] - smooth['astray']:.0f} on impacts the truth has there)")
    print(f"ROC AUC, true vs false onsets: confidence {auc(conf, labels):.3f}, strength {auc(strength, labels):.3f} "
          f"({sum(labels)} true, {len(labels) - sum(labels)} false)")
    (pl, ph), (rl, rh), (fl, fh), (al, ah) = bootstrap_intervals(counts)
    print(f"95% intervals, the {len(counts)} clips resampled 2000 times: precision {pl:.2f}-{ph:.2f}, "
          f"recall {rl:.2f}-{rh:.2f}, F1 {fl:.2f}-{fh:.2f}, confidence AUC {al:.2f}-{ah:.2f}")
    if speeds:
        print("recall within 0.1 s by approach speed (picture widths/s): " + ", ".join(
            f"{label} {r:.2f} ({n})" for label, n, r in recall_by_speed(speeds, caught) if n))
    if len(violence) > 2:
        from scipy.stats import spearmanr

        rho = spearmanr([v[0] for v in violence], [v[1] for v in violence])[0]
        print(f"strength against the approach speed of the {len(violence)} impacts found: Spearman {rho:.2f} "
              f"(1: louder hits always for faster impacts)")
    if errors:
        e = np.abs(errors)
        print(f"timing of the {len(e)} impacts found within 0.1 s: {np.mean(e <= 0.5):.2f} within half a frame, "
              f"{np.mean(e <= 1):.2f} within one; |error| mean {e.mean():.2f} frames, median {np.median(e):.2f}; "
              f"signed mean {np.mean(errors):+.2f} (late is +)")


def _row(name: str, row: dict[str, float]) -> None:
    p, r, f = prf(int(row["h1"]), int(row["f1"]), int(row["truth"]))
    pf, rf, ff = prf(int(row["hf"]), int(row["ff"]), int(row["truth"]))
    print(f"{name:<10}{row['truth']:>6.0f}{row['found']:>6.0f}{p:>6.2f}{r:>6.2f}{f:>6.2f}{pf:>7.2f}{rf:>6.2f}{ff:>7.2f}")


def own_scenes(detector: str) -> None:
    from syncfoley.bridge import api
    from syncfoley.engine.demo.scenes import catalogue
    from syncfoley.engine.media.video import write_video

    tmp = Path(tempfile.mkdtemp(prefix="syncfoley-own-"))
    hits = false = truth = 0
    for name, scene in catalogue().items():
        path = tmp / f"{name}.mp4"
        write_video(path, scene.frames(), scene.fps)
        found = api.detect(path, detector=detector).times()
        ok, h = match(found, scene.impacts(), 0.1)
        hits, false, truth = hits + h, false + len(found) - h, truth + len(scene.impacts())
        print(f"  own scene {name}: {len(scene.impacts())} true, {len(found)} found, {h} matched")
    p, r, f = prf(hits, false, truth)
    print(f"own scenes pooled: precision {p:.2f}, recall {r:.2f}, F1 {f:.2f}")


def speed_source(clips: list[tuple[str, Path, dict]]) -> Path:
    """The clip ``--speed`` loops: the first H.264 strike clip (what every figure of speed was
    measured on), else the first clip of a family of strikes, else the first clip."""
    return next((path for family, path, _ in clips if family == "strike" and path.suffix == ".mp4"),
                next((path for family, path, _ in clips if "strike" in family), clips[0][1]))


def speed(source: Path, detector: str, seconds: float = 60.0) -> None:
    """Analysis against a bare ffmpeg decode of the same 1080p25 H.264 file; peak memory flat
    with duration. The file is ``source`` looped and scaled to 1080p25 by ffmpeg."""
    print(f"speed: {source.name} looped to {seconds:.0f} s of 1080p25 H.264")
    tmp = Path(tempfile.mkdtemp(prefix="syncfoley-speed-"))
    paths = {}
    for length in (15.0, seconds):
        paths[length] = tmp / f"speed{int(length)}.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "-1", "-i", str(source), "-t", str(length),
                        "-vf", "scale=1920:1080,fps=25", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                        "-an", str(paths[length])], check=True)
    path = paths[seconds]
    ffmpeg, ours, ffmpeg_cpu, ours_cpu, one_thread = [], [], [], [], []
    for _ in range(3):
        secs, cpu = _ffmpeg_decode(path, threads=2)
        ffmpeg.append(secs)
        ffmpeg_cpu.append(cpu)
        one_thread.append(_ffmpeg_decode(path, threads=1)[0])
        secs, _, cpu = _timed_detect(path, detector)
        ours.append(secs)
        ours_cpu.append(cpu)
    a, b = min(ffmpeg), min(ours)
    print(f"{seconds:.0f} s of 1080p25 H.264: ffmpeg bare decode {a:.2f} s, {detector} detection {b:.2f} s: {b / a:.2f}x")
    # Both keep the two cores busy, so the CPU they spend is the other side of the same ratio:
    # what a faster measurement must cut, whatever the machine's neighbours did to the clock.
    ca, cb = min(ffmpeg_cpu), min(ours_cpu)
    print(f"CPU time: ffmpeg {ca:.2f} s, {detector} detection {cb:.2f} s: {cb / ca:.2f}x")
    # The physics detector decodes on every core but one, beside the analysis: on two cores, a
    # detection about as long as this is bound by its decoder, and a cheaper analysis buys no time
    # (docs/physics-detector.md, RULE48).
    print(f"ffmpeg decode on one thread: {min(one_thread):.2f} s ({b / min(one_thread):.2f} of it for the detection)")
    short, long_ = _timed_detect(paths[15.0], detector)[1], _timed_detect(path, detector)[1]
    print(f"peak memory: {short:.0f} MiB for 15 s, {long_:.0f} MiB for {seconds:.0f} s")


def _ffmpeg_decode(path: Path, threads: int) -> tuple[float, float]:
    """Wall and CPU seconds of a bare decode of ``path`` by the ffmpeg command line."""
    t0, c0 = time.perf_counter(), _children_cpu()
    subprocess.run(["ffmpeg", "-v", "error", "-threads", str(threads), "-i", str(path), "-f", "null", "-"], check=True)
    return time.perf_counter() - t0, _children_cpu() - c0


def _children_cpu() -> float:
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _timed_detect(path: Path, detector: str) -> tuple[float, float, float]:
    """Wall seconds, peak MiB and CPU seconds (every thread) of one detection in a fresh process."""
    code = ("import resource,sys,time\nfrom syncfoley.bridge import api\nt=time.perf_counter()\nc=time.process_time()\n"
            "api.detect(sys.argv[1], detector=sys.argv[2])\n"
            "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024, time.process_time()-c)")
    out = subprocess.run([sys.executable, "-c", code, str(path), detector], check=True, capture_output=True, text=True).stdout
    secs, mem, cpu = out.split()
    return float(secs), float(mem), float(cpu)


def environment() -> str:
    """The machine and the libraries the figures came from. The same clips, byte for byte, give
    a slightly different table on another machine or OpenCV (see
    docs/physics-detector.md, "The same clips on another machine"): a table is comparable only
    with one printed under the same line."""
    import platform

    import av
    import cv2

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    simd = ", ".join(name for name, flag in (("AVX2", "avx2"), ("AVX-512", "avx512f")) if flag in flags)
    return (f"machine: {model} ({platform.machine()}{'; ' + simd if simd else ''}); OpenCV {cv2.__version__}, "
            f"NumPy {np.__version__}, PyAV {av.__version__}, Python {platform.python_version()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="?",
                        help="a folder written by physics_corpus.py (its test split) or another generator, or your own "
                             "annotated footage: NAME.times.csv beside each video, NAME.ignore.csv optional")
    parser.add_argument("--sensitivity", type=float, default=0.5)
    parser.add_argument("--detector", default="physics", choices=("physics", "motion"),
                        help="the learned physics detector (default) or the hand-tuned motion detector")
    parser.add_argument("--speed", action="store_true", help="also time a 60 s 1080p clip against ffmpeg")
    parser.add_argument("--own", action="store_true", help="also the project's own demo scenes")
    args = parser.parse_args(argv)
    if args.speed and args.corpus is None:
        print("bench_detection: --speed needs the corpus folder (its strike clips are the material)", file=sys.stderr)
        return 2
    print(environment())
    if args.corpus is not None:
        from corpus_clips import CorpusFolderError, corpus_clips

        try:
            clips = [(c.family, c.video, c.truth) for c in corpus_clips(args.corpus, times_alone=True)]
        except CorpusFolderError as e:
            print(f"bench_detection: {e}", file=sys.stderr)
            return 2
        if not clips:
            print(f"bench_detection: no clips under {args.corpus}: render them with bench/physics_corpus.py, or "
                  "give annotated footage (NAME.times.csv of impact times beside each video)", file=sys.stderr)
            return 2
        evaluate(clips, args.sensitivity, args.detector)
    if args.own:
        own_scenes(args.detector)
    if args.speed:
        speed(speed_source(clips), args.detector)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
