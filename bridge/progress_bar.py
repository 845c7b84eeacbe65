"""A progress bar for terminals that stays silent when output is piped or logged."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TerminalProgress:
    """Callable as ``progress(fraction, text)``; draws on ``stream`` only if it is a terminal."""

    def __init__(self, stream: TextIO = sys.stderr, enabled: bool = True, width: int = 30) -> None:
        self.stream = stream
        self.enabled = enabled and _isatty(stream)
        self.width = width
        self._last = 0.0
        self._drawn = False

    def __call__(self, fraction: float, text: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if fraction < 1.0 and now - self._last < 0.1:
            return
        self._last = now
        f = max(0.0, min(1.0, fraction))
        self.stream.write("\r" + line(f, text, _columns()))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def line(fraction: float, text: str, columns: int, width: int = 30) -> str:
    """The bar, the percentage and the text in at most ``columns - 1`` characters (a line
    that reaches the last column wraps, and ``\r`` then redraws only its second half)."""
    room = max(1, columns - 1)
    width = max(5, min(width, room - 10))
    filled = int(round(fraction * width))
    text_room = max(0, room - width - 9)
    out = f"[{'#' * filled}{'-' * (width - filled)}] {fraction * 100:5.1f}% {text[:text_room]:<{text_room}}"
    return out[:room]


def _columns() -> int:
    import shutil

    return shutil.get_terminal_size(fallback=(80, 24)).columns


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
