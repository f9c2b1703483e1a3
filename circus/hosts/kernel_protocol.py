"""The papa line protocol as circusd speaks it: endpoints, encoding, reply and record parsing.

Pure functions (no I/O except :func:`read_batch`, which reads from a :class:`ByteReader`: an
asyncio StreamReader or circusd's WatchReader), so every piece can be tested byte for byte.
The wire format is docs/kernel-protocol.md.

What the line protocol cannot carry, and how it is refused (SpawnError/KernelError naming the
argument): a newline, carriage return or NUL anywhere. Up to protocol 3 also: an empty argument
(empty tokens vanish); an argument ending in a backslash (``\\`` before the separating space would
escape it); trailing whitespace on the last token of a line (the kernel strips the line); ``=``
in the program name (it would be read as an option). Protocol 4 sends those arguments as
``arg.N=VALUE`` options instead. A space is sent as ``\\ ``. An option value that ends in a
backslash or is wrapped in double quotes is sent wrapped in one more pair of double quotes,
which the kernel removes.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from circus.errors import HostError, KernelError, SpawnError
from circus.hosts.base import (
    DroppedOutput,
    ExitRecord,
    HostEvent,
    OutputChunk,
    OutputMode,
    ProcessInfo,
    SocketInfo,
    SocketSpec,
    SpawnSpec,
)
from circus.hosts.names import is_wire_safe
from circus.util import endpoints
from papa_kernel.records import frozen_record

PROMPT = b"\n> "
BATCH_END = b"] "
ERROR_PREFIX = "Error: "
WATCH_STOPPED = b"Stopped watching\n> "  # the reply to ``q`` that ends a watch
WATCH_ENDINGS = ("Nothing left to watch", "Stopped watching")
STREAMS = {"out": "stdout", "err": "stderr"}
# The kernel reads a pipe at most 1 MiB at a time, so no output record is longer; a bigger
# length is a broken peer, refused before anything is buffered for it.
MAX_CHUNK_BYTES = 16 * 1024 * 1024
_FORBIDDEN = {"\n": "a newline", "\r": "a carriage return", "\0": "a NUL byte"}


class ProtocolError(KernelError):
    """The kernel sent something that does not follow the protocol."""


# --- endpoints -----------------------------------------------------------------------------------


@frozen_record
class Endpoint:
    """Where the kernel listens: a unix socket path, or a loopback TCP address."""

    path: str | None = None
    host: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        return f"ipc://{self.path}" if self.path else f"tcp://{self.host}:{self.port}"


def parse_endpoint(endpoint: str) -> Endpoint:
    """``ipc://PATH``, ``/abs/path`` or ``tcp://HOST:PORT`` (the grammar of
    :func:`circus.util.endpoints.parse_endpoint`), with an absolute path and a real port;
    KernelError for anything else."""
    try:
        parsed = endpoints.parse_endpoint(endpoint)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.scheme == "ipc" and os.path.isabs(parsed.path or ""):
        return Endpoint(path=parsed.path)
    if parsed is not None and parsed.scheme == "tcp" and 0 < (parsed.port or 0) < 65536:
        return Endpoint(host=parsed.host, port=parsed.port)
    raise KernelError(
        f"bad kernel endpoint {endpoint!r}: use ipc://ABSOLUTE_PATH, an absolute path, "
        f"or tcp://127.0.0.1:PORT"
    )


# --- encoding ------------------------------------------------------------------------------------


def _check_text(text: str, what: str, error: type[HostError] = SpawnError) -> None:
    for char, description in _FORBIDDEN.items():
        if char in text:
            raise error(f"{what} contains {description}, which the kernel protocol cannot carry")


def escape_arg(text: str, what: str) -> str:
    """One positional token: spaces escaped; unrepresentable text refused (SpawnError)."""
    _check_text(text, what)
    if text == "":
        raise SpawnError(
            f"{what} is empty, which papa-kernel protocol 3 and older cannot carry "
            f"(protocol 4 can: upgrade papa-kernel)"
        )
    if text.endswith("\\"):
        raise SpawnError(
            f"{what} ends with a backslash, which papa-kernel protocol 3 and older cannot "
            f"carry (protocol 4 can: upgrade papa-kernel)"
        )
    return text.replace(" ", "\\ ")


def escape_value(text: str, what: str) -> str:
    """The value of a ``key=value`` option (may be empty)."""
    _check_text(text, what)
    escaped = text.replace(" ", "\\ ")
    if text.endswith(("\\", " ", "\t")) or (len(text) >= 2 and text[0] == text[-1] == '"'):
        escaped = f'"{escaped}"'  # the kernel strips one pair of surrounding quotes
    return escaped


def check_name(name: str, what: str = "name", error: type[HostError] = KernelError) -> str:
    """A process/socket/value name must be one plain token (see :mod:`circus.hosts.names`)."""
    if not is_wire_safe(name):
        raise error(
            f"{what} {name!r} cannot be sent to the kernel: names must be printable ASCII "
            f"without spaces, ':', '*', '=' or '\\' (use circus.hosts.names to build them)"
        )
    return name


def pattern(prefix: str) -> str:
    """A ``prefix*`` pattern (``*`` alone, i.e. everything, for an empty prefix)."""
    if prefix and not is_wire_safe(prefix):
        raise KernelError(f"prefix {prefix!r} cannot be sent to the kernel")
    return f"{prefix}*"


def _finish(tokens: list[str], what: str, error: type[HostError] = SpawnError) -> str:
    if tokens[-1].endswith((" ", "\t")):
        raise error(f"{what} ends with whitespace, which the kernel protocol would strip")
    return " ".join(tokens)


def _spawn_options(spec: SpawnSpec, stop_signal: bool) -> list[str]:
    options: list[str] = []
    if stop_signal and spec.stop_signal != signal.SIGTERM:  # the kernel's default
        options.append(f"stop_signal={int(spec.stop_signal)}")
    if spec.working_dir is not None:
        options.append("working_dir=" + escape_value(spec.working_dir, "working_dir"))
    if spec.uid is not None:
        options.append(f"uid={int(spec.uid)}")
    if spec.gid is not None:
        options.append(f"gid={int(spec.gid)}")
    if spec.umask is not None:
        options.append(f"umask={int(spec.umask):03o}")
    if spec.bufsize is not None:
        options.append(f"bufsize={int(spec.bufsize)}")
    if spec.stdout is OutputMode.DEVNULL:
        options.append("stdout=0")
    if spec.stderr is OutputMode.DEVNULL:
        options.append("stderr=0")
    elif spec.stderr is OutputMode.STDOUT:
        options.append("stderr=stdout")
    if spec.executable is not None:
        options.append("executable=" + escape_value(spec.executable, "executable"))
    if spec.sockets:
        for socket_name in spec.sockets:
            check_name(socket_name, "socket", SpawnError)
            if "," in socket_name:
                raise SpawnError(f"socket name {socket_name!r} contains ','")
        options.append("sockets=" + ",".join(spec.sockets))
    if spec.stdin_socket is not None:
        options.append("stdin_socket=" + check_name(spec.stdin_socket, "socket", SpawnError))
    return options + _env_and_rlimit_options(spec)


def _env_and_rlimit_options(spec: SpawnSpec) -> list[str]:
    options = []
    for key, value in spec.env.items():
        if not key or "=" in key:
            raise SpawnError(f"environment variable name {key!r} is invalid")
        _check_text(key, f"environment name {key!r}")
        options.append(
            "env."
            + key.replace(" ", "\\ ")  # a key is never unquoted: only spaces escaped
            + "="
            + escape_value(value, f"environment variable {key}")
        )
    for key, limit in spec.rlimits.items():
        name = key.strip().lower().removeprefix("rlimit_")
        if not name.isidentifier():
            raise SpawnError(f"unknown rlimit {key!r}")
        options.append(f"rlimit.{name}=" + ("unlimited" if limit is None else str(int(limit))))
    return options


def encode_spawn(spec: SpawnSpec, stop_signal: bool = False, placed_args: bool = False) -> str:
    """The ``make process`` line for ``spec`` (without the newline). Raises SpawnError.
    ``stop_signal``: the kernel takes ``stop_signal=`` (protocol 3 and later).
    ``placed_args``: the kernel takes ``arg.N=`` (protocol 4 and later), so the arguments a
    token cannot carry (empty, ending in a backslash or, last, in a space; a program name
    with ``=``) are sent as options instead of refused."""
    check_name(spec.name, "process name", SpawnError)
    if not spec.argv:
        raise SpawnError(f"cannot spawn {spec.name}: empty argv")
    placed = _placed_indexes(spec.argv) if placed_args else set()
    if "=" in spec.argv[0] and 0 not in placed:
        raise SpawnError(
            f"cannot spawn {spec.name}: the program name {spec.argv[0]!r} contains "
            f"'=' (the kernel would read it as an option; papa-kernel protocol 4 carries it)"
        )
    options = [
        f"arg.{index}=" + escape_value(spec.argv[index], f"argument {index} of {spec.name}")
        for index in sorted(placed)
    ]
    args = [
        escape_arg(arg, f"argument {index} of {spec.name}")
        for index, arg in enumerate(spec.argv)
        if index not in placed
    ]
    return _finish(
        ["make", "process", spec.name, *_spawn_options(spec, stop_signal), *options, *args],
        "the last argument",
    )


def _placed_indexes(argv: tuple[str, ...] | list[str]) -> set[int]:
    """Indexes of the arguments to send as ``arg.N=`` options (see :func:`encode_spawn`)."""
    placed = {index for index, arg in enumerate(argv) if arg == "" or arg.endswith("\\")}
    for index, arg in enumerate(argv):  # the first positional token must not read as an option
        if index in placed:
            continue
        if "=" not in arg:
            break
        placed.add(index)
    for index in range(len(argv) - 1, -1, -1):  # the line's last token must not end in a space
        if index in placed:
            continue
        if not argv[index].endswith((" ", "\t")):
            break
        placed.add(index)
    return placed


def encode_socket(spec: SocketSpec) -> str:
    """The ``make socket`` line for ``spec`` (without the newline)."""
    check_name(spec.name, "socket name")
    if spec.systemd:  # the kernel holds it already: systemd passed it (socket activation)
        value = escape_value(spec.systemd, "systemd socket name")
        return _finish(["make", "socket", spec.name, f"systemd={value}"], "the socket options")
    family = "unix" if spec.path else spec.family
    tokens = [
        "make",
        "socket",
        spec.name,
        f"family={family}",
        f"type={spec.type}",
        f"backlog={int(spec.backlog)}",
    ]
    if family == "unix":
        tokens.append("path=" + escape_value(spec.path or "", "socket path"))
        if spec.umask is not None:
            tokens.append(f"umask={int(spec.umask)}")  # decimal, as papa 1.0.6 clients send it
        tokens.append(f"replace={int(spec.replace)}")
    else:
        if spec.host:
            tokens.append("host=" + escape_value(spec.host, "socket host"))
        tokens.append(f"port={int(spec.port)}")
        if spec.interface:
            tokens.append("interface=" + escape_value(spec.interface, "socket interface"))
        if spec.reuseport:
            tokens.append("reuseport=1")
    return _finish(tokens, "the socket options")


def encode_set(name: str, value: str | None) -> str:
    """``set NAME VALUE``; an empty or None value deletes. KernelError for a newline."""
    check_name(name, "value name")
    if not value:
        return f"set {name}"
    _check_text(value, f"value {name}", KernelError)
    return _finish(["set", name, value.replace(" ", "\\ ")], f"value {name}", KernelError)


# --- replies -------------------------------------------------------------------------------------


#: How the kernel words a :class:`papa_kernel.errors.NotFoundError` ("Process NAME not found",
#: "Socket NAME not found"). The wire stays papa 1.0.6's ``Error: <message>`` with no error
#: code, so this is the one place a reply's message is classified.
NOT_FOUND_SUFFIX = " not found"


class KernelNotFound(KernelError):
    """The kernel does not know the process, socket or value named exactly."""


def split_reply(raw: bytes) -> str:
    """A framed reply (ending in the prompt) -> its body. KernelError for ``Error: ...``
    (KernelNotFound when the name is unknown to the kernel)."""
    body = raw[: -len(PROMPT)] if raw.endswith(PROMPT) else raw
    text = body.decode("utf-8", "replace")
    if text.startswith(ERROR_PREFIX):
        message = text[len(ERROR_PREFIX) :].strip()
        if message.endswith(NOT_FOUND_SUFFIX):
            raise KernelNotFound(message)
        raise KernelError(message)
    return text


def _fields(tokens: Iterable[str]) -> dict[str, str]:
    """``key=value`` tokens; a token without ``=`` continues the previous value (a space)."""
    fields: dict[str, str] = {}
    last = None
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep and key:
            fields[key] = value
            last = key
        elif last is not None:
            fields[last] += " " + token
    return fields


def parse_process_line(line: str) -> ProcessInfo:
    """One ``list processes`` / ``make process`` line -> ProcessInfo."""
    head, sep, args = line.partition(" args=")
    name, _, rest = head.partition(" ")
    fields = _fields(rest.split())
    try:
        exit_code = int(fields["exit_code"]) if "exit_code" in fields else None
        return ProcessInfo(
            name=name,
            pid=int(fields["pid"]),
            started=float(fields["started"]),
            running=fields.get("running") == "True",
            exit_code=exit_code,
            args=args if sep else "",
            age=float(fields["age"]) if "age" in fields else None,
        )
    except (KeyError, ValueError) as exc:
        raise ProtocolError(f"unreadable process line from the kernel: {line!r} ({exc})") from None


def parse_socket_line(line: str) -> SocketInfo:
    """One ``list sockets`` / ``make socket`` line -> SocketInfo."""
    name, _, rest = line.partition(" ")
    fields = _fields(rest.split(" "))
    try:
        return SocketInfo(
            name=name,
            family=fields.get("family", "inet"),
            type=fields.get("type", "stream"),
            fileno=int(fields["fileno"]) if "fileno" in fields else None,
            host=fields.get("host"),
            port=int(fields["port"]) if "port" in fields else None,
            path=fields.get("path"),
            backlog=int(fields["backlog"]) if "backlog" in fields else None,
        )
    except ValueError as exc:
        raise ProtocolError(f"unreadable socket line from the kernel: {line!r} ({exc})") from None


def parse_values(body: str) -> dict[str, str]:
    """``list values`` body -> {name: value}."""
    values = {}
    for line in body.splitlines():
        if line:
            name, _, value = line.partition(" ")
            values[name] = value
    return values


def lines(body: str) -> list[str]:
    """Non-empty lines of a reply body."""
    return [line for line in body.split("\n") if line]


# --- watch records -------------------------------------------------------------------------------


#: One record of a watch batch: its kind (``out``, ``exit``, ``readable``...) and its fields
#: (names, numbers and bytes, by kind: see :func:`parse_record_header`).
Record = tuple[str, tuple[Any, ...]]


class WatchEnded(Exception):
    """The kernel ended the watch (``Nothing left to watch`` / ``Stopped watching``)."""


def parse_record_header(header: str) -> Record:
    """``out:NAME:TS:LEN`` and friends -> (kind, fields). ProtocolError if malformed."""
    kind, _, rest = header.partition(":")
    try:
        if kind in STREAMS:
            name, stamp, length = rest.rsplit(":", 2)
            size = int(length)
            if not 0 <= size <= MAX_CHUNK_BYTES:
                raise ValueError(f"chunk length out of range 0..{MAX_CHUNK_BYTES}")
            return kind, (name, float(stamp), size)
        if kind == "closed":
            name, stamp, code = rest.rsplit(":", 2)
            return kind, (name, float(stamp), int(code))
        if kind == "dropped":
            name, stamp, stream, count = rest.rsplit(":", 3)
            if stream not in STREAMS:
                raise ValueError(f"unknown stream {stream!r}")
            return kind, (name, float(stamp), STREAMS[stream], int(count))
        if kind == "readable":
            name, stamp = rest.rsplit(":", 1)
            return kind, (name, float(stamp))
    except ValueError as exc:
        raise ProtocolError(f"malformed watch record {header!r} ({exc})") from None
    raise ProtocolError(f"unknown watch record {header!r}")


class ByteReader(Protocol):
    """What :func:`read_batch` reads from (asyncio.StreamReader's two reads and semantics)."""

    async def readexactly(self, n: int) -> bytes: ...

    async def readuntil(self, separator: bytes = b"\n") -> bytes: ...


async def _read_header(reader: ByteReader) -> str | None:
    """The next record header, or None at the end of the batch (``] ``)."""
    start = await reader.readexactly(2)
    if start == BATCH_END:
        return None
    line = (start + await reader.readuntil(b"\n"))[:-1].decode("utf-8", "replace")
    if line.startswith(WATCH_ENDINGS):
        await reader.readexactly(len(PROMPT) - 1)  # the "> " of the prompt
        raise WatchEnded(line)
    if line.startswith(ERROR_PREFIX):
        raise KernelError(line[len(ERROR_PREFIX) :])
    return line


async def read_batch(reader: ByteReader) -> list[Record]:
    """Read one batch (up to and including ``\\n] ``) as parsed records. Binary-safe:
    output payloads are read by length. Raises WatchEnded, ProtocolError, IncompleteReadError."""
    records: list[Record] = []
    while True:
        header = await _read_header(reader)
        if header is None:
            return records
        kind, fields = parse_record_header(header)
        if kind in STREAMS:
            data = await reader.readexactly(fields[2])
            records.append((kind, (fields[0], fields[1], data)))
            if await reader.readexactly(1) != b"\n":
                raise ProtocolError(f"no newline after the {fields[2]} bytes of {header!r}")
        else:
            records.append((kind, fields))


def encode_hold(taken: Mapping[tuple[str, str], int], counts: bool = True) -> str:
    """``NAME:out:N NAME:err:N ...`` for a ``hold`` acknowledgement (N chunks of the batch
    were taken), or ``NAME:out ...`` for ``release`` (``counts=False``)."""
    kinds = {stream: kind for kind, stream in STREAMS.items()}
    return " ".join(
        f"{name}:{kinds[stream]}" + (f":{count}" if counts else "")
        for (name, stream), count in taken.items()
    )


def to_host_events(records: Iterable[Record]) -> list[HostEvent]:
    """Parsed process-watch records -> HostEvents, in the kernel's (arrival) order."""
    events: list[HostEvent] = []
    for kind, fields in records:
        if kind in STREAMS:
            events.append(OutputChunk(fields[0], STREAMS[kind], fields[1], fields[2]))
        elif kind == "closed":
            events.append(ExitRecord(fields[0], fields[1], fields[2]))
        elif kind == "dropped":
            events.append(DroppedOutput(fields[0], fields[2], fields[1], fields[3]))
    return events
