"""The installed syncfoley's version, as its package metadata says."""

from __future__ import annotations


def version() -> str:
    """``0.1.0``, or ``unknown`` when run from a tree that was never installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("syncfoley")
    except PackageNotFoundError:
        return "unknown"
