"""The one error family of syncfoley.

Every error a user can cause is a :class:`SyncfoleyError`. Each has a stable
``code`` that the CLI prints (``syncfoley: error [code]: message``) and the OSC
daemon sends verbatim in its ``error`` replies, so scripts can branch on it.
Messages name the bad value and what would have been valid. Anything that is
not a ``SyncfoleyError`` is a bug.

The codes of the classes below, and those the daemon's protocol and client add
(:class:`FieldError`'s ``bad_request``, ``bad_json``, ``busy`` ...), are the
whole vocabulary; a class sets its own, and one raised with a protocol code
(``SyncfoleyError(message, code="busy")``) carries that one.
"""

from __future__ import annotations


class SyncfoleyError(Exception):
    """Root of all user-facing errors."""

    code = "error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class MediaError(SyncfoleyError):
    """A media file is missing, unreadable, or lacks what the request needs."""

    code = "media"


class RequestError(SyncfoleyError):
    """A request's parameters are out of range or contradict each other."""

    code = "request"


class FieldError(RequestError):
    """One field of a request is unknown, of the wrong type or out of range; ``field`` names it."""

    code = "bad_request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class OutputExistsError(RequestError):
    """An output file exists and overwriting was not asked for."""

    code = "exists"


class PresetError(SyncfoleyError):
    """An unknown preset, or a preset file that does not validate."""

    code = "preset"


class FormatError(SyncfoleyError):
    """An onsets/markers/MIDI file that cannot be read as onsets."""

    code = "format"


class TimelineError(SyncfoleyError):
    """A timeline (OTIO, EDL) that cannot be read or conformed."""

    code = "timeline"


class CheckpointError(SyncfoleyError):
    """A model checkpoint that is missing or does not match the architecture."""

    code = "checkpoint"


class Cancelled(SyncfoleyError):
    """The caller asked a long job (a render, a daemon job) to stop."""

    code = "cancelled"


class DependencyError(SyncfoleyError):
    """An optional dependency that a feature needs is not installed."""

    code = "dependency"


def one_of(choices: object) -> str:
    """Format valid choices for an error message: ``'a', 'b' or 'c'``."""
    items = [repr(c) for c in choices]  # type: ignore[attr-defined]
    if not items:
        return "(none available)"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


class OutsideRootsError(SyncfoleyError):
    """A file a daemon job would read or write lies outside the daemon's roots."""

    code = "outside_roots"


class DiskFullError(SyncfoleyError):
    """The disk filled up while an output was written; nothing partial was left."""

    code = "disk_full"
