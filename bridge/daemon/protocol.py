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
4 bytes, start with ``/`` or ``#bundle``, and stay under the size limit; the parser
then checks every size against the bytes that remain. Bundles
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
WORKER_DIED = "worker_died"


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


MAX_DEPTH = 8  # bundles inside bundles
MAX_MESSAGES = 64  # messages in one datagram
# Reply addresses: the daemon sends these and never answers them (a reply aimed back
# at a daemon, by mistake or by a spoofed sender, must not start a conversation).
REPLIES = tuple(PREFIX + a for a in ("pong", "accepted", "progress", "done", "error", "cancelled", "bye"))


def parse(dgram: bytes) -> list[Message]:
    """The messages in an OSC 1.0 packet (bundles flattened, timetags ignored).

    Written for hostile input rather than taken from python-osc (whose bundle parser
    loops for ever on a negative element size): every size and count is checked
    against the bytes that remain before it is used, so each loop advances by at least
    four bytes and ends with the datagram; nesting and the number of messages are
    bounded. Anything else is ``bad_datagram`` naming the offset.
    """
    out: list[Message] = []
    _walk(bytes(dgram), 0, len(dgram), 0, out)
    return out


def _walk(buf: bytes, lo: int, hi: int, depth: int, out: list[Message]) -> None:
    if depth > MAX_DEPTH:
        raise ProtocolError(BAD_DATAGRAM, f"bundles nested more than {MAX_DEPTH} deep")
    if buf[lo: lo + 8] != b"#bundle\x00":
        if len(out) >= MAX_MESSAGES:
            raise ProtocolError(BAD_DATAGRAM, f"more than {MAX_MESSAGES} messages in one datagram")
        out.append(_message(buf, lo, hi))
        return
    if hi - lo < 16:
        raise ProtocolError(BAD_DATAGRAM, f"a bundle of {hi - lo} bytes has no room for its timetag")
    pos = lo + 16
    while pos < hi:
        if hi - pos < 4:
            raise ProtocolError(BAD_DATAGRAM, f"bundle element size cut short at byte {pos}")
        size = int.from_bytes(buf[pos: pos + 4], "big", signed=True)
        pos += 4
        if size <= 0 or size % 4 or size > hi - pos:
            raise ProtocolError(BAD_DATAGRAM, f"bundle element size {size} at byte {pos - 4} is not a positive "
                                              f"multiple of 4 within the {hi - pos} bytes left")
        _walk(buf, pos, pos + size, depth + 1, out)
        pos += size


def _string(buf: bytes, pos: int, hi: int, what: str) -> tuple[str, int]:
    """An OSC string at ``pos``: bytes up to a NUL, padded to four; (text, next position)."""
    end = buf.find(b"\x00", pos, hi)
    if end < 0:
        raise ProtocolError(BAD_DATAGRAM, f"{what} at byte {pos} has no terminating NUL")
    nxt = pos + ((end - pos) // 4 + 1) * 4
    if nxt > hi:
        raise ProtocolError(BAD_DATAGRAM, f"{what} at byte {pos} is not padded to a multiple of 4 bytes")
    try:
        return buf[pos:end].decode("utf-8"), nxt
    except UnicodeDecodeError:
        raise ProtocolError(BAD_DATAGRAM, f"{what} at byte {pos} is not UTF-8") from None


_FIXED = {"i": (4, ">i"), "f": (4, ">f"), "h": (8, ">q"), "d": (8, ">d"), "t": (8, ">Q"), "c": (4, ">I"),
          "r": (4, ">I"), "m": (4, ">4B")}
_NO_DATA: dict[str, Any] = {"T": True, "F": False, "N": None, "I": float("inf")}


def _message(buf: bytes, lo: int, hi: int) -> Message:
    import struct

    if buf[lo: lo + 1] != b"/":
        raise ProtocolError(BAD_DATAGRAM, f"an OSC message must start with '/' (byte {lo})")
    address, pos = _string(buf, lo, hi, "the address")
    if pos == hi:
        return Message(address, ())  # OSC 1.0 allows a message without a type tag string
    tags, pos = _string(buf, pos, hi, "the type tags")
    if not tags.startswith(","):
        raise ProtocolError(BAD_DATAGRAM, f"type tags must start with ',', got {tags[:20]!r}")
    args: list[Any] = []
    stack: list[list[Any]] = []
    for tag in tags[1:]:
        if tag in _FIXED:
            size, fmt = _FIXED[tag]
            if hi - pos < size:
                raise ProtocolError(BAD_DATAGRAM, f"argument {tag!r} at byte {pos} is cut short")
            value = struct.unpack_from(fmt, buf, pos)
            args.append(value if tag == "m" else value[0])
            pos += size
        elif tag in "sS":
            text, pos = _string(buf, pos, hi, "a string argument")
            args.append(text)
        elif tag == "b":
            if hi - pos < 4:
                raise ProtocolError(BAD_DATAGRAM, f"blob size at byte {pos} is cut short")
            size = int.from_bytes(buf[pos: pos + 4], "big", signed=True)
            pos += 4
            padded = (size + 3) // 4 * 4
            if size < 0 or padded > hi - pos:
                raise ProtocolError(BAD_DATAGRAM, f"blob size {size} at byte {pos - 4} is negative or beyond the "
                                                  f"{hi - pos} bytes left")
            args.append(buf[pos: pos + size])
            pos += padded
        elif tag in _NO_DATA:
            args.append(_NO_DATA[tag])
        elif tag == "[":
            if len(stack) >= MAX_DEPTH:
                raise ProtocolError(BAD_DATAGRAM, f"arrays nested more than {MAX_DEPTH} deep")
            stack.append(args)
            args = []
        elif tag == "]":
            if not stack:
                raise ProtocolError(BAD_DATAGRAM, "']' closes no array in the type tags")
            inner = args
            args = stack.pop()
            args.append(inner)
        else:
            raise ProtocolError(BAD_DATAGRAM, f"unknown OSC type tag {tag!r} (known: ifhdtcrmsSbTFNI[])")
    if stack:
        raise ProtocolError(BAD_DATAGRAM, "an array in the type tags is never closed")
    if pos != hi:
        raise ProtocolError(BAD_DATAGRAM, f"{hi - pos} bytes after the last argument")
    return Message(address, tuple(args))


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
