"""Writing outputs so that nothing is lost: temporary names, then atomic renames.

One file: :func:`atomic_path` yields a temporary path beside the output and renames it
into place when the block succeeds. A job that writes several files (``run``'s four,
a conform's dozens) opens an :func:`output_set`: each file is still written under a
temporary name, but all are renamed together once the whole set is ready, so a
failure (a full disk, a cancel, a crash) leaves none of them rather than some.

A set can keep a journal (the daemon's jobs do): the temporary and final names are
recorded before each temporary file is created, and the renames and the job's result
before the first rename. After a ``kill -9``, :func:`recover` reads it: a set that was
renaming is rolled forward (the job is done, with the result it had), one that was
still writing has its temporary files removed, wherever they were written.
"""

from __future__ import annotations

import errno
import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from syncfoley.core.errors import DiskFullError, OutputExistsError, RequestError

_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def check_writable(paths: Iterable[Path], overwrite: bool) -> None:
    """Fail before any work starts if an output exists (and overwriting was not asked for)."""
    for p in paths:
        if p.exists() and not overwrite:
            raise OutputExistsError(f"{p} already exists; pass --overwrite to replace it")
        if p.exists() and p.is_dir():
            raise RequestError(f"{p} is a folder; an output file cannot replace it")


def disk_full(exc: BaseException, path: Path) -> Optional[DiskFullError]:
    """The clear error for an ``OSError`` that means the disk (or the quota) is full."""
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return DiskFullError(f"the disk is full: {path} could not be written (nothing was left half-written); "
                             "free some space and run again")
    return None


class OutputSet:
    """Temporary files waiting to be renamed together (see the module's docstring)."""

    def __init__(self, journal: Optional[Path] = None) -> None:
        self.journal = journal
        self.planned: list[tuple[Path, Path]] = []  # (temporary, final), in the order opened
        self.ready: dict[Path, tuple[Path, bool]] = {}  # final -> (temporary, overwrite)
        self.committed = False

    def plan(self, tmp: Path, final: Path) -> None:
        _fault("write", len(self.planned))
        self.planned.append((tmp, final))
        self._record({"planned": [[str(t), str(f)] for t, f in self.planned]})

    def add(self, tmp: Path, final: Path, overwrite: bool) -> None:
        old = self.ready.pop(final, None)
        if old is not None and old[0].exists():  # the same output written twice: the last one stands
            old[0].unlink()
        self.ready[final] = (tmp, overwrite)

    def commit(self, result: Optional[dict[str, Any]] = None) -> None:
        """Rename the set into place (``result``: what the job reports, kept in the journal
        so that a set interrupted while renaming can be finished and reported later)."""
        for final, (_, overwrite) in self.ready.items():
            if not overwrite and final.exists():
                raise OutputExistsError(f"{final} appeared while it was being written; not replaced")
        renames = [(tmp, final) for final, (tmp, _) in self.ready.items()]
        self._record({"planned": [[str(t), str(f)] for t, f in self.planned],
                      "renames": [[str(t), str(f)] for t, f in renames], "result": result})
        for i, (tmp, final) in enumerate(renames):
            _fault("rename", i)
            os.replace(tmp, final)
        self.ready.clear()
        self.committed = True

    def discard(self) -> None:
        for tmp, _ in self.planned:
            _remove(tmp)
        self.ready.clear()
        if self.journal is not None:
            _remove(self.journal)

    def _record(self, data: dict[str, Any]) -> None:
        if self.journal is None:
            return
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.journal.with_name(self.journal.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.journal)


_SET: Optional[OutputSet] = None


@contextmanager
def output_set(journal: Optional[Path] = None) -> Iterator[OutputSet]:
    """Collect every :func:`atomic_path` output of the block; rename them together at its
    end, or remove them all if it fails. Inside another set, this one is that set."""
    global _SET
    if _SET is not None:
        yield _SET
        return
    outs = OutputSet(journal)
    _SET = outs
    try:
        yield outs
        if not outs.committed:
            outs.commit()
    except BaseException:
        outs.discard()
        raise
    finally:
        _SET = None


def recover(journal: Path) -> tuple[bool, Optional[dict[str, Any]]]:
    """Finish what an interrupted set left: ``(True, result)`` when it was renaming (the rest
    of its renames are done now), ``(False, None)`` when it was still writing (its temporary
    files are removed). No journal: ``(False, None)``."""
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False, None
    if not isinstance(data, dict):
        return False, None
    if "renames" in data:
        for tmp, final in data["renames"]:
            if Path(tmp).exists():
                os.replace(tmp, final)
        return True, data.get("result")
    for tmp, _ in data.get("planned", []):
        _remove(Path(tmp))
    _remove(journal)
    return False, None


def _nearly_full(final: Path) -> Optional[DiskFullError]:
    import shutil

    try:
        free = shutil.disk_usage(final.parent).free
    except OSError:
        return None
    return disk_full(OSError(errno.ENOSPC, "no space"), final) if free < 64 * 1024 else None


def _fault(point: str, index: int) -> None:
    """Fault injection for the crash tests: ``SYNCFOLEY_FAULT=rename:1`` kills this process
    with SIGKILL before the second rename of a set (``write:0`` before the first file is
    written); ``rename:1:parent`` kills its parent first (the daemon of a worker)."""
    spec = os.environ.get("SYNCFOLEY_FAULT")
    if not spec:
        return
    parts = spec.split(":")
    if len(parts) < 2 or parts[0] != point or parts[1] != str(index):
        return
    import signal

    if parts[2:] == ["parent"]:
        os.kill(os.getppid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _remove(p: Path) -> None:
    try:
        p.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def atomic_path(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds
    (inside an :func:`output_set`: when the whole set is ready).

    The temporary name keeps the extension, because some writers (OTIO) choose the
    format from it. A reader never sees a half-written file under the final name. A full
    disk is a :class:`DiskFullError` naming the file.
    """
    from syncfoley.core.fence import check_write

    final = Path(path)
    check_write(final)
    check_writable([final], overwrite)
    outs = _SET
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:8]}.partial{final.suffix}")
        if outs is not None:
            outs.plan(tmp, final)  # recorded before it exists: a kill from here on leaves a trace
    except OSError as exc:
        raise disk_full(exc, final) or exc from None
    done = False
    try:
        yield tmp
        if outs is not None:
            outs.add(tmp, final, overwrite)
        else:
            if not overwrite and final.exists():
                raise OutputExistsError(f"{final} appeared while it was being written; not replaced")
            os.replace(tmp, final)
        done = True
    except Exception as exc:
        # Some writers (OTIO's, soundfile's) report a full disk in their own words.
        full = disk_full(exc, final) or (_nearly_full(final) if not isinstance(exc, OSError) else None)
        if full is not None:
            raise full from None
        raise
    finally:
        if not done:
            _remove(tmp)
        elif outs is None and tmp.exists():
            tmp.unlink()
