"""Laying a conform's renders out: the stem, the per-event clips and onsets, the timelines, the report.

The stem is the sum of the events' clips, each heard over its coverage only (its
record range, plus a transition's overlap): a cut switches with 2 ms ramps, a
dissolve cross-fades at equal power over its length. Handles stay in the clip
files for the editor, not in the stem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

import numpy as np

from syncfoley.adapters import bwf, foley_timeline, midi, onsets_json, otio_timeline, report_html
from syncfoley.bridge.conform.jobs import EventRender
from syncfoley.bridge.conform.plan import ConformPlan, EventPlan
from syncfoley.core.atomic import check_writable
from syncfoley.core.fence import check_write
from syncfoley.engine.types import Onset, OnsetTrack, Region, TimeRange

RAMP = 0.002  # seconds: a cut's switch, short enough to keep a hit on the first frame, long enough not to click


@dataclass(frozen=True)
class ConformResult:
    outdir: Path
    timeline: Path
    edl: Path
    stem: Path
    report: Path
    clips: tuple[Path, ...]
    events: int
    computed: int
    reused: int
    skipped: int
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    aaf: Optional[Path] = None  # the Foley tracks for the mixer (none when no event was conformed)

    @property
    def complete(self) -> bool:
        """Every picture event conformed and every line read."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"outdir": str(self.outdir), "timeline": str(self.timeline), "edl": str(self.edl),
                "stem": str(self.stem), "report": str(self.report), "events": self.events,
                "computed": self.computed, "reused": self.reused, "skipped": self.skipped,
                "problems": list(self.problems), **({"aaf": str(self.aaf)} if self.aaf is not None else {})}


def output_paths(p: ConformPlan, outdir: Path) -> dict[str, Path]:
    paths = {"otio": outdir / "foley.otio", "aaf": outdir / "foley.aaf", "edl": outdir / "foley.edl",
             "stem": outdir / "foley_stem.wav",
             "report": outdir / "report.html", "timeline_midi": outdir / "onsets" / "timeline.mid"}
    for ep in p.events:
        if ep.job is not None:
            paths[f"clip {ep.clip_name}"] = outdir / "clips" / f"{ep.clip_name}.wav"
            paths[f"mid {ep.clip_name}"] = outdir / "onsets" / f"{ep.clip_name}.mid"
            paths[f"json {ep.clip_name}"] = outdir / "onsets" / f"{ep.clip_name}.json"
    return paths


def check_outputs(p: ConformPlan, outdir: Path, overwrite: bool) -> None:
    check_writable(output_paths(p, outdir).values(), overwrite)


def _gain(n: int, cover: tuple[int, int], fades: tuple[int, int], sr: int) -> np.ndarray:
    """Coverage gain over a clip of n samples: 1 on [a, b), equal-power fades, 2 ms ramps at cuts."""
    a, b = max(0, cover[0]), min(n, cover[1])
    g = np.zeros(n, np.float32)
    if b <= a:
        return g
    g[a:b] = 1.0
    ramp = max(1, int(RAMP * sr))
    fin = fades[0] if fades[0] > 0 else ramp
    fout = fades[1] if fades[1] > 0 else ramp
    k = min(fin, b - a)
    g[a:a + k] *= np.sin(0.5 * np.pi * (np.arange(k) + 0.5) / fin).astype(np.float32) if fades[0] > 0 \
        else ((np.arange(k) + 0.5) / fin).astype(np.float32)
    k = min(fout, b - a)
    g[b - k:b] *= np.cos(0.5 * np.pi * (np.arange(fout - k, fout) + 0.5) / fout).astype(np.float32) if fades[1] > 0 \
        else ((fout - np.arange(fout - k, fout) - 0.5) / fout).astype(np.float32)
    return g


