"""A file's identity for cache keys: changes when the file is replaced or edited."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def file_identity(path: Any) -> Any:
    """``[resolved path, size, mtime_ns]``; a folder: its files' identities; a missing file: its
    path as a string; nothing given: None."""
    if not path:
        return None
    p = Path(str(path))
    if p.is_dir():
        return [file_identity(c) for c in sorted(p.iterdir()) if c.is_file()]
    try:
        st = p.stat()
    except OSError:
        return str(p)
    return [str(p.resolve()), st.st_size, st.st_mtime_ns]
