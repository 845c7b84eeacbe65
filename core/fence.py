"""Where a job may read and write, checked when it touches a file, not only when it is asked.

The daemon fences each job it runs (``serve --media-root/--output-root``); the CLI runs
unfenced (a user's own command reads what the user can). A request's paths are checked
when it is accepted, but what a job finally opens can differ: a samples folder lists
its one-shots only when it is read (one may be a symlink to a file elsewhere), a
timeline names its media, and a symlink can be swapped while the job waits in the
queue. So the places that open files ask :func:`check_read` / :func:`check_write` with
the path as it resolves at that moment.

The fence is process-wide (a daemon worker runs one job at a time; conform's event
processes inherit it through their initializer), and ``None`` outside a fenced job.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from syncfoley.core.errors import OutsideRootsError


@dataclass(frozen=True)
class Fence:
    """Resolved folders: reads under ``read_roots`` (empty: anywhere) or ``trusted`` (the
    daemon's own presets and the package's weights); writes under ``write_roots`` and
    never under ``forbidden`` (the daemon's state)."""

    read_roots: tuple[Path, ...]
    write_roots: tuple[Path, ...]
    forbidden: tuple[Path, ...] = ()
    trusted: tuple[Path, ...] = ()

    @staticmethod
    def of(read_roots: tuple[str | Path, ...], write_roots: tuple[str | Path, ...],
           forbidden: tuple[str | Path, ...] = (), trusted: tuple[str | Path, ...] = ()) -> "Fence":
        def res(ps: tuple[str | Path, ...]) -> tuple[Path, ...]:
            return tuple(Path(p).expanduser().resolve() for p in ps)

        return Fence(res(read_roots), res(write_roots), res(forbidden), res(trusted))

    def readable(self, path: str | Path, what: str) -> Path:
        p = _resolve(path, what)
        if self.read_roots and not _under(p, self.read_roots + self.trusted):
            raise OutsideRootsError(f"{what} {p} is outside the media roots ({_names(self.read_roots)})")
        return p

    def writable(self, path: str | Path, what: str) -> Path:
        p = _resolve(path, what)
        # The forbidden folder wins over a write root that holds it (an output root of the
        # home folder, the daemon's workdir inside it); only the roots inside it are open.
        inner = tuple(r for r in self.write_roots if _under(r, self.forbidden))
        if _under(p, self.forbidden) and not _under(p, inner):
            raise OutsideRootsError(f"{what} {p} is the daemon's own state; write under "
                                    f"{_names(self.write_roots)}")
        if not _under(p, self.write_roots):
            raise OutsideRootsError(f"{what} {p} is outside the output roots ({_names(self.write_roots)})")
        return p


_CURRENT: Optional[Fence] = None


def current() -> Optional[Fence]:
    return _CURRENT


def install(fence: Optional[Fence]) -> None:
    """Set the fence of this process (conform's event workers: from their initializer)."""
    global _CURRENT
    _CURRENT = fence


@contextmanager
def fenced(fence: Optional[Fence]) -> Iterator[None]:
    previous = _CURRENT
    install(fence)
    try:
        yield
    finally:
        install(previous)


def check_read(path: str | Path, what: str = "file") -> Path:
    """``path``, if the running job may read it (raises ``outside_roots`` otherwise)."""
    return Path(path) if _CURRENT is None else _CURRENT.readable(path, what)


def check_write(path: str | Path, what: str = "output") -> Path:
    """``path``, if the running job may write it (raises ``outside_roots`` otherwise)."""
    return Path(path) if _CURRENT is None else _CURRENT.writable(path, what)


def _resolve(path: str | Path, what: str) -> Path:
    try:
        return Path(path).expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name the file system refuses
        raise OutsideRootsError(f"{what} {path} cannot be resolved ({exc})") from None


def _under(p: Path, roots: tuple[Path, ...]) -> bool:
    return any(p == r or p.is_relative_to(r) for r in roots)


def _names(roots: tuple[Path, ...]) -> str:
    return ", ".join(str(r) for r in roots) or "none"
