"""Copying the DAW/NLE scripts that ship with the package into REAPER's or Resolve's script folder.

Where each program looks, per user:

- REAPER: the resource folder's ``Scripts/`` (``~/.config/REAPER`` on Linux,
  ``~/Library/Application Support/REAPER`` on macOS, ``%APPDATA%\\REAPER`` on
  Windows); the scripts go to ``Scripts/syncfoley/``, then Actions > Load ReaScript.
- DaVinci Resolve: ``Fusion/Scripts/Edit`` under Resolve's per-user support folder
  (``~/.local/share/DaVinciResolve`` on Linux, ``~/Library/Application
  Support/Blackmagic Design/DaVinci Resolve`` on macOS, ``%APPDATA%\\Blackmagic
  Design\\DaVinci Resolve\\Support`` on Windows); they appear under Workspace >
  Scripts > Edit.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Mapping, Optional

from syncfoley.core.atomic import atomic_path, check_writable
from syncfoley.core.errors import RequestError, one_of

SCRIPTS = Path(__file__).resolve().parent / "scripts"
TARGETS = {"reaper": ("reaper", "*.lua"), "resolve": ("resolve", "*.py")}


def _system(system: Optional[str]) -> str:
    s = system or sys.platform
    if s.startswith("win"):
        return "windows"
    if s == "darwin" or s == "macos":
        return "macos"
    return "linux"


def script_folder(target: str, system: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                  home: Optional[Path] = None) -> Path:
    """The per-user folder ``target`` (reaper or resolve) loads scripts from on ``system``."""
    env = os.environ if env is None else env
    home = home or Path.home()
    osname = _system(system)
    appdata = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
    if target == "reaper":
        base = {"windows": appdata / "REAPER", "macos": home / "Library" / "Application Support" / "REAPER",
                "linux": Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "REAPER"}[osname]
        return base / "Scripts" / "syncfoley"
    if target == "resolve":
        base = {"windows": appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support",
                "macos": home / "Library" / "Application Support" / "Blackmagic Design" / "DaVinci Resolve",
                "linux": home / ".local" / "share" / "DaVinciResolve"}[osname]
        return base / "Fusion" / "Scripts" / "Edit"
    raise RequestError(f"unknown target {target!r}; choose {one_of(sorted(TARGETS))}")


def install(target: str, dest: Optional[str | Path] = None, overwrite: bool = False,
            system: Optional[str] = None) -> list[Path]:
    """Copy ``target``'s scripts into ``dest`` (default: :func:`script_folder`); returns the copies."""
    if target not in TARGETS:
        raise RequestError(f"unknown target {target!r}; choose {one_of(sorted(TARGETS))}")
    folder = Path(dest) if dest is not None else script_folder(target, system)
    sub, pattern = TARGETS[target]
    sources = sorted((SCRIPTS / sub).glob(pattern))
    if target == "reaper" and (SCRIPTS / sub / "index.xml").is_file():
        sources.append(SCRIPTS / sub / "index.xml")
    out = [folder / s.name for s in sources]
    check_writable(out, overwrite)  # all or none: no half-updated set of scripts
    for s, dest in zip(sources, out):
        with atomic_path(dest, overwrite=True) as tmp:
            shutil.copyfile(s, tmp)
    return out
