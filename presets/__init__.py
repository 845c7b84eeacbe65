"""Sound presets: YAML files validated into frozen dataclasses.

Built-in presets live in ``materials/`` beside this file. User presets in
``$SYNCFOLEY_PRESETS`` (a folder) or ``~/.config/syncfoley/presets`` shadow
built-in ones of the same name. A request copies a preset with
:func:`dataclasses.replace`; nothing shared is ever mutated.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Optional

from syncfoley.core.errors import PresetError, one_of

BUILTIN_DIR = Path(__file__).resolve().parent / "materials"


@dataclass(frozen=True)
class Mode:
    """One resonance: frequency (Hz), time to decay by 60 dB (s), relative gain."""

    freq: float
    t60: float
    gain: float = 1.0


@dataclass(frozen=True)
class Transient:
    """The contact noise: a band-limited noise burst of ``duration`` seconds."""

    duration: float = 0.004
    low: float = 300.0
    high: float = 8000.0
    gain: float = 0.5


@dataclass(frozen=True)
class Grains:
    """Secondary micro-impacts after the hit (grit, crackle), spread over ``spread`` s."""

    count: int = 0
    spread: float = 0.0
    duration: float = 0.003
    low: float = 800.0
    high: float = 9000.0
    gain: float = 0.2


@dataclass(frozen=True)
class Texture:
    """Sustained contact (scrape, rub, roll) for regions: band-limited noise with a slow
    roughness (amplitude wobble of ``roughness`` depth at about ``rate`` Hz), ``level_db``
    relative to a full-strength hit's level."""

    low: float = 400.0
    high: float = 6000.0
    level_db: float = -10.0
    roughness: float = 0.35
    rate: float = 12.0


@dataclass(frozen=True)
class Variation:
    """Per-hit randomness, so that repeats never sound identical.

    ``pitch`` and ``decay`` are log-normal spreads (0.03 is about half a semitone),
    ``gain_db`` a normal spread in dB, ``mode_jitter`` an extra per-mode detune.
    """

    pitch: float = 0.03
    decay: float = 0.1
    gain_db: float = 1.5
    mode_jitter: float = 0.01


@dataclass(frozen=True)
class MaterialPreset:
    """How the built-in engine sounds one material."""

    name: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    midi_note: int = 60
    level_db: float = -6.0
    dynamics_db: float = 24.0
    brightness: float = 0.8
    modes: tuple[Mode, ...] = ()
    transient: Transient = field(default_factory=Transient)
    grains: Grains = field(default_factory=Grains)
    variation: Variation = field(default_factory=Variation)
    texture: Texture = field(default_factory=Texture)
    # A hit still ringing when the next one lands is damped to this t60 (s): the hand or
    # foot that strikes again also stops the ringing, and dense passages stay articulate.
    choke: float = 0.06
    # Stereo: hits are panned at random within +-pan_spread (-1 left .. 1 right).
    pan_spread: float = 0.3
    # A 512-d CLAP embedding (.npy, beside the preset) for the diffusion engine.
    embedding: Optional[str] = None
    path: Optional[str] = field(default=None, compare=False)


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise PresetError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name for f in fields(cls) if f.name != "path"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise PresetError(f"{where}: unknown key {unknown[0]!r}; known keys are {one_of(sorted(known))}")
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        sub = _NESTED.get((cls, f.name))
        if sub is list:
            value = tuple(_build(Mode, m, f"{where}.{f.name}[{i}]") for i, m in enumerate(value or []))
        elif sub is not None:
            value = _build(sub, value, f"{where}.{f.name}")
        elif f.name == "aliases":
            value = tuple(str(v) for v in (value or []))
        kwargs[f.name] = value
    try:
        obj = cls(**kwargs)
    except TypeError as exc:
        raise PresetError(f"{where}: {exc}") from None
    _check_numbers(obj, where)
    return obj


_NESTED: dict[tuple[type, str], Any] = {
    (MaterialPreset, "modes"): list,
    (MaterialPreset, "transient"): Transient,
    (MaterialPreset, "grains"): Grains,
    (MaterialPreset, "variation"): Variation,
    (MaterialPreset, "texture"): Texture,
}


