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
        filled = int(round(f * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {f * 100:5.1f}% {text:<24}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
