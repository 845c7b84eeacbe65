"""The daemon's OSC address space, reply shapes and error codes, in one place.

Requests go to ``/syncfoley/<name>``; work requests carry one JSON string. Replies
go back to the sender (or to ``reply_host``/``reply_port`` named in the JSON):

==========================  ====================================================
reply address               arguments
==========================  ====================================================
``/syncfoley/pong``         version
``/syncfoley/accepted``     job id
``/syncfoley/progress``     job id, fraction (float 0..1), text
``/syncfoley/done``         job id, result JSON
``/syncfoley/error``        code, message, job id ("" when there is none)
``/syncfoley/status``       JSON
``/syncfoley/cancelled``    job id
``/syncfoley/bye``          (none)
==========================  ====================================================

Junk is rejected cheaply, before any parsing: a datagram must be a multiple of
4 bytes, start with ``/`` or ``#bundle``, and stay under the size limit. Bundles
are opened and their messages handled at once, whatever their timetag: a future
timetag must not let a client stall the daemon.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from syncfoley.core.errors import SyncfoleyError

PREFIX = "/syncfoley/"
WORK = ("detect", "generate", "run", "conform")
CONTROL = ("ping", "status", "cancel", "shutdown")
ADDRESSES = tuple(PREFIX + a for a in CONTROL + WORK)
MAX_DATAGRAM = 16384  # bytes; larger requests are answered "too_large" (pass paths, not payloads)
MAX_REPLY = 8000  # bytes of JSON in one reply: fits every client's receive buffer

# Stable error codes (the ``code`` of /syncfoley/error), besides the engine's own
# (media, request, exists, preset, format, timeline, checkpoint, dependency, cancelled).
BAD_DATAGRAM = "bad_datagram"
TOO_LARGE = "too_large"
UNKNOWN_ADDRESS = "unknown_address"
BAD_ARGUMENTS = "bad_arguments"
BAD_JSON = "bad_json"
BAD_REQUEST = "bad_request"
FORBIDDEN = "forbidden"
OUTSIDE_ROOTS = "outside_roots"
BUSY = "busy"
NOT_FOUND = "not_found"
UNSUPPORTED = "unsupported"
INTERNAL = "internal"


class ProtocolError(SyncfoleyError):
    """A request the daemon answers with ``/syncfoley/error code message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True)
class Message:
    address: str
    args: tuple[Any, ...]


def quick_reject(dgram: bytes, limit: int = MAX_DATAGRAM) -> Optional[ProtocolError]:
    """Why ``dgram`` cannot be an OSC packet we take, from its size and first bytes only."""
    if len(dgram) > limit:
        return ProtocolError(TOO_LARGE, f"datagram of {len(dgram)} bytes is over the {limit}-byte limit; "
                                        "send file paths, not payloads")
    if not dgram or len(dgram) % 4:
        return ProtocolError(BAD_DATAGRAM, f"a datagram of {len(dgram)} bytes is not OSC (OSC packets are "
                                           "a multiple of 4 bytes)")
    if not (dgram[:1] == b"/" or dgram[:8] == b"#bundle\x00"):
        return ProtocolError(BAD_DATAGRAM, "not an OSC message or bundle (must start with '/' or '#bundle')")
    return None


def parse(dgram: bytes) -> list[Message]:
    """The messages in an OSC packet (bundles flattened, timetags ignored)."""
    from pythonosc.osc_bundle import OscBundle
    from pythonosc.osc_message import OscMessage

    out: list[Message] = []

    def walk(data: bytes, depth: int) -> None:
        if depth > 8:
            raise ProtocolError(BAD_DATAGRAM, "bundles nested more than 8 deep")
        if OscBundle.dgram_is_bundle(data):
            for item in OscBundle(data):
                walk(item.dgram if isinstance(item, OscMessage) else item.dgram, depth + 1)
        else:
            msg = OscMessage(data)
            out.append(Message(msg.address, tuple(msg.params)))

    try:
        walk(dgram, 0)
    except ProtocolError:
        raise
    except Exception as exc:  # python-osc raises ParseError, but also IndexError/struct.error on junk
        raise ProtocolError(BAD_DATAGRAM, f"malformed OSC packet ({type(exc).__name__}: {exc})") from None
    if len(out) > 64:
        raise ProtocolError(BAD_DATAGRAM, f"{len(out)} messages in one bundle; at most 64")
    return out


def build(address: str, *args: Any) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    b = OscMessageBuilder(address=address)
    for a in args:
        if isinstance(a, bool):
            b.add_arg(a)
        elif isinstance(a, int):
            b.add_arg(a, "i")
        elif isinstance(a, float):
            b.add_arg(a, "f")
        else:
            b.add_arg(str(a), "s")
    return b.build().dgram


def json_arg(msg: Message, required: bool) -> dict[str, Any]:
    """The request's one JSON argument (``{}`` when it is optional and absent)."""
    if not msg.args:
        if required:
            raise ProtocolError(BAD_ARGUMENTS, f"{msg.address} takes one JSON string argument, got none")
        return {}
    if len(msg.args) != 1 or not isinstance(msg.args[0], str):
        types = ", ".join(type(a).__name__ for a in msg.args)
        raise ProtocolError(BAD_ARGUMENTS, f"{msg.address} takes one JSON string argument, got ({types})")
    try:
        data = json.loads(msg.args[0])
    except RecursionError:  # "[[[[..." thousands deep: refused, not a crash of the control thread
        raise ProtocolError(BAD_JSON, f"{msg.address}: the JSON is nested too deeply") from None
    except ValueError as exc:  # also an integer of more than 4300 digits
        raise ProtocolError(BAD_JSON, f"{msg.address}: the argument is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ProtocolError(BAD_JSON, f"{msg.address}: the JSON must be an object, got {type(data).__name__}")
    return data


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)
