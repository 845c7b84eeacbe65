"""Writing outputs so that nothing is lost: temporary name, then an atomic rename."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from syncfoley.core.errors import OutputExistsError, RequestError


def check_writable(paths: Iterable[Path], overwrite: bool) -> None:
    """Fail before any work starts if an output exists (and overwriting was not asked for)."""
    for p in paths:
        if p.exists() and not overwrite:
            raise OutputExistsError(f"{p} already exists; pass --overwrite to replace it")
        if p.exists() and p.is_dir():
            raise RequestError(f"{p} is a folder; an output file cannot replace it")


@contextmanager
def atomic_path(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    The temporary name keeps the extension, because some writers (OTIO) choose the
    format from it. A reader never sees a half-written file under the final name.
    """
    from syncfoley.core.fence import check_write

    final = Path(path)
    check_write(final)
    check_writable([final], overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:8]}.partial{final.suffix}")
    try:
        yield tmp
        if not overwrite and final.exists():
            raise OutputExistsError(f"{final} appeared while it was being written; not replaced")
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
