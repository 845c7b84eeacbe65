"""Request fields, defined once: a dataclass field carries its default, kind, range and help.

A request type is a frozen dataclass that mixes in :class:`Fields` and makes each
field with :func:`option` (or :func:`nested` for a group of fields defined
elsewhere, flattened into it). From that one definition come: validation on
construction, ``from_dict``/``to_dict`` with the flat field names the CLI and the
daemon's JSON use, the CLI's options (:mod:`syncfoley.bridge.cli`) and the
daemon's schema. Checks are cheap and bounded (no path is touched on disk), so
hostile input is refused before any work: a NUL or a lone surrogate in a path, a
path longer than the file system takes, a 400-digit number, a seed of 2**70.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, TypeVar

from syncfoley.core.errors import FieldError, one_of

KINDS = ("str", "int", "num", "bool", "path_in", "path_out", "paths_in")
PATH_MAX = 4096  # bytes, Linux's PATH_MAX; macOS allows 1024, Windows 260 (or 32767)
NAME_MAX = 255  # bytes in one path component, on every file system we write to
TEXT_MAX = 4096  # characters in a free-text field (a prompt)
LIST_MAX = 64  # paths in a list field

_META = "syncfoley"
_NESTED = "syncfoley.nested"


@dataclass(frozen=True)
class Spec:
    """How one field reads and checks: ``kind`` (one of :data:`KINDS`), a help line, and
    ``choices`` or a ``lo``..``hi`` range. ``flags`` are the CLI's spellings when they are
    not ``--name-with-dashes``; ``cli=False`` keeps a field off the command line."""

    kind: str
    help: str
    choices: tuple[Any, ...] = ()
    lo: float | None = None
    hi: float | None = None
    metavar: str | None = None
    flags: tuple[str, ...] = ()
    required: bool = False
    cli: bool = True
    group: str = ""  # "diffusion": read by the diffusion engine only


def option(default: Any, kind: str, help: str, **spec: Any) -> Any:
    """A request field: its default and its :class:`Spec`."""
    if kind not in KINDS:
        raise ValueError(f"unknown field kind {kind!r}")
    return field(default=default, metadata={_META: Spec(kind, help, **spec)})


def nested(cls: type) -> Any:
    """A group of fields defined by another :class:`Fields` type, flattened into this one."""
    return field(default_factory=cls, metadata={_NESTED: cls})


T = TypeVar("T", bound="Fields")


class Fields:
    """Validation, flat dict form and field listing for frozen request dataclasses."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            spec = f.metadata.get(_META)
            if spec is None:
                continue
            value = getattr(self, f.name)
            if value is None:
                if spec.required:
                    raise FieldError(f.name, f"{_what(self)} needs {f.name!r}")
                continue
            object.__setattr__(self, f.name, check_value(f.name, spec, value))

    @classmethod
    def specs(cls) -> dict[str, tuple[Spec, Any]]:
        """Every flat field, in definition order: name -> (spec, default). Read-only: shared."""
        return _specs(cls)

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        """Build from flat fields (absent or None: the default). The first unknown field, or the
        first of the wrong type or out of range, is named with what would be valid."""
        known = cls.specs()
        for key in data:
            if key not in known:
                raise FieldError(str(key), f"unknown field {_short(key)}; {_what(cls)} takes "
                                           f"{', '.join(known)}")
        return cls._build({k: v for k, v in data.items() if v is not None})

    @classmethod
    def _build(cls: type[T], data: Mapping[str, Any]) -> T:
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if _NESTED in f.metadata:
                sub = f.metadata[_NESTED]
                kwargs[f.name] = sub._build({k: v for k, v in data.items() if k in sub.specs()})
            elif f.name in data:
                kwargs[f.name] = data[f.name]
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Every flat field with its value (defaults included), as ``from_dict`` reads it back."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if _NESTED in f.metadata:
                out.update(getattr(self, f.name).to_dict())
            elif _META in f.metadata:
                out[f.name] = getattr(self, f.name)
        return out

    def replace(self: T, **changes: Any) -> T:
        """A copy with flat fields changed (checked as ``from_dict`` checks them)."""
        return type(self).from_dict({**self.to_dict(), **changes})


_SPECS: dict[type, dict[str, tuple[Spec, Any]]] = {}


