"""How to conform: the one definition of conform's own fields, with the sound and detector it uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from syncfoley.adapters.edl import RATES
from syncfoley.core.errors import FieldError
from syncfoley.core.fields import Fields, nested, option
from syncfoley.engine.detect.options import DETECTORS
from syncfoley.engine.generate.sound import SoundOptions
from syncfoley.engine.models.checkpoints import device_option

EXECUTORS = ("auto", "serial", "pool", "ray")
MAX_JOBS = 256


@dataclass(frozen=True)
class ConformOptions(Fields):
    """How to conform; copied per request, never changed in place."""

    WHAT = "conform"

    # Frames of extra Foley before and after each event, so a trim does not cut a hit.
    handles: int = option(12, "int", "frames of Foley beyond each cut", lo=0, hi=600)
    rate: Optional[str] = option(None, "str", "the cut's frame rate when the list does not say",
                                 choices=tuple(RATES), metavar="FPS")
    detector: str = option("auto", "str", "auto (production sound if any, else the onset network if configured, "
                           "else motion), motion, audio or neural", choices=DETECTORS, metavar="NAME")
    checkpoint: Optional[str] = option(None, "path_in", "SyncFusion onset-network checkpoint (default: "
                                       "$SYNCFOLEY_ONSET_CHECKPOINT)", metavar="CKPT")
    device: str = device_option()
    # Where the event jobs run. They change how long a conform takes, never what it writes.
    executor: str = option("auto", "str", "where events are computed: serial (one after another, here), pool "
                           "(--jobs processes on this machine), ray (a Ray cluster: --ray-address, or a local one), "
                           "auto (the pool when --jobs is over 1, else serial)", choices=EXECUTORS, metavar="NAME")
    jobs: int = option(1, "int", "the pool's size: events rendered at once, each in its own process (0 = one per "
                       "core). For the built-in engine on a CPU with cores to spare; with a GPU, keep 1",
                       lo=0, hi=MAX_JOBS, flags=("--jobs", "-j"), metavar="N")
    ray_address: Optional[str] = option(None, "str", "the Ray cluster for --executor ray: its head's HOST:PORT "
                                        "(from `ray start --head`) or 'auto' (the cluster this machine joined); "
                                        "default: a Ray started on this machine for the conform", metavar="ADDR")
    sound: SoundOptions = nested(SoundOptions)
    sample_rate: int = 48000  # of the stem and clips; not a request field

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.jobs != 1 and self.executor in ("serial", "ray"):
            raise FieldError("jobs", f"jobs sizes the process pool (--executor pool); with --executor "
                                     f"{self.executor} leave it at 1 (got {self.jobs})")
        if self.ray_address is not None:
            if self.executor != "ray":
                raise FieldError("ray_address", f"ray_address is for --executor ray (got --executor {self.executor})")
            check_ray_address(self.ray_address)

    def resolved_executor(self) -> str:
        """``auto`` made concrete: the pool when more than one job is asked for."""
        if self.executor != "auto":
            return self.executor
        return "serial" if self.jobs == 1 else "pool"


def check_ray_address(address: str) -> str:
    """A Ray address as ``ray.init`` takes it: 'auto', HOST:PORT or ray://HOST:PORT (Ray Client)."""
    ray_head(address)
    return address


def ray_head(address: str) -> Optional[tuple[str, int]]:
    """The (host, port) a Ray address names (None for 'auto'), or a FieldError saying what is valid."""
    if address == "auto":
        return None
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in rest):
        raise FieldError("ray_address", f"ray_address must be 'auto', HOST:PORT or ray://HOST:PORT (a Ray head, "
                                        f"e.g. 10.0.0.5:6379), got {address!r}")
    return host.strip("[]"), int(port)
