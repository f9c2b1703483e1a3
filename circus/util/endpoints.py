"""Endpoint strings: ``ipc://PATH``, ``tcp://HOST:PORT``, or a plain absolute path (kernel)."""

from __future__ import annotations

import os

from papa_kernel.paths import runtime_dir
from papa_kernel.records import frozen_record


def runtime_endpoint(name: str) -> str:
    """``ipc://`` endpoint of the socket ``name`` in the private runtime directory
    (:func:`papa_kernel.paths.runtime_dir`, computed at each call)."""
    return f"ipc://{os.path.join(runtime_dir(), name)}"


def default_endpoint() -> str:
    """Default control endpoint (ROUTER): ``[circus] endpoint``'s default."""
    return runtime_endpoint("circus.sock")


def default_pubsub_endpoint() -> str:
    """Default events endpoint (PUB): ``[circus] pubsub_endpoint``'s default."""
    return runtime_endpoint("pubsub.sock")


def default_stats_endpoint() -> str:
    """Default circusd-stats endpoint (PUB): ``[circus] stats_endpoint``'s default."""
    return runtime_endpoint("stats.sock")


def host_is_loopback(host: str) -> bool:
    """True if every address ``host`` names (resolved) is a loopback address; False for ``""``,
    ``0.0.0.0``, ``::`` (every address) and names that do not resolve."""
    import ipaddress  # here: kept out of circusd's memory until an address is checked
    import socket  # and out of the client tools' start (circusctl imports this module)

    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses
    )


@frozen_record
class Endpoint:
    scheme: str  # "ipc" | "tcp"
    path: str | None = None
    host: str | None = None
    port: int | None = None

    @property
    def is_loopback(self) -> bool:
        if self.scheme == "ipc":
            return True
        import ipaddress  # here: kept out of circusd's memory until an address is checked

        host = (self.host or "").strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def parse_endpoint(value: str) -> Endpoint:
    """Parse an endpoint; raise ValueError naming what is wrong."""
    text = value.strip()
    if text.startswith("ipc://"):
        path = text[len("ipc://") :]
        if not path:
            raise ValueError(f"endpoint {value!r} has no path")
        return Endpoint("ipc", path=path)
    if text.startswith("tcp://"):
        rest = text[len("tcp://") :]
        host, sep, port = rest.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"endpoint {value!r} must be tcp://HOST:PORT")
        return Endpoint("tcp", host=host.strip("[]"), port=int(port))
    if os.path.isabs(text):
        return Endpoint("ipc", path=text)
    raise ValueError(
        f"endpoint {value!r} must start with ipc:// or tcp:// (or be an absolute socket path)"
    )


# Multicast discovery's defaults (circus.wire.discovery), here so that circusctl's help shows them
# without importing the discovery modules.
DEFAULT_MULTICAST = "udp://237.219.251.97:12027"  # the original's DEFAULT_ENDPOINT_MULTICAST
DEFAULT_DISCOVERY_WAIT = 2.0  # seconds a discovery listens for answers


def parse_multicast(endpoint: str) -> tuple[str, int]:
    """``udp://GROUP:PORT`` as ``(group, port)``; ValueError naming what is wrong."""
    import ipaddress  # here: kept out of circusd's memory until an address is checked

    text = endpoint.strip()
    host, sep, port = text.removeprefix("udp://").rpartition(":")
    try:
        ok = text.startswith("udp://") and bool(sep) and ipaddress.IPv4Address(host).is_multicast
    except ValueError:
        ok = False
    if not ok or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(
            f"expected udp://MULTICAST_ADDR:PORT (224.0.0.0-239.255.255.255), got {endpoint!r}"
        )
    return host, int(port)


def kernel_socket_path(papa_endpoint: str) -> str:
    """The unix socket path of a kernel endpoint, or a runtime-dir path standing for a TCP one
    (used to name lock files)."""
    endpoint = parse_endpoint(papa_endpoint)
    if endpoint.scheme == "ipc":
        return endpoint.path or ""
    return os.path.join(runtime_dir(), f"papa-tcp-{endpoint.host}-{endpoint.port}")
