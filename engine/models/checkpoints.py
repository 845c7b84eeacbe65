"""What every model checkpoint shares: importing torch, choosing a device, reading a
checkpoint as data (``torch.load(weights_only=True)``) and checking its keys strictly.

Used by the onset network (:mod:`syncfoley.engine.detect.onset_checkpoint`) and the diffusion model
(:mod:`syncfoley.engine.generate.diffusion`); a checkpoint that does not fit is named with its first wrong key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from syncfoley.core.errors import CheckpointError, DependencyError, RequestError, one_of

DEVICES = ("auto", "cpu", "cuda")


def device_option() -> Any:
    """The ``device`` field of every request that may run a model."""
    from syncfoley.core.fields import option

    return option("auto", "str", "where the models run: auto (CUDA if there is a GPU), cpu or cuda",
                  choices=DEVICES, metavar="NAME")


def resolve_file(path: Optional[str | Path], env_var: str, option: str, what: str, hint: str) -> Optional[Path]:
    """``path``, else ``$env_var``, else None (as demucs resolves its weights).

    A path that is given but missing is an error here, not a fallback to the next
    source: a typo must not silently select other weights.
    """
    source = option
    if path is None or str(path) == "":
        path = os.environ.get(env_var) or None
        source = f"${env_var}"
    if path is None:
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        state = "a folder" if p.is_dir() else "not there"
        raise CheckpointError(f"{what} {p} (from {source}) is {state}; {hint}")
    return p


@dataclass(frozen=True)
class WeightsSource:
    """Where one model's weights come from: an explicit path, else ``$env_var``; nothing is
    bundled or downloaded. ``missing`` says what to do when the model is needed and there is none."""

    env_var: str
    option: str  # the CLI option that names the file
    what: str
    hint: str  # for a path that is named but not there
    missing: str

    def resolve(self, path: Optional[str | Path] = None) -> Optional[Path]:
        """``path``, else $env_var, else None; a named file that is missing is an error."""
        return resolve_file(path, self.env_var, self.option, self.what, self.hint)

    def require(self, path: Optional[str | Path] = None) -> Path:
        found = self.resolve(path)
        if found is None:
            raise CheckpointError(self.missing)
        return found


def import_torch():
    try:
        import torch
    except ImportError:
        raise DependencyError(
            "the neural onset detector and the diffusion engine need PyTorch, which is not installed; "
            "install it with: pip install 'syncfoley[neural]'"
        ) from None
    return torch


def pick_device(name: str = "auto") -> str:
    """``auto``: CUDA when there is a GPU, else the CPU."""
    if name not in DEVICES:
        raise RequestError(f"unknown device {name!r}; choose {one_of(DEVICES)}")
    torch = import_torch()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RequestError("--device cuda asked for, but PyTorch sees no CUDA GPU here; use --device cpu or auto")
    return name


def read_state(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(state_dict, syncfoley_metadata)`` of a checkpoint file."""
    from syncfoley.core.fence import check_read

    torch = import_torch()
    real = check_read(path, "checkpoint")
    try:
        payload = torch.load(str(real), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, KeyError ... for bad files
        import zipfile

        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        if not zipfile.is_zipfile(path):  # every torch.save since PyTorch 1.6 writes a zip archive
            raise CheckpointError(
                f"{path} is not a PyTorch checkpoint file (torch.load with weights_only=True: {reason})"
            ) from None
        raise CheckpointError(f"{path} is not a checkpoint that loads with weights_only=True ({reason})") from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path} holds a {type(payload).__name__}, not a checkpoint dictionary")
    state = payload.get("state_dict", payload)
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise CheckpointError(f"{path} has no state_dict of named tensors")
    meta = payload.get("syncfoley")
    return state, meta if isinstance(meta, dict) else {}


def check_keys(state: dict[str, Any], expected: dict[str, Any], path: Path,
               what: str = "SyncFusion's onset network") -> None:
    """Raise naming the first key that is missing, unexpected or of the wrong shape."""
    for key, want in expected.items():
        if key not in state:
            raise CheckpointError(
                f"{path} does not fit {what}: key {key!r} (shape {list(want.shape)}) is missing"
            )
        got = getattr(state[key], "shape", None)
        if got is None or tuple(got) != tuple(want.shape):
            raise CheckpointError(
                f"{path} does not fit {what}: key {key!r} has shape "
                f"{list(got) if got is not None else type(state[key]).__name__}, the network needs {list(want.shape)}"
            )
    for key in state:
        if key not in expected:
            raise CheckpointError(
                f"{path} does not fit {what}: unexpected key {key!r}"
            )
