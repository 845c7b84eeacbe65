"""The onsets JSON file (schema ``syncfoley.onsets/1``).

``{"schema", "source", "fps", "duration", "detector", "range": {"start", "end"},
"onsets": [{"time", "strength", "confidence"}], "regions": [{"start", "end", "strength"}],
"envelope": {"rate", "start", "values"} | null}``;
times in seconds from the start of the source file, sorted. Later versions add keys;
readers ignore keys they do not know.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from syncfoley.core.atomic import atomic_path
from syncfoley.core.errors import FormatError
from syncfoley.engine.types import ONSETS_SCHEMA, Envelope, Onset, OnsetTrack, Region, TimeRange


def to_dict(track: OnsetTrack) -> dict[str, Any]:
    span = track.span
    out: dict[str, Any] = {
        "schema": ONSETS_SCHEMA,
        "source": track.source,
        "fps": track.fps,
        "duration": round(track.duration, 6),
        "detector": track.detector,
        "range": {"start": round(span.start, 6), "end": round(span.end, 6)},
        "onsets": [_onset(o) for o in track.onsets],
        "regions": [{"start": r.start, "end": r.end, "strength": r.strength} for r in track.regions],
        "envelope": None
        if track.envelope is None
        else {
            "rate": track.envelope.rate,
            "start": round(track.envelope.start, 6),
            "values": [round(v, 4) for v in track.envelope.values],
        },
    }
    out.update(track.extra)
    return out


def _onset(o: Onset) -> dict[str, float]:
    item = {"time": round(o.time, 6), "strength": round(o.strength, 4), "confidence": round(o.confidence, 4)}
    if o.x is not None and o.y is not None:  # where in the picture; readers of the first schema ignore them
        item["x"], item["y"] = round(o.x, 4), round(o.y, 4)
    return item


def _number(value: Any) -> float:
    """A JSON number as a float. ``true`` is not 1: Python's bool is an int, and a file with
    ``"x": true`` is broken, not a hit at the picture's right edge."""
    if isinstance(value, bool):
        raise TypeError("a JSON true/false where a number belongs")
    return float(value)


def _place(item: dict, key: str) -> Optional[float]:
    value = item.get(key)
    return None if value is None else _number(value)


def from_dict(data: Any, where: str = "onsets JSON") -> OnsetTrack:
    if not isinstance(data, dict):
        raise FormatError(f"{where}: expected a JSON object at the top level")
    schema = data.get("schema", ONSETS_SCHEMA)
    if not str(schema).startswith("syncfoley.onsets/"):
        raise FormatError(f"{where}: its schema field does not start with 'syncfoley.onsets/'; it is not a "
                          "syncfoley onsets file")
    raw = data.get("onsets")
    if not isinstance(raw, list):
        raise FormatError(f"{where}: 'onsets' must be a list of {{time, strength, confidence}}")
    onsets = []
    for i, item in enumerate(raw):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = {"time": item}
        if not isinstance(item, dict) or "time" not in item:
            raise FormatError(f"{where}: onsets[{i}] needs a 'time' in seconds")
        try:
            onsets.append(
                Onset(_number(item["time"]), _number(item.get("strength", 1.0)), _number(item.get("confidence", 1.0)),
                      _place(item, "x"), _place(item, "y"))
            )
        except (TypeError, ValueError):
            raise FormatError(f"{where}: onsets[{i}] has a value that is not a number: {item}") from None
        except FormatError as exc:
            raise FormatError(f"{where}: onsets[{i}]: {exc}") from None
    try:
        duration = float(data.get("duration") or (max((o.time for o in onsets), default=0.0)))
        fps = float(data.get("fps") or 0.0)
        rng = data.get("range")
        span = TimeRange(float(rng["start"]), float(rng["end"])) if isinstance(rng, dict) else None
        regions = tuple(
            Region(_number(r["start"]), _number(r["end"]), _number(r.get("strength", 1.0)))
            for r in data.get("regions") or []
        )
        env = data.get("envelope")
        envelope = (
            Envelope(_number(env["rate"]), tuple(_number(v) for v in env["values"]), _number(env.get("start", 0.0)))
            if env
            else None
        )
    except (TypeError, ValueError, KeyError) as exc:
        raise FormatError(f"{where}: malformed field ({exc})") from None
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}") from None
    return OnsetTrack(
        source=str(data.get("source", "")),
        duration=duration,
        fps=fps,
        detector=str(data.get("detector", "unknown")),
        onsets=tuple(onsets),
        range=span,
        regions=regions,
        envelope=envelope,
    )


def write(track: OnsetTrack, path: str | Path, overwrite: bool = False) -> Path:
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(json.dumps(to_dict(track), indent=2) + "\n", encoding="utf-8")
    return Path(path)


def read(path: str | Path) -> OnsetTrack:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FormatError(f"no such onsets file: {p}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{p} is not valid JSON ({exc})") from None
    return from_dict(data, str(p))
