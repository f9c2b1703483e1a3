"""What a worker was spawned from: a fingerprint of its SpawnSpec, kept in the kernel.

A kernel-hosted worker outlives circusd. When a new circusd adopts it, the configuration may
have changed meanwhile (another ``cmd``, ``env``, ``working_dir``...): the worker still runs
what the *old* configuration said. To tell, circusd stores one small value per worker in the
kernel's key/value store when it spawns it, and compares it on adoption.

The fingerprint is computed from the :class:`~circus.hosts.base.SpawnSpec` itself (the exact
thing the host was asked to run), plus the definitions of the sockets it inherits, so it can
never drift from what spawning does: every SpawnSpec field is covered, new fields included.
Each field gets its own short digest, so a changed worker can be reported with *which* fields
changed (``argv``, ``env``, ``working_dir``...), never with their values (an environment may
hold secrets; the kernel's values are readable by whoever can talk to the kernel).

Value format (one per worker, about 300 bytes)::

    circus.spawned.<watcher>.<wid>  =  1,pid=1234,argv=3f2a9c01d4e5,env=...,sockets=...

``1`` is the format version; ``pid`` ties the record to one process, so a record left by an
earlier process of the same wid (circusd died between the spawn and the record) is never
taken for the running one's.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any

from circus.errors import KernelError
from circus.hosts.base import ProcessHost, SocketSpec, SpawnSpec
from circus.hosts.names import NAMESPACE
from circus.util.no_openssl import sha256
from papa_kernel import records

#: Prefix of the kernel values holding spawn records (``circus.spawned.<watcher>.<wid>``).
RECORD_PREFIX = f"{NAMESPACE}.spawned."
#: Version of the value format; a value in another format is ignored (the worker is "unknown").
FORMAT = "1"
#: Hex digits kept per field digest: 48 bits, enough to tell two configurations apart.
DIGEST_LENGTH = 12
#: The pseudo-field covering the definitions of the sockets a worker inherits.
SOCKET_SPECS = "socket_specs"
#: SpawnSpec fields not part of the fingerprint: the name is the record's key; a changed
#: stop_signal is policy, the worker need not be replaced for it.
_NOT_FINGERPRINTED = frozenset({"name", "stop_signal"})

Fingerprint = dict[str, str]


_PLAIN = (str, int, float, type(None))  # bool is an int
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: Any) -> Any:
    """A JSON-able, order-independent form of a SpawnSpec value."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if records.is_record(value):
        return _canonical(records.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    return value


def _digest(value: Any) -> str:
    text = _ENCODER.encode(_canonical(value))
    return sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:DIGEST_LENGTH]


#: SpawnSpec fields in the fingerprint (every one but those in _NOT_FINGERPRINTED)
_FIELDS = tuple(f for f in records.fields(SpawnSpec) if f.name not in _NOT_FINGERPRINTED)


def _default_digests() -> Fingerprint:
    """The digest of each field's default: a field a newer circusd added to SpawnSpec is
    compared with its default when an older record lacks it."""
    digests = {}
    for f in _FIELDS:
        if f.default_factory is not records.MISSING:
            digests[f.name] = _digest(f.default_factory())
        elif f.default is not records.MISSING:
            digests[f.name] = _digest(f.default)
    digests[SOCKET_SPECS] = _digest([])
    return digests


_DEFAULTS = _default_digests()


#: field -> (the value last digested, its digest), and under :data:`_LAST` the fingerprint
#: made last: see :func:`fingerprint`
DigestMemo = dict[str, tuple[Any, Any]]
_LAST = "\0last"


def fingerprint(
    spec: SpawnSpec, sockets: Sequence[SocketSpec] = (), memo: DigestMemo | None = None
) -> Fingerprint:
    """Field name -> digest for every SpawnSpec field but ``name``, and ``socket_specs`` for
    the definitions of the inherited sockets (a socket re-created on another port).

    ``memo`` reuses the digest of a value that is (or equals) the value digested last time
    for that field: the processes of a watcher share one environment mapping, so it is
    digested once, not once per process (the spawn builder never mutates what it handed out).
    It also hands out the previous fingerprint itself when every digest is the same, so the
    processes of a watcher share one dict (a fingerprint is never mutated): without that,
    each worker kept its own copy, about 1.3 KB of circusd memory per worker."""
    if memo is None:
        memo = {}
    result = {}
    for f in _FIELDS:
        result[f.name] = _memo_digest(memo, f.name, getattr(spec, f.name))
    result[SOCKET_SPECS] = _memo_digest(memo, SOCKET_SPECS, sorted(sockets, key=lambda s: s.name))
    last = memo.get(_LAST)
    if last is not None and last[1] == result:
        return last[1]
    memo[_LAST] = (None, result)
    return result


def _memo_digest(memo: DigestMemo, key: str, value: Any) -> str:
    hit = memo.get(key)
    if hit is not None and (hit[0] is value or hit[0] == value):
        return hit[1]
    memo[key] = (value, _digest(value))
    return memo[key][1]


def changed_fields(recorded: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """The fields whose digest differs (a field missing on one side counts as its default)."""
    if recorded is current or recorded == current:  # the usual case, shared or equal dicts
        return []
    names = sorted(recorded.keys() | current.keys())
    return [
        name
        for name in names
        if recorded.get(name, _DEFAULTS.get(name)) != current.get(name, _DEFAULTS.get(name))
    ]


def record_name(process_name: str) -> str:
    """``circus.spawned.<watcher>.<wid>`` for the process ``circus.<watcher>.<wid>``."""
    return RECORD_PREFIX + process_name.removeprefix(f"{NAMESPACE}.")


def encode(pid: int, fp: Mapping[str, str]) -> str:
    return ",".join([FORMAT, f"pid={int(pid)}", *(f"{k}={v}" for k, v in sorted(fp.items()))])


def decode(value: str) -> tuple[int, Fingerprint] | None:
    """``(pid, fingerprint)``, or None for a value in another format or garbled."""
    version, _, rest = value.partition(",")
    if version != FORMAT:
        return None
    items: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, digest = item.partition("=")
        if not sep or not key:
            return None
        items[key] = digest
    try:
        pid = int(items.pop("pid"))
    except (KeyError, ValueError):
        return None
    return pid, items


# --- in the host ---------------------------------------------------------------------------------

Records = dict[str, tuple[int, Fingerprint] | None]


async def load(host: ProcessHost) -> Records:
    """Every record the host holds: process name -> (pid, fingerprint), None if garbled."""
    values = await host.get_values(RECORD_PREFIX)
    shared: dict[tuple[tuple[str, str], ...], Fingerprint] = {}  # equal ones share one dict
    records: Records = {}
    for name, value in values.items():
        decoded = decode(value)
        if decoded is not None:
            pid, fp = decoded
            decoded = (pid, shared.setdefault(tuple(sorted(fp.items())), fp))
        records[f"{NAMESPACE}.{name[len(RECORD_PREFIX) :]}"] = decoded
    return records


def match(records: Records, name: str, pid: int) -> Fingerprint | None:
    """The fingerprint recorded for the process ``name`` with this ``pid`` (None: unknown)."""
    found = records.get(name)
    return found[1] if found is not None and found[0] == pid else None


async def drop_stale(host: ProcessHost, records: Records, kept: set[str]) -> None:
    """Delete the records of processes not adopted (gone, or another pid) and garbled ones,
    so the kernel holds nothing for them."""
    stale = [record_name(name) for name in records if name not in kept]
    with contextlib.suppress(KernelError):
        await asyncio.gather(*(host.set_value(name, None) for name in stale))