def write(p: ConformPlan, results: dict[str, EventRender], outdir: Path, *, overwrite: bool = False,
          title: Optional[str] = None) -> ConformResult:
    cut = p.cut
    sr = p.options.sample_rate
    rate = Fraction(cut.rate)
    paths = output_paths(p, outdir)
    title = title or cut.title or Path(cut.path).stem
    done = [ep for ep in p.events if ep.job is not None and ep.job.key in results]

    def sample(frames: int) -> int:
        return bwf.time_reference(frames, rate, sr)

    s0, s1 = sample(cut.record_start), sample(cut.record_end)
    renders = [results[ep.job.key] for ep in done if ep.job is not None]
    channels = max([r.audio.shape[1] if r.audio.ndim == 2 else 1 for r in renders] + [1])
    stem = np.zeros((s1 - s0, channels), np.float32)
    foley: list[foley_timeline.FoleyClip] = []
    rows: list[report_html.ReportRow] = []
    all_onsets: list[Onset] = []
    check_write(outdir, "output folder")
    outdir.mkdir(parents=True, exist_ok=True)
    for ep in p.events:
        ev = ep.event
        record = f"{cut.tc(ev.record_in)} - {cut.tc(ev.record_out)}"
        if ep.job is None or ep.job.key not in results:
            why = [str(q) for q in p.problems if q.event == ev.number]
            rows.append(report_html.ReportRow(ev.number, record, ev.name, "skipped",
                                              warnings=tuple(why or ([str(ep.problem)] if ep.problem else []))))
            continue
        r = results[ep.job.key]
        audio = r.audio if r.audio.ndim == 2 else r.audio[:, None]
        if audio.shape[1] < channels:
            audio = np.repeat(audio, channels, axis=1)
        c0 = sample(ep.clip_in)
        cover = (sample(ev.cover_in) - c0, sample(ev.cover_out) - c0)
        fades = (sample(ev.cover_in + ev.fade_in) - sample(ev.cover_in) if ev.fade_in else 0,
                 sample(ev.cover_out) - sample(ev.cover_out - ev.fade_out) if ev.fade_out else 0)
        g = _gain(len(audio), cover, fades, sr)
        lo, hi = max(0, s0 - c0), min(len(audio), s1 - c0)
        if hi > lo:
            stem[c0 - s0 + lo:c0 - s0 + hi] += audio[lo:hi] * g[lo:hi, None]
        clip_path = paths[f"clip {ep.clip_name}"]
        bwf.write(clip_path, r.audio, sr, sample(ep.clip_in), description=f"syncfoley event {ev.number} {ev.name}",
                  overwrite=overwrite)
        rec_onsets = tuple((ep.clip_in + t * float(rate), s, c) for t, s, c in r.onsets)
        on_picture = [(f, s, c) for f, s, c in rec_onsets if ev.cover_in <= f < ev.cover_out]
        all_onsets += [Onset((f - cut.record_start) / float(rate), s, c) for f, s, c in on_picture]
        assert ep.match is not None
        meta = {"source": str(ep.match.path), "source_tc_in": cut.tc(ev.source_in), "detector": r.detector,
                "engine": r.engine, "key": ep.job.key, "onsets": len(on_picture)}
        foley.append(foley_timeline.FoleyClip(ev, clip_path, ep.clip_in, ep.clip_out, rec_onsets, meta))
        clip_track = OnsetTrack(
            source=str(clip_path), duration=ep.job.length, fps=float(rate), detector=r.detector,
            onsets=tuple(Onset(t, s, c) for t, s, c in r.onsets), range=TimeRange(0.0, ep.job.length),
            regions=tuple(Region(a, b, s) for a, b, s in r.regions),
            extra={"conform": {"event": ev.number, "where": ev.where, "clip_tc_in": cut.tc(ep.clip_in),
                               "record_tc_in": cut.tc(ev.record_in), "media": str(ep.match.path),
                               "media_seconds_at_clip_start": round(ep.job.t0, 6), "speed": ev.speed,
                               **({"computed_on": r.computed_on} if r.computed_on else {})}},
        )
        onsets_json.write(clip_track, paths[f"json {ep.clip_name}"], overwrite)
        midi.write(clip_track, paths[f"mid {ep.clip_name}"], overwrite=overwrite)
        visible = ((ev.record_in - ep.clip_in) / float(rate), (ev.record_out - ep.clip_in) / float(rate))
        rows.append(report_html.ReportRow(
            ev.number, record, f"{ep.match.path.name} @ {cut.tc(ev.source_in)} ({ep.match.how}; start TC "
            f"{ep.match.start_from})" + (f", speed {ev.speed:g}x" if ev.speed != 1 else ""),
            "reused" if ep.cached else "computed", r.detector, len(on_picture), _engine(r), r.seconds, ep.warnings,
            ep.job.length, visible, tuple(t for t, _, _ in r.onsets),
            tuple(r.curve[0]) if r.curve else (), tuple(r.curve[1]) if r.curve else (),
            r.curve[2] if r.curve else "", r.curve[3] if r.curve else None,
            hits=tuple((cut.tc(int(round(f))), float(s)) for f, s, _ in on_picture),
            files=tuple((kind, str(paths[f"{key} {ep.clip_name}"].relative_to(outdir)))
                        for kind, key in (("wav", "clip"), ("json", "json"), ("mid", "mid"))),
        ))
    peak = float(np.max(np.abs(stem))) if stem.size else 0.0
    if peak > 0.999:  # overlapping dissolves can sum past full scale; keep the stem's shape, lose the clip
        stem *= 0.999 / peak
    bwf.write(paths["stem"], stem[:, 0] if channels == 1 else stem, sr, s0,
              description=f"syncfoley Foley stem {title}", overwrite=overwrite)
    whole = OnsetTrack(source=str(paths["stem"]), duration=(s1 - s0) / sr, fps=float(rate), detector="conform",
                       onsets=tuple(all_onsets), range=TimeRange(0.0, (s1 - s0) / sr))
    smpte = midi.smpte_offset(cut.rate, cut.drop_frame, cut.tc(cut.record_start))
    midi.write(whole, paths["timeline_midi"], overwrite=overwrite, smpte=smpte)
    pictures = [foley_timeline.PictureClip(ep.event, ep.match.path, ep.match.start,
                                           int(round(ep.match.info.duration * float(rate))))
                if ep.match else foley_timeline.PictureClip(ep.event, None) for ep in p.events]
    timeline = foley_timeline.build(cut, pictures, foley, title)
    otio_timeline.write(timeline, paths["otio"], overwrite)
    aaf = foley_timeline.write_aaf(paths["aaf"], timeline, cut.drop_frame, overwrite) if foley else None
    foley_timeline.write_edl(paths["edl"], cut, foley, title, overwrite)
    problems = tuple(str(q) for q in p.problems) + tuple(str(ep.problem) for ep in p.events if ep.problem)
    computed = sum(1 for ep in done if not ep.cached)
    summary = report_html.ReportSummary(
        title, str(cut.path), f"{float(rate):.3f}{' DF' if cut.drop_frame else ''}", len(p.events), computed,
        len(done) - computed, len(p.events) - len(done), problems, cut.notes,
        tuple(str(paths[k].relative_to(outdir)) for k in ("otio", "aaf", "edl", "stem", "timeline_midi")
              if k != "aaf" or aaf is not None),
        report_html.StemSummary(cut.tc(cut.record_start), (s1 - s0) / sr, sr, channels,
                                str(paths["stem"].relative_to(outdir))),
    )
    report_html.write(paths["report"], summary, rows, overwrite)
    return ConformResult(outdir, paths["otio"], paths["edl"], paths["stem"], paths["report"],
                         tuple(f.wav for f in foley), len(p.events), computed, len(done) - computed,
                         len(p.events) - len(done), problems, cut.notes, aaf)


def _engine(r: EventRender) -> str:
    """The engine as the report shows it: diffusion says when events shared its batches."""
    return r.engine if r.batch <= 1 else f"{r.engine} (batched with {r.batch - 1} other event{'s' * (r.batch > 2)})"


def event_plan_row(ep: EventPlan) -> str:
    """One line of a dry run."""
    if ep.job is None:
        return f"{ep.event.number:>4}  skip     {ep.problem}"
    state = "reuse  " if ep.cached else "compute"
    assert ep.match is not None
    return (f"{ep.event.number:>4}  {state}  {ep.match.path.name} {ep.job.t0:.3f}s+{ep.job.length:.3f}s"
            f"{'' if ep.event.speed == 1 else f' x{ep.event.speed:g}'}")
