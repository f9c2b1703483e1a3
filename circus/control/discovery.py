"""circusd's side of multicast discovery: answer probes with the control endpoint.

The datagrams are the original's (:mod:`circus.wire.discovery`). What differs is what is
exposed and what a sender can make circusd do:

- The group is joined on the interfaces of ``multicast_interfaces`` only (default ``lo``) and a
  probe is answered only when it arrived on one of them (``IP_PKTINFO`` says where), so by
  default only this host can discover circusd. The configuration refuses a non-loopback
  interface unless the endpoint is a CURVE-protected TCP endpoint other machines can reach
  (:func:`circus.config.checks.check_discovery`). The socket is bound to the group address and
  receives that group only (``IP_MULTICAST_ALL`` off): unicast datagrams to the port, and other
  groups joined on this host, never reach it.
- Every datagram costs a token of a bucket that refills at :data:`DATAGRAMS_PER_SECOND`; when
  it is empty circusd stops reading the socket until a token is back, and the kernel drops
  what a flood sends meanwhile (the receive buffer is small). A flood of probes costs circusd
  at most that many reads and answers a second, whatever its rate.
- Only the probe (``""``) is answered; anything else, a truncated (oversized) datagram or one
  from an interface not listed, is counted and ignored. Nothing a datagram holds is parsed
  beyond that comparison.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from circus.util.endpoints import parse_multicast
from circus.util.netif import can_multicast, interface_index, mreqn
from circus.wire.discovery import MAX_DATAGRAM, encode_answer, is_probe

log = logging.getLogger(__name__)

DATAGRAMS_PER_SECOND = 20.0  # reads (and so answers) per second at most, whatever arrives
BURST = 20  # reads allowed at once after a quiet time
RECEIVE_BUFFER = 16 * 1024  # bytes the kernel queues for the socket; a flood beyond is dropped
#: Linux socket options the socket module does not name (linux/in.h)
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)
_PKTINFO = struct.Struct("=i4s4s")  # struct in_pktinfo: ifindex, spec_dst, addr


@dataclass
class Counters:
    """What the responder did, for logs and tests."""

    answered: int = 0
    ignored: int = 0  #: not a probe, truncated, or from an interface not listed
    paused: int = 0  #: times the bucket ran dry and reading stopped
    errors: int = 0  #: answers the kernel refused to send


@dataclass
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up."""

    rate: float
    burst: int
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def wait(self) -> float:
        """Seconds until the next token."""
        return max(0.0, (1 - self.tokens) / self.rate)


class DiscoveryResponder:
    """Answer discovery probes for ``endpoint`` on ``interfaces`` (see the module docstring)."""

    def __init__(
        self,
        multicast: str,
        endpoint: str,
        interfaces: Sequence[str],
        *,
        curve: bool = False,
        curve_public_key: str | None = None,
        rate: float = DATAGRAMS_PER_SECOND,
        burst: int = BURST,
    ):
        self.group, self.port = parse_multicast(multicast)
        self.interfaces = tuple(interfaces)
        self.answer = encode_answer(endpoint, curve, curve_public_key)
        self.counters = Counters()
        self._bucket = TokenBucket(rate, burst)
        self._allowed: set[int] = set()  # indexes of the interfaces answered on
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resume: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Join the group on every interface and start answering; OSError or ValueError (an
        unknown interface) naming what failed, with nothing left open."""
        self._loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.setblocking(False)
            # Several circusds (and original ones) on one host share the port: each gets a
            # copy of every datagram to the group.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            sock.bind((self.group, self.port))
            for name in self.interfaces:
                index = interface_index(name)
                if not can_multicast(name):
                    log.warning(
                        "discovery: interface %s is down or has multicast off (ip link set %s "
                        "up multicast on): probes may not reach circusd there",
                        name,
                        name,
                    )
                try:
                    sock.setsockopt(
                        socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn(self.group, index)
                    )
                except OSError as exc:
                    raise OSError(
                        exc.errno, f"cannot join {self.group} on {name}: {exc.strerror}"
                    ) from None
                self._allowed.add(index)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._loop.add_reader(sock.fileno(), self._readable)
        log.info(
            "discovery: answering probes to udp://%s:%d on %s",
            self.group,
            self.port,
            ", ".join(self.interfaces),
        )

    def stop(self) -> None:
        """Stop answering and close the socket (idempotent)."""
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if self._sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    # --- serving ------------------------------------------------------------------------------

    def _readable(self) -> None:
        sock = self._sock
        assert sock is not None and self._loop is not None
        while True:
            if not self._bucket.take():
                self._pause()
                return
            try:
                data, ancillary, flags, address = sock.recvmsg(
                    MAX_DATAGRAM + 1, socket.CMSG_SPACE(_PKTINFO.size)
                )
            except (BlockingIOError, InterruptedError):
                self._bucket.tokens += 1  # nothing was read: give the token back
                return
            except OSError as exc:  # e.g. ECONNREFUSED queued by an earlier answer
                log.debug("discovery: receive failed: %s", exc)
                continue
            if self._wanted(data, ancillary, flags):
                self._send(sock, address)
            else:
                self.counters.ignored += 1

    def _wanted(self, data: bytes, ancillary: list, flags: int) -> bool:
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or not is_probe(data):
            return False
        # Only datagrams this host sends arrive on lo (its own, or ones it loops back), from
        # whichever of its addresses the sender's route picked: the interface is the check.
        return _arrival_index(ancillary) in self._allowed

    def _send(self, sock: socket.socket, address: tuple) -> None:
        try:
            sock.sendto(self.answer, address)
        except OSError as exc:
            self.counters.errors += 1
            if exc.errno not in (errno.EAGAIN, errno.ENETUNREACH, errno.EHOSTUNREACH):
                log.debug("discovery: cannot answer %s: %s", address, exc)
            return
        self.counters.answered += 1
        log.debug("discovery: answered %s:%d", *address)

    def _pause(self) -> None:
        """The bucket is empty: stop reading until it has a token again."""
        assert self._sock is not None and self._loop is not None
        self.counters.paused += 1
        self._loop.remove_reader(self._sock.fileno())
        self._resume = self._loop.call_later(self._bucket.wait(), self._unpause)

    def _unpause(self) -> None:
        self._resume = None
        if self._sock is not None and self._loop is not None:
            self._loop.add_reader(self._sock.fileno(), self._readable)


def _arrival_index(ancillary: list) -> int:
    """The interface index of ``IP_PKTINFO`` in a datagram's ancillary data (0 if absent)."""
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= _PKTINFO.size:
            return _PKTINFO.unpack_from(data)[0]
    return 0
