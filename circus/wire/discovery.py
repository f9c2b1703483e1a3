"""Multicast discovery on the wire, as the original Circus 0.19 does it, and the probing side.

The original (circus 0.19 ``controller.py`` ``Controller.handle_autodiscover_message`` and
``util.py`` ``create_udp_socket``; its client is circus-web 1.0.0 ``circusweb/util.py``
``AutoDiscovery``):

- circusd joins the group of ``multicast_endpoint`` (default ``udp://237.219.251.97:12027``)
  and listens on its port;
- a client sends a *probe* to the group: the two bytes ``""`` (a JSON empty string);
- circusd answers the sender (unicast, from the group socket) with a JSON object whose
  ``endpoint`` is its control endpoint: ``{"endpoint": "tcp://127.0.0.1:5555"}``;
- the client takes ``endpoint``, replacing a ``0.0.0.0`` host by the answer's source address.

This circusd sends the same probe and the same answer, with two keys more that the original's
client ignores: ``curve`` (true when the endpoint is CURVE-protected) and, then,
``curve_public_key`` (circusd's public key in Z85, to compare with the certificate an
operator holds: an announcement is not authenticated, the CURVE handshake is). An answer
without ``curve`` comes from an original circusd.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable, Sequence

from circus.util.endpoints import DEFAULT_DISCOVERY_WAIT, DEFAULT_MULTICAST, parse_multicast
from circus.util.netif import interface_address, interface_index, mreqn, multicast_interfaces

PROBE = b'""'  # what circus-web sends (json.dumps(""))
MAX_DATAGRAM = 1024  # the original reads answers and probes with recvfrom(1024)
DEFAULT_WAIT = DEFAULT_DISCOVERY_WAIT
PROBE_COUNT = 3  # probes per interface, spread over the first half of the wait (UDP may drop)
PROBE_TTL = 1  # hops: the local link only (the original sent with 255)
_WILDCARD_HOSTS = ("0.0.0.0", "*", "[::]", "::")


def is_probe(data: bytes) -> bool:
    """True for a discovery probe (``""``, surrounding whitespace allowed)."""
    return data.strip() == PROBE


def encode_answer(endpoint: str, curve: bool, curve_public_key: str | None = None) -> bytes:
    """circusd's answer: the original's ``{"endpoint": ...}`` plus ``curve`` (and the key)."""
    answer: dict[str, object] = {"endpoint": endpoint, "curve": curve}
    if curve and curve_public_key:
        answer["curve_public_key"] = curve_public_key
    data = json.dumps(answer).encode()
    if len(data) > MAX_DATAGRAM:
        raise ValueError(f"discovery answer for {endpoint!r} is over {MAX_DATAGRAM} bytes")
    return data


class Announcement:
    """A circusd that answered a discovery probe (immutable; equal when all but ``seconds``
    are). A plain class rather than a dataclass: ``circusctl --discover`` imports no
    ``dataclasses`` (and its ``inspect``, ~5 ms of CPU at each run)."""

    _FIELDS = ("endpoint", "sender", "curve", "curve_public_key", "seconds")
    __slots__ = ("curve", "curve_public_key", "endpoint", "seconds", "sender")

    endpoint: str  #: its control endpoint (a wildcard host replaced by ``sender``)
    sender: str  #: the address the answer came from
    curve: bool | None  #: CURVE-protected; None: an original circusd (it does not say)
    curve_public_key: str | None  #: announced, not proven: compare with your key file
    seconds: float  #: from the first probe to this answer

    def __init__(
        self,
        endpoint: str,
        sender: str,
        curve: bool | None,
        curve_public_key: str | None = None,
        seconds: float = 0.0,
    ) -> None:
        for name, value in zip(
            self._FIELDS, (endpoint, sender, curve, curve_public_key, seconds), strict=True
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"an Announcement is immutable: cannot set {name!r}")

    def _key(self) -> tuple[str, str, bool | None, str | None]:
        return (self.endpoint, self.sender, self.curve, self.curve_public_key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Announcement):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"Announcement({fields})"

    def at(self, seconds: float) -> Announcement:
        """This answer, come ``seconds`` after the first probe."""
        return Announcement(*self._key(), seconds=seconds)

    @property
    def original(self) -> bool:
        """True for an original (0.19) circusd's answer."""
        return self.curve is None


def decode_answer(data: bytes, sender: str) -> Announcement | None:
    """An answer as an :class:`Announcement`, or None for anything else (never raises)."""
    if len(data) > MAX_DATAGRAM:
        return None
    try:
        answer = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(answer, dict):
        return None
    endpoint, curve, key = (answer.get(k) for k in ("endpoint", "curve", "curve_public_key"))
    if not isinstance(endpoint, str) or not endpoint.startswith(("tcp://", "ipc://")):
        return None
    if curve is not None and not isinstance(curve, bool):
        return None
    if not (isinstance(key, str) and len(key) == 40 and key.isprintable()):
        key = None
    return Announcement(_unwild(endpoint, sender), sender, curve, key)


