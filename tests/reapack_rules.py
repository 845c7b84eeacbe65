"""ReaPack's rules, as its source states them, for the REAPER scripts' index.

Two programs judge a ReaPack repository, and this models both:

- **reapack-index** (cfillion/reapack-index, the indexer) reads each script's header
  (``-- @tag value``, an indented continuation carries on a value). A file's package
  type comes from its extension (``lua``, ``eel``, ``py`` are scripts); a file in the
  repository's root is never a package; files under a ``--ignore`` path and files with
  ``@noindex`` are skipped. The package's *category* is the file's folder in the
  repository and its *name* is the file's name. ``@version`` is required, one line,
  starting with a digit; ``@provides`` lines are ``[options] pattern``, the options
  ``main``, ``nomain``, a platform or a type; ``.`` is the package's own file; other
  files are found relative to the category and must exist. A script that is not a
  ``@metapackage`` is its own main source unless it provides itself. Two sources
  installing the same file is refused ("duplicate file", "conflicts with").
- **ReaPack** (cfillion/reapack, the client) installs a script source to
  ``Scripts/<index name>/<category>/<file or package name>`` (``..`` may not climb
  above the index name). A version keeps one source per target path, and the registry
  keeps every installed file owned by exactly one package: a second package claiming a
  file fails with "Conflict: <path> is already owned by another package".
"""

from __future__ import annotations

import posixpath
import re
import shlex
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

PKG_TYPES = {"script": ("lua", "eel", "py"), "extension": ("ext",), "effect": ("jsfx",), "data": ("data",),
             "theme": ("theme",), "langpack": ("reaperlangpack",), "webinterface": ("www",),
             "projecttpl": ("rpp",), "tracktpl": ("rtracktemplate",), "midinotenames": ("txt",),
             "autoitem": ("reaperautoitem",), "keymap": ("reaperkeymap",)}
PLATFORMS = {"all", "windows", "win32", "win64", "darwin", "darwin32", "darwin64", "linux", "linux32", "linux64"}
SECTIONS = {"main", "midi_editor", "midi_inlineeditor", "midi_eventlisteditor", "mediaexplorer", "true"}
CLIENT_TYPES = {"script", "extension", "effect", "data", "theme", "langpack", "webinterface"}


class RuleError(AssertionError):
    """A rule broken, in the words the indexer or ReaPack would use."""


def type_of(path: str) -> Optional[str]:
    if posixpath.dirname(path) in ("", "."):
        return None  # files in the root have no category
    ext = posixpath.splitext(path)[1][1:].lower()
    return next((t for t, exts in PKG_TYPES.items() if ext in exts), None)


def metaheader(text: str) -> dict[str, str]:
    """The ``@tag value`` header at the top of a Lua file (``--`` comments)."""
    tags: dict[str, str] = {}
    current: Optional[str] = None
    indent = 0
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        body = line[2:]
        m = re.match(r"^(\s*)@(\w+)(?:[\s:]+(.*))?$", body)
        if m:
            current, indent = m.group(2).lower(), len(m.group(1))
            tags[current] = (m.group(3) or "").strip()
            continue
        stripped = body.strip()
        if current is not None and stripped and len(body) - len(body.lstrip()) > indent:
            tags[current] = (tags[current] + "\n" + stripped).strip("\n")
        else:
            current = None
    return tags


@dataclass(frozen=True)
class Src:
    file: Optional[str]  # the index's `file` attribute (None: the package's own name)
    main: tuple[str, ...]  # action list sections
    path: str  # the repository file it downloads
    platform: str = "all"


@dataclass(frozen=True)
class Pkg:
    category: str
    name: str
    type: str
    desc: str
    version: str
    author: str
    sources: tuple[Src, ...]


def ignores(conf: Path) -> list[str]:
    args = shlex.split(conf.read_text()) if conf.is_file() else []
    return [args[i + 1].rstrip("/") for i, a in enumerate(args[:-1]) if a in ("--ignore", "-i")]


def index_repository(files: list[str], read: Callable[[str], str], ignored: list[str]) -> tuple[list[Pkg], list[str]]:
    """What reapack-index makes of a repository: its packages, and its errors per file."""
    packages: list[Pkg] = []
    errors: list[str] = []
    for path in sorted(files):
        kind = type_of(path)
        if kind is None or any((path + "/").startswith(i + "/") for i in ignored):
            continue
        tags = metaheader(read(path))
        if "noindex" in tags:
            continue
        try:
            packages.append(_scan(path, kind, tags, set(files)))
        except RuleError as exc:
            errors.append(f"{path}: {exc}")
    claimed: dict[str, str] = {}
    for pkg in packages:
        for src in pkg.sources:
            target = posixpath.normpath(posixpath.join(pkg.category, src.file or pkg.name))
            owner = claimed.setdefault(target, f"{pkg.category}/{pkg.name}")
            if owner != f"{pkg.category}/{pkg.name}":
                errors.append(f"{pkg.category}/{pkg.name}: '{target}' conflicts with '{owner}'")
    return packages, errors


