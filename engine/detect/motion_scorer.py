"""The learned part of the physics detector: small networks that score each block's
physics (see :mod:`motion_features`) as the probability that an impact happened there
between this frame and the next.

The weights are plain NumPy arrays in an ``.npz`` (read with ``allow_pickle=False``),
checked against the exact key set and shapes; no PyTorch is needed to detect. Resolved
in a fixed order: an explicit path, ``$SYNCFOLEY_MOTION_WEIGHTS``, the weights shipped
in the package (trained by ``syncfoley train-motion`` on the physics corpus; the
development record, docs/physics-detector.md, says with which commands).

A scorer file may also hold an onset verifier (:mod:`onset_verifier`, format /3): trees
that take a second look at every candidate peak with what surrounds it, and whose
calibrated probability the threshold then applies to; and beside it a picture check
(:mod:`picture_check`, format /4): a small network that looks at the picture around each
candidate, combined with the verifier's probability into the candidate's confidence.

The scorer may be a committee of networks trained alike from different seeds: a block's
logit is their mean (one network's mistakes are mostly its own, so the mean ranks blocks
better than any one of them). A frame's probability is the highest of its blocks' (an
impact happens somewhere), passed
through the calibration fitted on held-out clips (Platt scaling), so that 0.8 means that
about 8 in 10 onsets given 0.8 were real on those clips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from syncfoley.core.errors import FormatError
from syncfoley.engine.detect.motion_features import FEATURES, NAMES
from syncfoley.engine.models.checkpoints import WeightsSource

if TYPE_CHECKING:
    from syncfoley.engine.detect.onset_verifier import Verifier
    from syncfoley.engine.detect.picture_check import PictureCheck

COMMITTEE = "syncfoley.motion-scorer/2"  # /2: a committee of networks (weights with a leading member axis)
FORMAT = "syncfoley.motion-scorer/3"  # /3: a committee and an onset verifier (:mod:`onset_verifier`)
PICTURE = "syncfoley.motion-scorer/4"  # /4: /3 and a picture check (:mod:`picture_check`)
FORMATS = ("syncfoley.motion-scorer/1", COMMITTEE, FORMAT, PICTURE)  # /1, one network, and /2 still read
BUNDLED = Path(__file__).with_name("weights") / "motion_scorer.npz"
WEIGHTS = WeightsSource(
    env_var="SYNCFOLEY_MOTION_WEIGHTS",
    option="--motion-weights",
    what="motion-scorer weights",
    hint="give the .npz that `syncfoley train-motion` wrote, or leave it out for the bundled weights",
    missing="",
)
LAYERS = 3
# What a scorer file may unpack to. The bundled one is 0.2 MB; a file that declares more
# (a few bytes of zip can promise gigabytes of zeros) is refused before it is read.
MAX_UNPACKED = 64 * 1024 * 1024


@dataclass(frozen=True)
class MotionScorer:
    """Weights of the block scorer, its calibration and the operating point chosen on
    validation clips."""

    mean: np.ndarray
    scale: np.ndarray
    # (weights, bias) per layer: (in, out) and (out,) for one network, (members, in, out)
    # and (members, out) for a committee.
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    calibration: tuple[float, float]  # probability = sigmoid(a * logit + b)
    # Calibrated probability at sensitivity 0.5: the verifier's where there is one, else the frame's.
    threshold: float
    offset: float  # frames from the scored frame to the impact, on average
    full_strength: float  # lost speed (picture widths per second) that is a full-strength hit
    source: str = ""
    verifier: Optional["Verifier"] = None
    # Only beside a verifier: it was fitted with that verifier's probability.
    picture: Optional["PictureCheck"] = None

    @property
    def members(self) -> int:
        return int(self.layers[0][0].shape[0]) if self.layers[0][0].ndim == 3 else 1

    def block_logits(self, values: np.ndarray) -> np.ndarray:
        """The logit of every block (any leading shape), the committee's mean."""
        x = ((values - self.mean) / self.scale).reshape(-1, values.shape[-1])
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + (b[:, None, :] if w.ndim == 3 else b)
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        logits = x[..., 0]
        if logits.ndim == 2:
            logits = logits.mean(axis=0)
        return logits.reshape(values.shape[:-1])

    def probability(self, logit: float | np.ndarray) -> np.ndarray:
        from scipy.special import expit  # the logistic without overflow for far-out blocks

        a, b = self.calibration
        return expit(a * np.asarray(logit, np.float64) + b)

    def threshold_for(self, sensitivity: float) -> float:
        """The probability an onset must reach at ``sensitivity`` (0..1): 0.5 is the
        operating point tuned on validation clips; each 0.1 more or less moves the
        threshold's log-odds by 0.6 (1 gives in to weak evidence, 0 wants near certainty)."""
        if sensitivity == 0.5:  # the operating point itself, not its round trip through the log-odds
            return self.threshold
        t = min(max(self.threshold, 1e-6), 1 - 1e-6)
        logit = math.log(t / (1 - t)) + 6.0 * (0.5 - sensitivity)
        return 1.0 / (1.0 + math.exp(-logit))

    def to_arrays(self) -> dict[str, np.ndarray]:
        fmt = (FORMATS[0] if self.layers[0][0].ndim == 2 else COMMITTEE if self.verifier is None
               else FORMAT if self.picture is None else PICTURE)
        out = {"format": np.array(fmt),
               "names": np.array(NAMES), "mean": self.mean, "scale": self.scale,
               "calibration": np.array(self.calibration, np.float64), "threshold": np.array(self.threshold),
               "offset": np.array(self.offset), "full_strength": np.array(self.full_strength)}
        for i, (w, b) in enumerate(self.layers):
            out[f"w{i}"], out[f"b{i}"] = w.astype(np.float32), b.astype(np.float32)
        if self.verifier is not None:
            out.update(self.verifier.to_arrays())
            if self.picture is not None:
                out.update(self.picture.to_arrays())
        return out


