"""A small OSC client for the daemon: what ``syncfoley send`` and DAW scripts without sockets run.

It sends one request from its own UDP port and, when asked to wait, reads the
replies that come back to that port until the job is done, failed or the time is
up. Replies are read with a 64 KiB buffer (python-osc's ``UDPClient.receive``
reads only 4096 bytes).
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from syncfoley.bridge.daemon import protocol as P
from syncfoley.bridge.daemon.guard import is_loopback
from syncfoley.core.errors import SyncfoleyError

WORK_ADDRESSES = tuple(P.PREFIX + w for w in P.WORK)


@dataclass(frozen=True)
class Reply:
    address: str
    args: tuple[Any, ...]

    @property
    def kind(self) -> str:
        return self.address[len(P.PREFIX):] if self.address.startswith(P.PREFIX) else self.address


class ClientError(SyncfoleyError):
    """The daemon answered ``error`` (its code kept), or nothing came back (``timeout``)."""

    def __init__(self, code: str, message: str, job_id: str = "") -> None:
        super().__init__(f"{message} (job {job_id})" if job_id else message, code=code)
        self.job_id = job_id


def normalise_address(address: str) -> str:
    if not address.startswith("/"):
        address = P.PREFIX + address
    return address


def send(
    address: str,
    payload: Optional[str] = None,
    *,
    host: str = "127.0.0.1",
    port: int = 9000,
    wait: bool = True,
    timeout: float = 3600.0,
    answer_timeout: float = 5.0,
    on_reply: Optional[Callable[[Reply], None]] = None,
) -> Reply:
    """Send one request; return the final reply (``done``, ``pong``, ``status`` ...).

    Raises :class:`ClientError` for an ``error`` reply or when nothing comes back.
    Without ``wait``, a work request returns its ``accepted`` reply.
    """
    address = normalise_address(address)
    args = () if payload is None else (payload,)
    try:
        family, _, _, _, target = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    except (OSError, UnicodeError) as exc:
        raise ClientError("bad_request", f"cannot find host {host!r} ({exc})") from None
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        loopback = is_loopback(str(target[0]))  # an address from getaddrinfo: no lookup
        # Listen where the reply will come: loopback only when the daemon is on this machine.
        sock.bind((str(target[0]) if loopback else ("::" if family == socket.AF_INET6 else "0.0.0.0"), 0))
        sock.sendto(P.build(address, *args), target)
        deadline = time.monotonic() + answer_timeout
        job = ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = f"job {job} did not finish" if job else f"no answer from {host}:{port}"
                raise ClientError("timeout", f"{what} in time (is 'syncfoley serve' running?)", job)
            sock.settimeout(remaining)
            try:
                data, _ = sock.recvfrom(65536)
            except socket.timeout:
                continue
            try:
                msgs = P.parse(data)
            except P.ProtocolError:
                continue
            for m in msgs:
                reply = Reply(m.address, m.args)
                if on_reply is not None:
                    on_reply(reply)
                if reply.kind == "error":
                    code, message, jid = (list(reply.args) + ["", "", ""])[:3]
                    if not job or jid in ("", job):
                        raise ClientError(str(code), str(message), str(jid))
                    continue
                if reply.kind == "accepted":
                    job = str(reply.args[0])
                    if address not in WORK_ADDRESSES or not wait:
                        return reply
                    deadline = time.monotonic() + timeout
                    continue
                if reply.kind == "progress":
                    continue
                if reply.kind == "done" and job and str(reply.args[0]) != job:
                    continue
                return reply
    finally:
        sock.close()


def result_json(reply: Reply) -> Any:
    """The JSON carried by a ``done`` or ``status`` reply."""
    text = reply.args[-1] if reply.args else "{}"
    return json.loads(text) if isinstance(text, str) else text
