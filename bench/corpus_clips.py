"""The clips of a corpus folder: every ``NAME.truth.json`` with its video beside it.

The one reading of a folder that ``physics_corpus.py``, ``mujoco_corpus.py`` and
``corpus_copies.py`` write, shared by the scripts that judge or copy it. A clip is named by
its truth file and its video is the one ``syncfoley train-motion`` takes beside it (the
trainer's suffixes, in its order), so a folder the benches read is the folder the trainer reads.

With ``times_alone``, videos annotated as a user annotates their own footage for
``train-motion`` (the Greatest Hits layout: ``NAME.times.csv`` beside the video, optionally
``NAME.ignore.csv``, folders searched recursively) are clips too, read by the trainer's own
reader: their truth holds the impact times and the ignored contacts, without the speed,
place or family a generator writes (the family is ``unnamed``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TRUTH_SUFFIX = ".truth.json"
# A truth file without a family (one written by hand) still counts, under this name.
NO_FAMILY = "unnamed"


class CorpusFolderError(ValueError):
    """A corpus folder that cannot be read as clips; the message names the file."""


@dataclass(frozen=True)
class CorpusClip:
    name: str
    family: str
    video: Path
    truth: dict[str, Any]


def corpus_clips(folder: Path, times_alone: bool = False) -> list[CorpusClip]:
    """Every clip in ``folder`` (not below it), sorted by name; [] when it has none. With
    ``times_alone``, also every video under it annotated by a ``NAME.times.csv`` alone (named
    by its path below ``folder``).

    Raises :class:`CorpusFolderError` for a truth file that is not a JSON object of impact times
    or has no video beside it, and for a times file the trainer refuses, naming the file.
    """
    from syncfoley.core.errors import one_of
    from syncfoley.engine.detect.onset_training import VIDEO_SUFFIXES

    out = []
    for truth_file in sorted(folder.glob("*" + TRUTH_SUFFIX)):
        name = truth_file.name[: -len(TRUTH_SUFFIX)]
        video = next((folder / (name + s) for s in VIDEO_SUFFIXES if (folder / (name + s)).is_file()), None)
        if video is None:
            raise CorpusFolderError(f"{truth_file} has no video beside it ({name} with a suffix of "
                                    f"{one_of(VIDEO_SUFFIXES)})")
        out.append(_clip(name, video, truth_file))
    if times_alone:
        out += _times_alone(folder, {c.video.resolve() for c in out})
    return sorted(out, key=lambda c: c.name)


def read_truth(truth_file: Path) -> dict[str, Any]:
    """A truth file's object; :class:`CorpusFolderError` naming the file when it holds none."""
    try:
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorpusFolderError(f"{truth_file}: not readable as JSON ({e})") from e
    if not isinstance(truth, dict):
        raise CorpusFolderError(f"{truth_file}: holds a {type(truth).__name__}, not a JSON object")
    for key in ("impacts", "band"):
        if key == "impacts" or key in truth:
            _check_times(truth_file, key, truth.get(key))
    return truth


def _check_times(truth_file: Path, key: str, entries: Any) -> None:
    """``entries`` is a list of objects, each with a ``time`` in seconds (what every bench reads)."""
    valid = 'valid: a list of objects such as {"time": 1.25}, seconds from the first frame'
    if entries is None:
        raise CorpusFolderError(f"{truth_file}: has no {key!r} ({valid})")
    if not isinstance(entries, list):
        raise CorpusFolderError(f"{truth_file}: {key!r} is {json.dumps(entries)[:40]} ({valid})")
    for entry in entries:
        t = entry.get("time") if isinstance(entry, dict) else None
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
            raise CorpusFolderError(f"{truth_file}: {key!r} holds {json.dumps(entry)[:60]} ({valid})")


def _clip(name: str, video: Path, truth_file: Path) -> CorpusClip:
    truth = read_truth(truth_file)
    family = truth.get("family")
    return CorpusClip(name, family if isinstance(family, str) and family else NO_FAMILY, video, truth)


def _times_alone(folder: Path, taken: set[Path]) -> list[CorpusClip]:
    """The videos under ``folder`` the trainer finds by their times files, but those in ``taken``
    (read already); one a truth file describes (a generator's clip in a folder below) is read
    from that file, with its family and speeds."""
    from syncfoley.core.errors import SyncfoleyError
    from syncfoley.engine.detect.motion_training import sidecar
    from syncfoley.engine.detect.onset_training import TIMES_SUFFIX, find_examples

    if not folder.is_dir() or next(folder.rglob("*" + TIMES_SUFFIX), None) is None:
        return []  # the trainer refuses a folder without annotations; here it has no clips
    out = []
    try:
        for example in find_examples(folder):
            if example.video.resolve() in taken:
                continue
            name = sidecar(example, "").relative_to(folder).as_posix()
            truth_file = sidecar(example, TRUTH_SUFFIX)
            if truth_file.is_file():
                out.append(_clip(name, example.video, truth_file))
                continue
            out.append(CorpusClip(name, NO_FAMILY, example.video, times_truth(example)))
    except SyncfoleyError as e:
        raise CorpusFolderError(str(e)) from e
    return out


def times_truth(example: Any) -> dict[str, Any]:
    """The truth of a trainer's example annotated by its times alone: its impacts and the
    contacts of its ``NAME.ignore.csv`` (the band), without speeds, places or family."""
    from syncfoley.engine.detect.motion_training import ignored_times

    return {"impacts": [{"time": t} for t in example.onsets], "band": [{"time": t} for t in ignored_times(example)]}