Layers = tuple[tuple[np.ndarray, np.ndarray], ...]


def committee(networks: list[Layers]) -> Layers:
    """The layers of networks of one shape stacked on a leading member axis."""
    return tuple((np.stack([n[i][0] for n in networks]), np.stack([n[i][1] for n in networks]))
                 for i in range(len(networks[0])))


def expected_shapes(hidden: int, members: int | None = None) -> dict[str, tuple[int, ...]]:
    """The keys and shapes of a scorer file: one network (``members`` None) or a committee."""
    dims = [FEATURES, hidden, hidden, 1]
    lead = (members,) if members is not None else ()
    shapes: dict[str, tuple[int, ...]] = {"mean": (FEATURES,), "scale": (FEATURES,), "calibration": (2,),
                                          "threshold": (), "offset": (), "full_strength": (), "format": (),
                                          "names": (FEATURES,)}
    for i in range(LAYERS):
        shapes[f"w{i}"], shapes[f"b{i}"] = (*lead, dims[i], dims[i + 1]), (*lead, dims[i + 1])
    return shapes


def load_scorer(path: str | Path) -> MotionScorer:
    """Read and check a scorer file: the exact keys and shapes, finite numbers, this
    feature set (a file written for other features would score nonsense)."""
    from syncfoley.core.fence import check_read

    path = Path(path)
    real = check_read(path, "motion-scorer weights")
    try:
        with open(real, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise FormatError(f"cannot read motion-scorer weights {path}: {exc.strerror or exc}") from None
    if magic != b"PK\x03\x04":  # not a zip: np.load would try (and refuse) a pickle
        raise FormatError(f"{path} is not a motion-scorer weights file: an .npz from `syncfoley train-motion` "
                              "is a zip archive")
    import zipfile

    try:
        with zipfile.ZipFile(real) as archive:
            unpacked = max(sum(member.file_size for member in archive.infolist()), _declared_bytes(archive))
        if unpacked > MAX_UNPACKED:
            raise FormatError(f"{path} unpacks to {unpacked / 2**20:.0f} MB; a motion scorer is under "
                              f"{MAX_UNPACKED // 2**20} MB (the bundled one 0.2 MB)")
        with np.load(real, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise FormatError(f"{path} is not a motion-scorer weights file (.npz): {exc}") from None
    fmt = str(arrays.get("format", ""))
    if fmt not in FORMATS:
        raise FormatError(f"{path} is not a motion-scorer file (format {str(arrays.get('format', 'missing'))!r}; "
                          f"this version reads {FORMATS[0]}, /2, /3 and /4)")
    names = arrays.get("names")
    if names is not None and names.ndim == 1 and tuple(str(n) for n in names) != NAMES:
        # Before the shapes: a file from an earlier feature set has other shapes too, and
        # what its user needs to hear is that it must be retrained, not which shape is off.
        raise FormatError(f"{path} was trained on other motion features ({len(names)}, these are {FEATURES}); "
                          "retrain it with `syncfoley train-motion`")
    # A committee's weights carry a leading member axis; what does not fit fails the shape check below.
    from syncfoley.engine.detect.onset_verifier import KEYS, verifier_from_arrays
    from syncfoley.engine.detect.picture_check import KEYS as PICTURE_KEYS
    from syncfoley.engine.detect.picture_check import picture_check_from_arrays

    stacked = fmt != FORMATS[0]
    w0 = arrays.get("w0", np.zeros(0))
    fits = w0.ndim == (3 if stacked else 2)
    hidden = int(w0.shape[-1]) if fits else 0
    members = max(1, int(w0.shape[0]) if fits else 1) if stacked else None
    want = expected_shapes(hidden, members)
    # The verifier's and the picture check's are checked with them.
    keys = set(want) | (set(KEYS) if fmt in (FORMAT, PICTURE) else set()) | (set(PICTURE_KEYS) if fmt == PICTURE else set())
    if set(arrays) != keys:
        missing, extra = sorted(keys - set(arrays)), sorted(set(arrays) - keys)
        raise FormatError(f"{path}: keys do not match a motion scorer (missing {missing}, unexpected {extra})")
    for key, shape in want.items():
        if tuple(arrays[key].shape) != shape:
            raise FormatError(f"{path}: {key} has shape {tuple(arrays[key].shape)}, expected {shape}")
        if arrays[key].dtype.kind == "f" and not np.isfinite(arrays[key]).all():
            raise FormatError(f"{path}: {key} holds a value that is not finite")
    _check_operating_point(arrays, path)
    return MotionScorer(
        mean=arrays["mean"].astype(np.float32),
        scale=np.maximum(arrays["scale"].astype(np.float32), 1e-6),
        layers=tuple((arrays[f"w{i}"].astype(np.float32), arrays[f"b{i}"].astype(np.float32)) for i in range(LAYERS)),
        calibration=(float(arrays["calibration"][0]), float(arrays["calibration"][1])),
        threshold=float(arrays["threshold"]),
        offset=float(arrays["offset"]),
        full_strength=float(arrays["full_strength"]),
        source=str(path),
        verifier=verifier_from_arrays(arrays, str(path)) if fmt in (FORMAT, PICTURE) else None,
        picture=picture_check_from_arrays(arrays, str(path)) if fmt == PICTURE else None,
    )


def _declared_bytes(archive) -> int:
    """What loading the archive's arrays allocates, from their .npy headers: NumPy makes the
    whole array a header declares before it reads a byte, so a 100-byte member that declares
    512 GB is a MemoryError, whatever the zip says it unpacks to."""
    from numpy.lib import format as npy

    total = 0
    for member in archive.infolist():
        with archive.open(member) as fh:
            version = npy.read_magic(fh)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"{member.filename}: .npy format version {version}")
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = read(fh)
            total += int(np.prod(shape, dtype=object)) * dtype.itemsize
    return total


def _check_operating_point(arrays: dict[str, np.ndarray], path: Path) -> None:
    """The scalars a scorer file sets are ones training can write: a threshold nothing can
    reach, or a calibration that falls as the networks grow surer, would detect nothing
    (or everything) without a word."""
    threshold, offset = float(arrays["threshold"]), float(arrays["offset"])
    slope, strength = float(arrays["calibration"][0]), float(arrays["full_strength"])
    if not 0.0 < threshold < 1.0:
        raise FormatError(f"{path}: threshold {threshold:g} is not a probability (valid: between 0 and 1)")
    if not 0.0 <= offset <= 1.0:
        raise FormatError(f"{path}: offset {offset:g} is not a place within a frame (valid: 0 to 1 frames)")
    if slope <= 0.0:
        raise FormatError(f"{path}: calibration slope {slope:g} would make surer networks less probable "
                          "(valid: above 0)")
    if strength <= 0.0:
        raise FormatError(f"{path}: full_strength {strength:g} must be a speed above 0 (picture widths per second)")


_CACHE: dict[tuple[str, float, int], MotionScorer] = {}


def resolve_scorer(path: Optional[str | Path] = None) -> MotionScorer:
    """The scorer a request uses: ``path``, else $SYNCFOLEY_MOTION_WEIGHTS, else the bundled one."""
    chosen = WEIGHTS.resolve(path) or BUNDLED
    if not Path(chosen).is_file():
        raise FormatError(f"the bundled motion-scorer weights are missing ({chosen}); reinstall syncfoley")
    stat = Path(chosen).stat()
    key = (str(chosen), stat.st_mtime, stat.st_size)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = load_scorer(chosen)
    return _CACHE[key]
