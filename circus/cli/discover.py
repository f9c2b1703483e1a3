"""``circusctl --discover``: list the circusds that answer multicast discovery.

Formats (``--discover-format``): ``list`` (one line per circusd, for people), ``hosts`` (a
hosts file for ``circusctl --hosts``), ``endpoints`` (``--endpoint E`` words for a fleet
command line); ``--json`` prints the announcements as a JSON list. Exit 0 when at least one
circusd answered, 1 when none did, 2 for a bad option (unknown interface, bad address).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from circus.util.endpoints import DEFAULT_DISCOVERY_WAIT, DEFAULT_MULTICAST

if TYPE_CHECKING:  # circusctl imports this module at every run, for its options: not these
    from circus.wire.discovery import Announcement

FORMATS = ("list", "hosts", "endpoints")


def run_discover(
    out: TextIO,
    err: TextIO,
    *,
    multicast: str | None,
    wait: float | None,
    interfaces: Sequence[str] | None,
    output: str,
    as_json: bool,
) -> int:
    """Probe, print in ``output`` format (or JSON), return circusctl's exit code."""
    # here: circusctl imports this module at every run (its options); the blocking probe
    # imports no asyncio
    from circus.wire.discovery import discover_sync

    wait = DEFAULT_DISCOVERY_WAIT if wait is None else wait
    try:
        found = discover_sync(multicast or DEFAULT_MULTICAST, wait, interfaces)
    except ValueError as exc:
        print(f"circusctl: error: {exc}", file=err)
        return 2
    except OSError as exc:
        print(f"circusctl: discovery failed: {exc}", file=err)
        return 1
    if as_json:
        print(json.dumps([_as_dict(a) for a in found]), file=out)
    elif found:
        print(
            {"list": as_list, "hosts": as_hosts, "endpoints": as_endpoints}[output](found), file=out
        )
    if not found:
        where = ", ".join(interfaces) if interfaces else "every multicast interface"
        print(f"circusctl: no circusd answered within {wait:g} s (probed on {where})", file=err)
        return 1
    return 0


def _as_dict(a: Announcement) -> dict[str, object]:
    return {
        "endpoint": a.endpoint,
        "sender": a.sender,
        "curve": a.curve,
        "curve_public_key": a.curve_public_key,
        "seconds": round(a.seconds, 4),
    }


def _protection(a: Announcement) -> str:
    if a.curve is None:
        return "original circusd (CURVE not announced)"
    return "CURVE" if a.curve else "no CURVE (loopback)"


def as_list(found: Sequence[Announcement]) -> str:
    """One line per circusd: endpoint, protection, sender (and the announced key)."""
    width = max(len(a.endpoint) for a in found)
    lines = []
    for a in found:
        line = f"{a.endpoint:<{width}}  {_protection(a)}, from {a.sender}"
        if a.curve_public_key:
            line += f", server key {a.curve_public_key}"
        lines.append(line)
    return "\n".join(lines)


def section_name(a: Announcement) -> str:
    """A hosts-file section name: the endpoint's host and port, or the socket's path."""
    where = a.endpoint.split("://", 1)[1]
    return re.sub(r"[^A-Za-z0-9_.:/-]", "_", where).strip("/").replace("/", "_") or "circusd"


def as_hosts(found: Sequence[Announcement]) -> str:
    """A hosts file (``circusctl --hosts``). CURVE hosts need the server's certificate file,
    which discovery cannot give: their ``curve_server_key`` line is left for the operator to
    fill (the announced key is in a comment, to check the file against)."""
    blocks = ["; written by circusctl --discover: check each host before use"]
    names: set[str] = set()
    for a in found:
        name = section_name(a)
        while name in names:
            name += "_"
        names.add(name)
        lines = [
            f"[{name}]",
            f"; answered from {a.sender}: {_protection(a)}",
            f"endpoint = {a.endpoint}",
        ]
        if a.curve:
            if a.curve_public_key:
                lines.append(f"; announced server key: {a.curve_public_key}")
            lines.append("; curve_secret_key = <your certificate (with secret key)>")
            lines.append("; curve_server_key = <this circusd's public certificate file>")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def as_endpoints(found: Sequence[Announcement]) -> str:
    """``--endpoint E`` for each circusd, on one line (a fleet command line)."""
    return " ".join(f"--endpoint {shlex.quote(a.endpoint)}" for a in found)
