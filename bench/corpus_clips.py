"""The clips of a corpus folder: every ``NAME.truth.json`` with its video beside it.

The one reading of a folder that ``physics_corpus.py``, ``mujoco_corpus.py`` and
``corpus_copies.py`` write, shared by the scripts that judge or copy it. A clip is named by
its truth file and its video is the one ``syncfoley train-motion`` takes beside it (the
trainer's suffixes, in its order), so a folder the benches read is the folder the trainer reads.
"""

from __future__ import annotations

import json
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


def corpus_clips(folder: Path) -> list[CorpusClip]:
    """Every clip in ``folder`` (not below it), sorted by name; [] when it has none.

    Raises :class:`CorpusFolderError` for a truth file that is not a JSON object or has no
    video beside it, naming the file and the videos looked for.
    """
    from syncfoley.core.errors import one_of
    from syncfoley.engine.detect.onset_training import VIDEO_SUFFIXES

    out = []
    for truth_file in sorted(folder.glob("*" + TRUTH_SUFFIX)):
        name = truth_file.name[: -len(TRUTH_SUFFIX)]
        try:
            truth = json.loads(truth_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CorpusFolderError(f"{truth_file}: not readable as JSON ({e})") from e
        if not isinstance(truth, dict):
            raise CorpusFolderError(f"{truth_file}: holds a {type(truth).__name__}, not a JSON object")
        video = next((folder / (name + s) for s in VIDEO_SUFFIXES if (folder / (name + s)).is_file()), None)
        if video is None:
            raise CorpusFolderError(f"{truth_file} has no video beside it ({name} with a suffix of "
                                    f"{one_of(VIDEO_SUFFIXES)})")
        family = truth.get("family")
        out.append(CorpusClip(name, family if isinstance(family, str) and family else NO_FAMILY, video, truth))
    return out
