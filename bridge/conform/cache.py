"""Finished events, kept between conforms by their job key."""

from __future__ import annotations

import json
import os
import uuid
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np

from syncfoley.bridge.conform.jobs import EventRender


class ConformCache:
    """Finished events by job key: ``KEY.npz`` (audio) and ``KEY.json`` (onsets, detector, curve),
    each written to a temporary name and renamed, so a crash never leaves half an entry."""

    def __init__(self, folder: Optional[str | Path]) -> None:
        self.folder = Path(folder) if folder is not None else None

    def has(self, key: str) -> bool:
        return self.folder is not None and (self.folder / f"{key}.json").is_file() and \
            (self.folder / f"{key}.npz").is_file()

    def get(self, key: str) -> Optional[EventRender]:
        if not self.has(key):
            return None
        assert self.folder is not None
        try:
            meta = json.loads((self.folder / f"{key}.json").read_text())
            with np.load(self.folder / f"{key}.npz", allow_pickle=False) as z:
                audio = z["audio"]
            onsets = [tuple(o) for o in meta["onsets"]]
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, MemoryError):
            # A damaged entry (a cut-short copy, a full disk, a header declaring gigabytes) is
            # recomputed, not trusted.
            return None
        if any(len(o) != 3 for o in onsets):  # (seconds, strength, confidence): anything else is not ours
            return None
        curve = tuple(meta["curve"]) if meta.get("curve") else None
        return EventRender(onsets, [tuple(r) for r in meta["regions"]], audio,
                           meta["detector"], meta["engine"], meta["source_onsets"], curve, meta.get("seconds", 0.0),
                           int(meta.get("batch", 1)), str(meta.get("computed_on", "")))

    def put(self, key: str, r: EventRender) -> None:
        if self.folder is None:
            return
        from syncfoley.core.fence import check_write

        check_write(self.folder, "conform cache")
        self.folder.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:8]
        tmp_npz = self.folder / f".{key}.{tag}.npz"
        tmp_json = self.folder / f".{key}.{tag}.json"
        try:
            np.savez(tmp_npz, audio=r.audio)
            tmp_json.write_text(json.dumps({
                "onsets": r.onsets, "regions": r.regions, "detector": r.detector, "engine": r.engine,
                "source_onsets": r.source_onsets, "curve": list(r.curve) if r.curve else None, "seconds": r.seconds,
                "batch": r.batch, "computed_on": r.computed_on,
            }))
            os.replace(tmp_npz, self.folder / f"{key}.npz")
            os.replace(tmp_json, self.folder / f"{key}.json")  # last: its presence marks the entry complete
        finally:
            for t in (tmp_npz, tmp_json):
                if t.exists():
                    t.unlink()


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "syncfoley" / "conform"
