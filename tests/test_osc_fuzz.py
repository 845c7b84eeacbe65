"""Structured fuzzing of the daemon's OSC parser: valid messages and bundles, encoded here
(independently of the parser under test), then mutated where parsers go wrong: element
and blob sizes (negative, zero, overrunning, misaligned), type tags (unknown, unbalanced
arrays, too many or too few for the arguments), truncation and deep nesting.

The promise: ``parse`` returns messages or raises ``ProtocolError``, nothing else, in
bounded time; an unmutated packet comes back exactly as it was built. The same packets go
to a real daemon, which must answer a ping after each.

CI runs a bounded number of examples; ``SYNCFOLEY_FUZZ_EXAMPLES=10000`` runs the long
suite (see the README's "Security").
"""

from __future__ import annotations

import os
import signal
import struct
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_daemon import Client, Daemon

from syncfoley.bridge.daemon import protocol as P

EXAMPLES = int(os.environ.get("SYNCFOLEY_FUZZ_EXAMPLES", "300"))
_settings = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 300,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@dataclass
class Packet:
    """Encoded bytes, the messages they hold, and where the mutable fields lie."""

    data: bytearray
    messages: list[tuple[str, tuple[Any, ...]]]
    sizes: list[int] = field(default_factory=list)  # offsets of int32 size fields
    tags: list[tuple[int, int]] = field(default_factory=list)  # (offset, length) of type tag characters


def pad(b: bytes) -> bytes:
    return b + b"\x00" * (4 - len(b) % 4)


def encode_message(address: str, args: list[Any]) -> Packet:
    tags, body, sizes = ",", b"", []
    for a in args:
        if isinstance(a, bool) or a is None:
            tags += {True: "T", False: "F", None: "N"}[a]
        elif isinstance(a, int):
            tags, body = tags + "i", body + struct.pack(">i", a)
        elif isinstance(a, float):
            tags, body = tags + "d", body + struct.pack(">d", a)
        elif isinstance(a, str):
            tags, body = tags + "s", body + pad(a.encode())
        else:
            sizes.append(len(body))
            tags, body = tags + "b", body + struct.pack(">i", len(a)) + a + b"\x00" * (-len(a) % 4)
    head = pad(address.encode())
    tag_bytes = pad(tags.encode())
    start = len(head) + len(tag_bytes)
    return Packet(bytearray(head + tag_bytes + body), [(address, tuple(args))],
                  [start + s for s in sizes], [(len(head) + 1, len(tags) - 1)])


def encode_bundle(parts: list[Packet]) -> Packet:
    out = bytearray(b"#bundle\x00" + struct.pack(">Q", 1))
    packet = Packet(out, [])
    for p in parts:
        packet.sizes.append(len(out))
        out += struct.pack(">i", len(p.data))
        base = len(out)
        out += p.data
        packet.messages += p.messages
        packet.sizes += [base + s for s in p.sizes]
        packet.tags += [(base + o, n) for o, n in p.tags]
    return packet


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
arg = st.one_of(st.integers(-2**31, 2**31 - 1), st.floats(allow_nan=False), text, st.binary(max_size=9),
                st.booleans(), st.none())
message = st.builds(encode_message, st.sampled_from(list(P.ADDRESSES) + ["/a", "/x/y"]), st.lists(arg, max_size=5))
packet = st.recursive(message, lambda inner: st.lists(inner, min_size=1, max_size=4).map(encode_bundle),
                      max_leaves=10)
int32 = st.one_of(st.integers(-8, 8), st.integers(-2**31, 2**31 - 1), st.sampled_from([-4, 0, 1, 3, 65536]))
tag_char = st.sampled_from(list(",ifsbhdtTFNIcmrS[]x\x00"))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    p = draw(packet)
    data = p.data
    # Field mutations first, while the recorded offsets still hold; then the structural ones.
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()) and p.sizes:
            at = draw(st.sampled_from(p.sizes))
            data[at: at + 4] = struct.pack(">i", draw(int32))
        elif any(n for _, n in p.tags):
            at, n = draw(st.sampled_from([t for t in p.tags if t[1]]))
            data[at + draw(st.integers(0, n - 1))] = ord(draw(tag_char))
    for kind in draw(st.lists(st.sampled_from(["cut", "grow", "nest"]), max_size=2)):
        if kind == "cut":
            del data[draw(st.integers(0, len(data))):]
        elif kind == "grow":
            data += draw(st.binary(max_size=12))
        else:
            for _ in range(draw(st.integers(1, 12))):
                data = bytearray(b"#bundle\x00" + bytes(8) + struct.pack(">i", len(data)) + data)
    return bytes(data)


class Stalled(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """An endless loop in the parser fails the example instead of hanging the suite."""

    def expire(signum: int, frame: Any) -> None:
        raise Stalled(f"parse ran past {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, list) else value


@_settings
@given(p=packet)
def test_valid_packets_come_back_as_built(p: Packet) -> None:
    with time_limit(2.0):
        got = P.parse(bytes(p.data))
    assert [(m.address, tuple(_plain(a) for a in m.args)) for m in got] == p.messages


@_settings
@given(data=mutated())
def test_mutated_packets_are_parsed_or_refused(data: bytes) -> None:
    with time_limit(2.0):
        try:
            got = P.parse(data)
        except P.ProtocolError as err:
            assert err.code == P.BAD_DATAGRAM and str(err)
            return
    assert len(got) <= P.MAX_MESSAGES
    assert all(m.address.startswith("/") for m in got)


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[Daemon, Client]]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        d = Daemon(Path(tmp) / "work")
        c = Client(d.port)
        yield d, c
        c.close()
        d.stop()


# Over UDP each example costs a round trip: fewer in CI, all of them in the long run.
@settings(_settings, max_examples=EXAMPLES if "SYNCFOLEY_FUZZ_EXAMPLES" in os.environ else 100)
@given(data=mutated())
def test_the_daemon_answers_after_each_mutated_packet(live: tuple[Daemon, Client], data: bytes) -> None:
    d, c = live
    if b"shutdown" in data:
        return  # a valid shutdown inside a mutated bundle would end the run, as it should
    c.raw(data)
    c.send("/syncfoley/ping")
    while c.recv(5.0).address != "/syncfoley/pong":
        pass
    assert d.alive()
