"""Who the daemon answers, and how much: addresses, reply targets, floods.

Kept apart from the server so that the rules an attacker meets first read in one place:
a reply goes to an IP literal (a name would be resolved on the control thread, stalling
every client for the resolver's timeout), never to the daemon's own socket (it would
answer itself for ever), and refusals pass a rate limit (a flood can neither fill the
log nor use the daemon to reflect error replies at a third party).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from typing import Any

from syncfoley.bridge.daemon import protocol as P
from syncfoley.core.errors import RequestError

log = logging.getLogger("syncfoley.daemon")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address of either family, or a name) is this machine only."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback for i in infos)


def socket_family(host: str) -> socket.AddressFamily:
    """The address family to bind ``host`` with (a name is resolved: this runs at start-up)."""
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        pass
    try:
        return socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)[0][0]
    except (OSError, UnicodeError, IndexError):
        raise RequestError(f"cannot bind to {host!r}: not an address this machine has") from None


class Throttle:
    """At most ``per_second`` events pass; the rest are counted and reported once the
    burst is over."""

    def __init__(self, per_second: int, what: str) -> None:
        self.per_second = per_second
        self.what = what
        self.window = time.monotonic()
        self.count = 0
        self.dropped = 0

    def allow(self) -> bool:
        self.tick()
        if self.count < self.per_second:
            self.count += 1
            return True
        self.dropped += 1
        return False

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.window < 1.0:
            return
        if self.dropped:
            log.warning("%d %s not logged or answered in the last %.1f s (a flood?); back to normal",
                        self.dropped, self.what, now - self.window)
        self.window, self.count, self.dropped = now, 0, 0


class ReplyGuard:
    """Where the daemon bound at ``address`` (host, port) over ``family`` may send replies."""

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily) -> None:
        self.address = address
        self.family = family
        self._local: dict[str, bool] = {}

    def is_self(self, addr: tuple[str, int]) -> bool:
        """Whether ``addr`` is the daemon's own socket (any local address, its port)."""
        if addr[1] != self.address[1]:
            return False
        try:
            ip = ipaddress.ip_address(addr[0].split("%")[0])
        except ValueError:
            return True  # not an address at all: never a place to send to
        if ip.is_loopback or ip.is_unspecified or addr[0] == self.address[0]:
            return True
        key = str(ip)
        if key not in self._local:
            if len(self._local) > 256:
                self._local.clear()
            # Binding to an address succeeds only for one this machine has; no DNS, no wait.
            probe = socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.bind((key, 0))
                self._local[key] = True
            except OSError:
                self._local[key] = False
            finally:
                probe.close()
        return self._local[key]

    def reply_address(self, data: dict[str, Any], sender: tuple[str, int]) -> tuple[str, int]:
        """The request's ``reply_host``/``reply_port`` (default: the sender), checked."""
        host = data.get("reply_host", sender[0])
        port = data.get("reply_port", sender[1])
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise P.ProtocolError(P.BAD_REQUEST, f"reply_port must be an integer within 1..65535, got {port!r}")
        try:
            ip = ipaddress.ip_address(host if isinstance(host, str) else "")
        except ValueError:
            raise P.ProtocolError(P.BAD_REQUEST, f"reply_host must be an IP address such as 127.0.0.1 (names are "
                                                 f"not resolved), got {str(host)[:80]!r}") from None
        if (ip.version == 6) != (self.family == socket.AF_INET6):
            raise P.ProtocolError(P.BAD_REQUEST, f"reply_host {host} is IPv{ip.version}; this daemon listens on "
                                                 f"{self.address[0]} and replies over the same family")
        if self.is_self((str(ip), port)):
            raise P.ProtocolError(P.BAD_REQUEST, f"reply_host/reply_port {host}:{port} is the daemon itself; "
                                                 "give the address your client listens on")
        return str(ip), port