def _unwild(endpoint: str, sender: str) -> str:
    """``tcp://0.0.0.0:5555`` (circusd binds every address) as ``tcp://SENDER:5555``."""
    if not endpoint.startswith("tcp://"):
        return endpoint
    host, _, port = endpoint[len("tcp://") :].rpartition(":")
    return f"tcp://{sender}:{port}" if host in _WILDCARD_HOSTS else endpoint


# --- probing ----------------------------------------------------------------------------------


class _Probe:
    """One discovery: its socket, its probe schedule and the answers so far, for the asyncio
    (:func:`discover`) and the blocking (:func:`discover_sync`) ways to wait."""

    def __init__(self, multicast: str, wait: float, interfaces: Sequence[str] | None) -> None:
        self.group, self.port = parse_multicast(multicast)
        names = list(interfaces) if interfaces is not None else multicast_interfaces()
        if not names:
            raise OSError(
                "no network interface to probe on: none is up with multicast on "
                "(for this host only: ip link set lo up)"
            )
        indexes = {name: interface_index(name) for name in names}
        self.options = {
            name: mreqn(self.group, index, interface_address(name) or "0.0.0.0")
            for name, index in indexes.items()
        }
        self.wait = wait
        self.found: dict[tuple[str, str], Announcement] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            self.sock.setblocking(False)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, PROBE_TTL)
            self.sock.bind(("0.0.0.0", 0))
        except BaseException:
            self.sock.close()
            raise
        self.started = time.monotonic()
        self.deadline = self.started + wait

    def send_round(self, round_: int) -> float | None:
        """Send round ``round_`` of probes, one on each interface; returns the seconds until
        the next round, None after the last (then the rest of the wait is waited out)."""
        sent = 0
        errors: list[str] = []
        for name, option in self.options.items():
            try:
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, option)
                self.sock.sendto(PROBE, (self.group, self.port))
                sent += 1
            except OSError as exc:
                errors.append(f"{name}: {exc.strerror or exc}")
        if round_ == 0 and not sent:
            raise OSError(f"cannot send a discovery probe: {'; '.join(errors)}")
        # the rounds are spread over the first half of the wait
        return self.wait / 2 / PROBE_COUNT if round_ < PROBE_COUNT - 1 else None

    def read(self) -> None:
        """The answers waiting on the socket (at most 64 a call; the rest on the next one)."""
        for _ in range(64):
            try:
                data, (address, _port) = self.sock.recvfrom(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # an ICMP error from an earlier send: keep listening
                continue
            answer = decode_answer(data, address)
            if answer is not None and (answer.endpoint, address) not in self.found:
                self.found[(answer.endpoint, address)] = answer.at(time.monotonic() - self.started)

    def result(self) -> list[Announcement]:
        return sorted(self.found.values(), key=lambda a: (a.endpoint, a.sender))


async def discover(
    multicast: str = DEFAULT_MULTICAST,
    wait: float = DEFAULT_WAIT,
    interfaces: Sequence[str] | None = None,
) -> list[Announcement]:
    """Probe for circusds and return those that answered within ``wait`` seconds, sorted by
    endpoint, one per endpoint and sender.

    ``interfaces``: the interfaces to probe on (names); default: every interface that is up
    and can multicast (see :func:`multicast_interfaces`). Each gets :data:`PROBE_COUNT` probes
    with a TTL of :data:`PROBE_TTL` (the local link). ValueError for a bad ``multicast`` or an
    unknown interface; OSError when there is no interface to probe on or no probe could be
    sent at all.
    """
    probe = _Probe(multicast, wait, interfaces)
    import asyncio  # here: circusctl imports this module for its defaults, and no asyncio

    loop = asyncio.get_running_loop()
    try:
        loop.add_reader(probe.sock.fileno(), probe.read)
        try:
            round_ = 0
            while (pause := probe.send_round(round_)) is not None:
                await asyncio.sleep(pause)
                round_ += 1
            await asyncio.sleep(max(0.0, probe.deadline - time.monotonic()))
        finally:
            loop.remove_reader(probe.sock.fileno())
    finally:
        probe.sock.close()
    return probe.result()


def discover_sync(
    multicast: str = DEFAULT_MULTICAST,
    wait: float = DEFAULT_WAIT,
    interfaces: Iterable[str] | None = None,
) -> list[Announcement]:
    """:func:`discover` for code without an event loop (``circusctl --discover``): the same
    probes and answers, waited for with ``select``, without importing asyncio (~18 ms of CPU
    at a tool's start)."""
    import select

    probe = _Probe(multicast, wait, None if interfaces is None else list(interfaces))
    try:
        next_round: float | None = time.monotonic()
        round_ = 0
        while True:
            now = time.monotonic()
            if next_round is not None and now >= next_round:
                pause = probe.send_round(round_)
                round_ += 1
                next_round = None if pause is None else now + pause
            until = probe.deadline if next_round is None else min(next_round, probe.deadline)
            if now >= probe.deadline:
                break
            if select.select([probe.sock], [], [], max(0.0, until - now))[0]:
                probe.read()
    finally:
        probe.sock.close()
    return probe.result()
