"""A picture to check detection by eye: the detector's curve, its onsets, the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from syncfoley.core.atomic import atomic_path
from syncfoley.core.errors import DependencyError, RequestError
from syncfoley.engine.types import OnsetTrack


def check(path: str | Path) -> None:
    """Fail now, before any work, if ``path`` cannot be plotted to (format, matplotlib)."""
    import importlib.util

    if Path(path).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise RequestError(f"cannot tell the plot format of {path}; use a name ending in '.png', '.pdf' or '.svg'")
    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except ValueError:  # present in sys.modules as None: blocked
        found = False
    if not found:
        raise DependencyError("--plot needs matplotlib: pip install 'syncfoley[plot]'")


def write(track: OnsetTrack, path: str | Path, truth: Optional[Sequence[float]] = None, overwrite: bool = False) -> Path:
    """Draw ``track.curve`` with its threshold, the detected onsets and the true ones."""
    check(path)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DependencyError("plots need matplotlib: pip install 'syncfoley[plot]'") from None
    if track.curve is None:
        raise RequestError("this onset track carries no detector curve to plot (it was read from a file)")
    curve = track.curve
    fig, ax = plt.subplots(figsize=(12, 3.6), dpi=100)
    ax.plot(curve.times, curve.values, lw=0.8, color="#444444", label=curve.label)
    ax.axhline(curve.threshold, color="#999999", ls="--", lw=0.8, label="threshold")
    top = max(curve.values) if curve.values else 1.0
    for i, o in enumerate(track.onsets):
        ax.axvline(o.time, color="#d62728", lw=1.0, alpha=0.4 + 0.6 * o.confidence,
                   label="detected" if i == 0 else None)
    for i, t in enumerate(truth or ()):
        ax.plot([t], [top * 1.05], marker="v", color="#2ca02c", ls="none", label="truth" if i == 0 else None)
    span = track.span
    ax.set_xlim(span.start, span.end)
    ax.set_xlabel("seconds from the start of the file")
    ax.set_title(f"{Path(track.source).name}: {len(track.onsets)} onsets ({track.detector})")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(str(tmp))
    plt.close(fig)
    return Path(path)