def _specs(cls: type) -> dict[str, tuple[Spec, Any]]:
    # Once per class: from_dict, the CLI and the daemon read the same listing many times.
    if cls in _SPECS:
        return _SPECS[cls]
    out: dict[str, tuple[Spec, Any]] = {}
    for f in dataclasses.fields(cls):
        inner = _specs(f.metadata[_NESTED]) if _NESTED in f.metadata else \
            {f.name: (f.metadata[_META], f.default)} if _META in f.metadata else {}
        clash = set(inner) & set(out)
        if clash:  # a programming error: flat names must be unique
            raise TypeError(f"{cls.__name__}: field {sorted(clash)[0]!r} is defined twice")
        out.update(inner)
    _SPECS[cls] = out
    return out


def check_value(name: str, spec: Spec, value: Any) -> Any:
    """``value`` checked against ``spec`` and normalised (numbers to float, paths to str)."""
    kind = spec.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise FieldError(name, f"{name} must be true or false, got {_short(value)}")
        return value
    if kind == "int":
        # numbers.Integral: NumPy's integers too; a bool is not a count.
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise FieldError(name, f"{name} must be a whole number{_range(spec)}, got {_short(value)}")
        value = int(value)
        _check_range(name, spec, value)
    elif kind == "num":
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise FieldError(name, f"{name} must be a number{_range(spec)}, got {_short(value)}")
        try:
            value = float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise FieldError(name, f"{name} must be a finite number{_range(spec)}, got {_short(value)}") from None
        if not math.isfinite(value):
            raise FieldError(name, f"{name} must be a finite number{_range(spec)}, got {value}")
        _check_range(name, spec, value)
    elif kind == "str":
        value = _text(name, value, TEXT_MAX)
    elif kind in ("path_in", "path_out"):
        value = check_path(name, value)
    elif kind == "paths_in":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or len(items) > LIST_MAX:
            raise FieldError(name, f"{name} must be a path or a list of paths (at most {LIST_MAX}), got "
                                   f"{_short(value)}")
        return tuple(check_path(name, v) for v in items)
    if spec.choices and value not in spec.choices:
        raise FieldError(name, f"unknown {name} {_short(value)}; choose {one_of(spec.choices)}")
    return value


def check_path(name: str, value: Any) -> str:
    """A path that every OS call can take: a non-empty string, no NUL, encodable, within
    :data:`PATH_MAX` bytes and :data:`NAME_MAX` bytes a component. Accepts ``os.PathLike``."""
    import os

    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        raise FieldError(name, f"{name} must be a path (a non-empty string), got {_short(value)}")
    if "\0" in value:
        raise FieldError(name, f"{name} must not contain a NUL character: {_short(value)}")
    try:
        raw = os.fsencode(value)
    except UnicodeError:
        raise FieldError(name, f"{name} is not a valid file name in this system's encoding (a lone "
                               f"surrogate?): {_short(value)}") from None
    if len(raw) > PATH_MAX:
        raise FieldError(name, f"{name} is {len(raw)} bytes long; paths must be at most {PATH_MAX}")
    longest = max(len(part) for part in raw.replace(b"\\", b"/").split(b"/"))
    if longest > NAME_MAX:
        raise FieldError(name, f"{name} has a file or folder name of {longest} bytes; at most {NAME_MAX} "
                               "are allowed")
    return value


def _text(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise FieldError(name, f"{name} must be a string, got {_short(value)}")
    if len(value) > limit:
        raise FieldError(name, f"{name} is {len(value)} characters long; at most {limit}")
    try:
        value.encode("utf-8")
    except UnicodeError:
        raise FieldError(name, f"{name} is not valid text (a lone surrogate?): {_short(value)}") from None
    if "\0" in value:
        raise FieldError(name, f"{name} must not contain a NUL character")
    return value


def _check_range(name: str, spec: Spec, value: float) -> None:
    if (spec.lo is not None and value < spec.lo) or (spec.hi is not None and value > spec.hi):
        raise FieldError(name, f"{name} must be{_range(spec)}, got {_short(value)}")


def _range(spec: Spec) -> str:
    if spec.lo is None and spec.hi is None:
        return ""
    return f" within {_num(spec.lo)}..{_num(spec.hi)}"


def _num(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:g}" if isinstance(x, float) else str(x)


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters: a 400-digit number must not fill the message."""
    try:
        text = repr(value) if not (isinstance(value, int) and value.bit_length() > 200) else \
            f"an integer of {value.bit_length()} bits"
    except (ValueError, RecursionError):  # an int past str()'s digit limit, a list nested too deep to print
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _what(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return getattr(cls, "WHAT", cls.__name__)
