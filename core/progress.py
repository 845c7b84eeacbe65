"""The callables a long job takes: progress reports and cancel checks."""

from __future__ import annotations

from typing import Callable, Optional

# ``progress(fraction, text)``: fraction of the whole job done (0..1) and what it is doing.
Progress = Callable[[float, str], None]
# ``cancel()``: True once the caller wants the job stopped (checked between units of work).
Cancel = Callable[[], bool]


def stage(progress: Optional[Progress], lo: float, hi: float) -> Optional[Progress]:
    """Map a sub-task's 0..1 progress into ``lo..hi`` of the whole job."""
    if progress is None:
        return None
    report = progress
    return lambda f, text: report(lo + (hi - lo) * max(0.0, min(1.0, f)), text)