def _scan(path: str, kind: str, tags: dict[str, str], files: set[str]) -> Pkg:
    version = tags.get("version", "")
    if not version:
        raise RuleError("missing tag 'version'")
    if "\n" in version or not re.match(r"^\d", version):
        raise RuleError(f"invalid value for tag 'version': {version!r}")
    if "\n" in tags.get("author", ""):
        raise RuleError("tag 'author' must be on one line")
    category, name = posixpath.dirname(path), posixpath.basename(path)
    is_main = "metapackage" not in tags and kind in ("script", "effect")
    sources: list[Src] = []
    for line in tags.get("provides", "").splitlines():
        m = re.match(r"^(?:\[\s*(?P<opts>.+?)\s*\])?\s*(?P<file>.+?)$", line.strip())
        if not m:
            continue
        main: Optional[bool] = None
        platform = "all"
        for opt in (m.group("opts") or "").split():
            low = opt.lower()
            if low in PLATFORMS:
                platform = low
            elif low in PKG_TYPES:
                continue
            elif re.fullmatch(r"(no)?main", low):
                main = not low.startswith("no")
            else:
                raise RuleError(f"unknown option '{opt}'")
        pattern = name if m.group("file") == "." else m.group("file")
        target = posixpath.normpath(posixpath.join(category, pattern))
        if target != path and target not in files:
            raise RuleError(f"file not found '{m.group('file')}'")
        if target == path:
            sources.append(Src(None, ("main",) if (is_main if main is None else main) else (), target, platform))
        else:
            sources.append(Src(posixpath.relpath(target, category), ("main",) if main else (), target, platform))
    if is_main and not any(s.file is None for s in sources):
        sources.insert(0, Src(None, ("main",), path))
    if not sources:
        raise RuleError("no sources found. @provides tag missing?")
    seen: set[str] = set()
    for s in sources:
        key = s.file or name
        if key in seen:
            raise RuleError(f"duplicate file '{posixpath.join(category, key)}'")
        seen.add(key)
    return Pkg(category, name, kind, tags.get("description", ""), version, tags.get("author", ""), tuple(sources))


@dataclass(frozen=True)
class Installed:
    package: str
    version: str
    targets: tuple[str, ...]


def _target(index_name: str, category: str, file: str) -> str:
    """Source::targetPath for scripts: ``..`` climbs no higher than the index name."""
    parts: list[str] = []
    for part in re.split(r"[\\/]", category + "/" + file):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/".join(["Scripts", index_name, *parts])


def read_index(xml_text: str) -> tuple[str, list[Installed], list[str]]:
    """ReaPack's reading of an index (index_v1): each package's newest version and the files it installs."""
    root = ET.fromstring(xml_text)
    problems: list[str] = []
    if root.tag != "index" or root.get("version") != "1":
        raise RuleError("not a version 1 ReaPack index")
    name = root.get("name") or ""
    if not re.fullmatch(r"[^*\\:<>?/|\"\x00-\x1f]+", name) or re.fullmatch(r"[. ].*|.*[. ]|CLOCK\$|COM\d|LPT\d", name,
                                                                            re.I):
        problems.append(f"invalid index name {name!r}")
    out: list[Installed] = []
    for cat in root.findall("category"):
        for pkg in cat.findall("reapack"):
            pname, ptype = pkg.get("name") or "", pkg.get("type") or ""
            full = f"{cat.get('name')}/{pname}"
            if not pname:
                problems.append(f"{full}: empty package name")
            if ptype not in CLIENT_TYPES:
                problems.append(f"{full}: unsupported type {ptype!r}")
            versions = pkg.findall("version")
            if not versions:
                problems.append(f"{full}: no version")
                continue
            for ver in versions:
                vname = ver.get("name") or ""
                segments = re.findall(r"\d+|[a-zA-Z]+", vname)
                if not segments or not segments[0].isdigit():
                    problems.append(f"{full}: invalid version name {vname!r}")
            newest = versions[-1]
            targets: list[str] = []
            for src in newest.findall("source"):
                if not (src.text or "").strip():
                    problems.append(f"{full}: empty source url")
                if (src.get("platform") or "all") not in PLATFORMS:
                    problems.append(f"{full}: unknown platform {src.get('platform')!r}")
                for section in (src.get("main") or "").split():
                    if section not in SECTIONS:
                        problems.append(f"{full}: unknown action list section {section!r}")
                target = _target(name, cat.get("name") or "", src.get("file") or pname)
                if target in targets:  # Version::addSource keeps the first
                    problems.append(f"{full} v{newest.get('name')}: two sources install {target}")
                    continue
                targets.append(target)
            out.append(Installed(full, newest.get("name") or "", tuple(targets)))
    return name, out, problems


def install_all(installed: list[Installed]) -> list[str]:
    """Install every package into one registry (file paths unique), as a user who picks them all would."""
    owner: dict[str, str] = {}
    errors: list[str] = []
    for pkg in installed:
        conflicts = [t for t in pkg.targets if t in owner and owner[t] != pkg.package]
        if conflicts:
            errors += [f"{pkg.package} v{pkg.version}: Conflict: {t} is already owned by another package"
                       for t in conflicts]
            continue
        for t in pkg.targets:
            owner[t] = pkg.package
    return errors
