"""The daemon under attack: each test is the attack itself (the datagram, the request), sent
to a real daemon process over UDP, and asserts the promise: the daemon stays answering
(a ping within 50 ms afterwards), replies go nowhere they should not, the log stays small."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from daemon_helpers import Client, Daemon

from syncfoley.bridge.daemon import protocol as P
from syncfoley.bridge.daemon.server import Daemon as InProcessDaemon
from syncfoley.bridge.daemon.server import ServeConfig


def ping_time(client: Client, timeout: float = 5.0) -> float:
    """Seconds until a pong comes back (other replies still in flight are skipped)."""
    t0 = time.perf_counter()
    client.send("/syncfoley/ping")
    while client.recv(timeout).address != "/syncfoley/pong":
        pass
    return time.perf_counter() - t0


def assert_live(client: Client) -> None:
    """Answered within 50 ms (best of three, so that one scheduler hiccup on a loaded CI
    machine is not read as a stall; a stalled daemon fails all three)."""
    best = min(ping_time(client) for _ in range(3))
    assert best < 0.05, f"ping took {best * 1000:.0f} ms"


def silent(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        sock.recvfrom(65536)
    except socket.timeout:
        return True
    return False


def log_size(d: Daemon) -> int:
    return sum(p.stat().st_size for p in d.workdir.glob("syncfoley.log*"))


def test_a_bundle_with_a_negative_element_size(daemon: Daemon, client: Client) -> None:
    # 24 bytes that send python-osc's bundle parser into an endless loop.
    client.raw(bytes.fromhex("2362756e646c65000000000000000001fffffffc00000000"))
    err = client.recv()
    assert err.address == "/syncfoley/error" and err.args[0] == P.BAD_DATAGRAM and "-4" in err.args[1]
    before = log_size(daemon)
    assert_live(client)
    time.sleep(0.5)
    assert log_size(daemon) - before < 2000, "the log keeps growing"


def test_a_reply_port_that_is_the_daemon_itself(daemon: Daemon, client: Client) -> None:
    for name in ("ping", "status"):
        client.send(P.PREFIX + name, json.dumps({"reply_port": daemon.port}))
        err = client.recv()
        assert err.args[0] == P.BAD_REQUEST and "the daemon itself" in err.args[1]
        client.send(P.PREFIX + name, json.dumps({"reply_host": "127.0.0.1", "reply_port": daemon.port}))
        assert client.recv().args[0] == P.BAD_REQUEST
    before = log_size(daemon)
    time.sleep(1.0)
    assert log_size(daemon) - before < 2000, "the daemon is talking to itself"
    assert_live(client)


def test_reply_addresses_sent_to_the_daemon_are_never_answered(daemon: Daemon, client: Client) -> None:
    for address in P.REPLIES:
        client.send(address, "x")
    client.send("/syncfoley/error", P.UNKNOWN_ADDRESS, "unknown address", "")
    assert silent(client.sock, 0.5)
    assert_live(client)


def test_a_status_reply_bounced_between_two_daemons_dies_out(tmp_path: Path) -> None:
    a, b = Daemon(tmp_path / "a"), Daemon(tmp_path / "b")
    c = Client(a.port)
    try:
        # A's status reply goes to B, which must not take it for a request and answer A back for ever.
        c.send("/syncfoley/status", json.dumps({"reply_port": b.port}))
        time.sleep(1.0)
        sizes = (log_size(a), log_size(b))
        time.sleep(1.0)
        assert (log_size(a), log_size(b)) == sizes, "the two daemons keep answering each other"
        assert_live(c)
        c.port = b.port
        assert_live(c)
    finally:
        c.close()
        a.stop()
        b.stop()


def test_without_the_token_nothing_goes_to_a_third_party(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "work", "--token", "s3cret")
    c = Client(d.port)
    victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    victim.bind(("127.0.0.1", 0))
    try:
        port = victim.getsockname()[1]
        for name in ("ping", "status", "detect"):
            c.send(P.PREFIX + name, json.dumps({"reply_host": "127.0.0.1", "reply_port": port}))
            err = c.recv()
            assert err.address == "/syncfoley/error" and err.args[0] == P.FORBIDDEN
        assert silent(victim, 0.5), "an unauthenticated request aimed a reply at a third party"
        # With the token, the reply address is honoured.
        c.send("/syncfoley/ping", json.dumps({"token": "s3cret", "reply_port": port}))
        victim.settimeout(5)
        assert P.parse(victim.recvfrom(65536)[0])[0].address == "/syncfoley/pong"
    finally:
        victim.close()
        c.close()
        d.stop()


def test_a_reply_host_name_is_refused_without_asking_dns(daemon: Daemon, client: Client) -> None:
    for host in ("resolver-that-never-answers.invalid", "localhost", "", 42):
        t0 = time.perf_counter()
        client.send("/syncfoley/ping", json.dumps({"reply_host": host}))
        err = client.recv()
        assert err.args[0] == P.BAD_REQUEST and "reply_host must be an IP address" in err.args[1]
        assert time.perf_counter() - t0 < 0.5
    assert_live(client)


def test_a_flood_then_answers_at_once_and_says_so(daemon: Daemon, client: Client) -> None:
    junk = [b"", b"abc", b"/x\x00\x00,s\x00\x00", bytes.fromhex("2362756e646c65000000000000000001fffffffc00000000"),
            P.build("/syncfoley/nothing"), P.build("/syncfoley/pong", "1")]
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.bind(("127.0.0.1", 0))
    try:
        t0 = time.monotonic()
        for k in range(20000):
            flood.sendto(junk[k % len(junk)], ("127.0.0.1", daemon.port))
        seconds = time.monotonic() - t0
        time.sleep(0.3)  # let the daemon drain what the socket buffer held
        assert_live(client)
        time.sleep(1.2)
        ping_time(client)  # the next datagram after the burst closes the window
        text = "".join(p.read_text() for p in daemon.workdir.glob("syncfoley.log*"))
        assert "(a flood?); back to normal" in text, f"no word of the flood ({seconds:.1f} s of sending)"
        assert log_size(daemon) < 200_000, "each junk datagram got a log line"
        assert daemon.alive()
    finally:
        flood.close()


def test_a_datagram_from_the_daemons_own_address_is_dropped(tmp_path: Path) -> None:
    # A spoofed source can only be sent with raw sockets; the control path is called directly.
    d = InProcessDaemon(ServeConfig(port=0, workdir=tmp_path / "work", verbose=False))
    sent: list[tuple[tuple[str, int], str]] = []
    d._send = lambda to, address, *args: sent.append((to, address))  # type: ignore[method-assign]
    try:
        own = ("127.0.0.1", d.address[1])
        d.handle(P.build("/syncfoley/ping"), own)
        d.handle(P.build("/syncfoley/status"), ("127.0.0.5", d.address[1]))
        d.handle(b"junk", own)
        assert sent == []
        d.handle(P.build("/syncfoley/ping"), ("127.0.0.1", 1))
        assert sent == [(("127.0.0.1", 1), "/syncfoley/pong")]
    finally:
        d.sock.close()
        d.store.close()


def test_ipv6_loopback_is_loopback(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "work", "--host", "::1")
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.bind(("::1", 0))
        sock.settimeout(5)
        sock.sendto(P.build("/syncfoley/ping"), ("::1", d.port))
        assert P.parse(sock.recvfrom(65536)[0])[0].address == "/syncfoley/pong"
        sock.sendto(P.build("/syncfoley/ping", json.dumps({"reply_host": "127.0.0.1"})), ("::1", d.port))
        err = P.parse(sock.recvfrom(65536)[0])[0]
        assert err.args[0] == P.BAD_REQUEST and "IPv4" in err.args[1]
        sock.close()
    finally:
        d.stop()


def test_a_blank_token_is_no_token(tmp_path: Path) -> None:
    from conftest import run_cli

    res = run_cli("serve", "--host", "0.0.0.0", "--port", "0", "--token", "   ", "--workdir", str(tmp_path / "w"))
    assert res.returncode == 2 and "give --token SECRET" in res.stderr
