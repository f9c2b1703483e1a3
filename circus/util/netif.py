"""Network interfaces by name (Linux): flags, index, and the ``ip_mreqn`` socket option value.

Multicast discovery joins its group and sends its probes per interface, named by the operator
(``multicast_interfaces``, ``circusctl --discover-interface``)."""

from __future__ import annotations

import fcntl
import socket
import struct

#: Linux ``IFF_*`` flags, as /sys/class/net/NAME/flags shows them
IFF_UP, IFF_LOOPBACK, IFF_MULTICAST = 0x1, 0x8, 0x1000
SIOCGIFADDR = 0x8915  # linux/sockios.h: an interface's IPv4 address


def interface_flags(name: str) -> int:
    """The ``IFF_*`` flags of interface ``name`` (0 when there is no such interface)."""
    if not name or "/" in name or name in (".", ".."):
        return 0
    try:
        with open(f"/sys/class/net/{name}/flags", encoding="ascii") as file:
            return int(file.read().strip(), 16)
    except (OSError, ValueError):
        return 0


def is_loopback_interface(name: str) -> bool:
    """True if ``name`` is a loopback interface of this host (``lo``)."""
    return bool(interface_flags(name) & IFF_LOOPBACK)


def can_multicast(name: str) -> bool:
    """True if interface ``name`` is up and can carry multicast: its multicast flag is on, or
    it is a loopback interface (Linux delivers a group's datagrams sent on ``lo`` to this
    host's members whatever the flag says, and leaves the flag off by default)."""
    flags = interface_flags(name)
    return bool(flags & IFF_UP) and bool(flags & (IFF_MULTICAST | IFF_LOOPBACK))


def multicast_interfaces() -> list[str]:
    """Every interface that is up and can carry multicast (see :func:`can_multicast`)."""
    return [name for _, name in socket.if_nameindex() if can_multicast(name)]


def interface_index(name: str) -> int:
    """The index of interface ``name``; ValueError naming it when there is none."""
    try:
        return socket.if_nametoindex(name)
    except OSError:
        raise ValueError(f"no network interface named {name!r}") from None


def interface_address(name: str) -> str | None:
    """The (first) IPv4 address of interface ``name``, or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            ifreq = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(ifreq[20:24])  # struct ifreq: name[16], sockaddr_in (family, port)


def mreqn(group: str, ifindex: int, address: str = "0.0.0.0") -> bytes:
    """``struct ip_mreqn`` (group, local address, interface index): the value of
    ``IP_ADD_MEMBERSHIP`` and ``IP_MULTICAST_IF`` for one interface. A probe sent with no
    address on ``lo`` leaves from 0.0.0.0 (lo's address has host scope), so give it one."""
    return struct.pack("=4s4si", socket.inet_aton(group), socket.inet_aton(address), ifindex)
