"""Finding, checking and loading onset-network checkpoints.

Resolution order (as demucs does for its weights): an explicit path, then the
``SYNCFOLEY_ONSET_CHECKPOINT`` environment variable. Nothing is bundled and
nothing is downloaded: without either, the neural detector says how to get one.

A checkpoint is SyncFusion's released Lightning file (``state_dict`` with
``model.*`` keys) or one that ``syncfoley train-onset`` wrote (the same layout
plus a ``syncfoley`` entry with the network's configuration). Loading uses
``torch.load(weights_only=True)``: a checkpoint is data, never code to run.
Keys and shapes must match the architecture exactly; the first difference is
named, so a wrong file fails at load time and not as silent garbage later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syncfoley.core.errors import CheckpointError
from syncfoley.engine.models.checkpoints import WeightsSource, check_keys, import_torch, read_state
from syncfoley.engine.models.warm import WarmModel

ENV_VAR = "SYNCFOLEY_ONSET_CHECKPOINT"
FORMAT = "syncfoley.onset-checkpoint/1"


WEIGHTS = WeightsSource(
    ENV_VAR, "--checkpoint", "onset checkpoint", "give the .ckpt file",
    "the neural detector needs SyncFusion's onset-network checkpoint: give --checkpoint PATH "
    f"or set {ENV_VAR}; train one with 'syncfoley train-onset', or use --detector auto|motion|audio")
resolve_checkpoint = WEIGHTS.resolve
require_checkpoint = WEIGHTS.require


def load_onset_model(path: str | Path, device: str = "cpu"):
    """Load a checkpoint into a :class:`VideoOnsetNet` in eval mode on ``device``."""
    from syncfoley.engine.detect.onset_net import CONFIGS, OnsetModule, OnsetNetConfig

    p = Path(path)
    state, meta = read_state(p)
    cfg = CONFIGS["syncfusion"]
    if isinstance(meta.get("config"), dict):
        try:
            cfg = OnsetNetConfig.from_dict(meta["config"])
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{p}: its syncfoley config does not read ({exc})") from None
    module = OnsetModule(cfg)
    check_keys(state, module.state_dict(), p)
    module.load_state_dict(state, strict=True)
    net = module.model.to(device).eval()
    return net


_WARM: WarmModel[Any] = WarmModel()


def warm_onset_model(path: str | Path, device: str = "cpu"):
    """:func:`load_onset_model`, kept in memory per (file, mtime, device) for the next request
    (the daemon's worker detects many clips with one network). Inference only: callers must
    not train the returned network."""
    return _WARM.get(path, device, load_onset_model)


def save_onset_checkpoint(model, path: str | Path, **info: Any) -> None:
    """Write ``model`` (a VideoOnsetNet) in the released layout, atomically.

    The file is a Lightning-shaped dictionary (``state_dict`` with ``model.*``
    keys), so SyncFusion's own code can read it too, plus our configuration.
    """
    from syncfoley.core.atomic import atomic_path

    torch = import_torch()
    state = {f"model.{k}": v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "state_dict": state,
        "syncfoley": {"format": FORMAT, "config": model.cfg.to_dict(), **info},
        "epoch": int(info.get("epoch", 0)),
        "global_step": int(info.get("steps", 0)),
    }
    with atomic_path(Path(path), overwrite=True) as tmp:
        torch.save(payload, str(tmp))
