"""One loaded model kept warm between requests (the daemon's worker runs many jobs with one network).

Keyed by the file's resolved path, its modification time and the device: a checkpoint
replaced on disk is loaded again. One model at a time per cache: they are large.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Generic, Optional, TypeVar

M = TypeVar("M")


class WarmModel(Generic[M]):
    """``get(path, device, load)``: the model ``load(path, device)`` made, loaded once per key."""

    def __init__(self) -> None:
        self._key: Optional[tuple[str, int, str]] = None
        self._model: Optional[M] = None
        self._lock = threading.Lock()

    def get(self, path: str | Path, device: str, load: Callable[[Path, str], M]) -> M:
        p = Path(path)
        key = (str(p.resolve()), p.stat().st_mtime_ns, device)
        with self._lock:
            if self._key != key or self._model is None:
                self._key, self._model = None, None  # the old one goes before the new one loads
                self._model = load(p, device)
                self._key = key
            return self._model

    def clear(self) -> None:
        with self._lock:
            self._key, self._model = None, None