def _check_numbers(obj: Any, where: str) -> None:
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.type in ("float", "int") and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise PresetError(f"{where}.{f.name}: expected a number, got {value!r}")
        if f.type in ("float", "int") and f.name in {"freq", "t60", "duration", "spread", "low", "high", "choke",
                                                     "roughness", "rate", "pan_spread"} and value < 0:
            raise PresetError(f"{where}.{f.name}: must be >= 0, got {value!r}")
    if isinstance(obj, MaterialPreset):
        if not 0 <= obj.midi_note <= 127:
            raise PresetError(f"{where}.midi_note: must be within 0..127, got {obj.midi_note}")
    if isinstance(obj, MaterialPreset) and obj.pan_spread > 1:
        raise PresetError(f"{where}.pan_spread: must be within 0..1, got {obj.pan_spread}")
    if isinstance(obj, MaterialPreset) and obj.embedding is not None and not isinstance(obj.embedding, str):
        raise PresetError(f"{where}.embedding: expected a file name (.npy), got {obj.embedding!r}")
    if isinstance(obj, (Transient, Grains, Texture)) and obj.low >= obj.high:
        raise PresetError(f"{where}: low ({obj.low} Hz) must be below high ({obj.high} Hz)")


_LOADED: dict[tuple[str, int, int], MaterialPreset] = {}


def load_file(path: str | Path) -> MaterialPreset:
    """Load and validate one preset file (parsed once per file version: a conform asks per event)."""
    p = Path(path)
    try:
        st = p.stat()
        key = (str(p), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key]  # frozen: sharing it cannot leak a change between requests
    preset = _load_file(p)
    if key is not None:
        _LOADED[key] = preset
    return preset


def _load_file(p: Path) -> MaterialPreset:
    import yaml

    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PresetError(f"cannot read preset {p}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise PresetError(f"preset {p} is not UTF-8 text (byte {exc.start}); a preset is a YAML file") from None
    except yaml.YAMLError as exc:
        # Where and what, never the offending line itself: the message may travel to a client.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise PresetError(f"{p} is not valid YAML ({problem}{where})") from None
    if isinstance(data, Mapping) and "name" not in data:
        data = {**data, "name": p.stem}
    preset = _build(MaterialPreset, data, p.name)
    if preset.embedding is not None:
        # Relative to the preset file, so a preset folder can be moved as a whole.
        preset = dataclasses.replace(preset, embedding=str((p.parent / preset.embedding).resolve()))
    return dataclasses.replace(preset, path=str(p))


def search_path() -> list[Path]:
    """Folders searched for presets, highest priority first."""
    dirs: list[Path] = []
    env = os.environ.get("SYNCFOLEY_PRESETS")
    if env:
        dirs.extend(Path(d) for d in env.split(os.pathsep) if d)
    dirs.append(Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "syncfoley" / "presets")
    dirs.append(BUILTIN_DIR)
    return dirs


def _catalogue(dirs: tuple[Path, ...]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in reversed(dirs):
        if d.is_dir():
            for f in sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml")):
                found[f.stem] = f
    return found


def check_name(name: str) -> MaterialPreset:
    """A preset named from the preset folders, never a file path (the daemon's rule: a
    request must not make it read a file of the requester's choosing)."""
    if is_path(name):
        raise PresetError(f"preset must be a preset name, not a path ({name[:80]!r}); available presets: "
                          f"{', '.join(names())}")
    return load(name)


def names() -> list[str]:
    """Names of every preset available, sorted."""
    return sorted(_catalogue(tuple(search_path())))


def is_path(name: str) -> bool:
    """Whether ``name`` names a file rather than a preset."""
    return name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name or os.sep in name


def load(name: str) -> MaterialPreset:
    """Load a preset by name (or alias), or a path to a YAML file."""
    if is_path(name):
        from syncfoley.core.fence import check_read

        check_read(name, "preset file")
        return load_file(name)
    cat = _catalogue(tuple(search_path()))
    if name in cat:
        return load_file(cat[name])
    for candidate in cat.values():
        preset = load_file(candidate)
        if name in preset.aliases:
            return preset
    raise PresetError(f"unknown preset {name!r}; available presets: {', '.join(sorted(cat))}")
