"""The ProcessHost interface: the only way circus policy code touches processes and sockets.

Two implementations sit behind it (DESIGN.md):

- :class:`circus.hosts.kernel.KernelHost` talks to papa-kernel over its line protocol; processes
  are the kernel's children and survive a restart of circusd.
- :class:`circus.hosts.local.LocalHost` runs processes as direct children of circusd (for
  ``use_papa = false`` watchers and support processes); they die with circusd.

Watchers never know which one they use. Everything here is asyncio; a host is used from the
arbiter's loop only. Process names are host-unique strings chosen by the caller (circusd uses
``circus.<watcher>.<wid>``); a host never invents names.

Output and exits are *pushed* to one listener per host in batches, in timestamp order. The host
acknowledges a batch only after ``on_events`` returned, so nothing is lost if circusd dies while
handling it: the kernel redelivers unacknowledged output to the next circusd. ``on_events`` may
return a :class:`Refusal`: the output streams whose chunks (from the first refused one on) it
could not write; the host keeps those, bounded like unread output, and delivers them again later.
"""

from __future__ import annotations

import abc
import enum
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence

from papa_kernel.records import field, frozen_record


class OutputMode(enum.Enum):
    """What happens to a child's stdout/stderr."""

    CAPTURE = "capture"  # buffered by the host and delivered as OutputChunk events
    DEVNULL = "devnull"  # discarded (close_child_stdout / close_child_stderr)
    STDOUT = "stdout"  # stderr only: merged into the stdout stream


@frozen_record
class SpawnSpec:
    """Everything a host needs to start one process. Placeholders are already substituted,
    except ``$(socket.NAME.fileno)`` / ``$(socket.NAME.port)`` which the host fills in."""

    name: str
    argv: tuple[str, ...]
    executable: str | None = None  # program file to exec; argv[0] is still passed as argv[0]
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    uid: int | None = None
    gid: int | None = None
    umask: int | None = None
    rlimits: Mapping[str, int | None] = field(default_factory=dict)  # None = unlimited
    stdout: OutputMode = OutputMode.CAPTURE
    stderr: OutputMode = OutputMode.CAPTURE
    sockets: tuple[str, ...] = ()  # host sockets inherited at the host's fd numbers
    stdin_socket: str | None = None  # a host socket placed at fd 0 (FastCGI style)
    bufsize: int | None = None  # per-stream output buffer in bytes; None = host default
    #: what papa-kernel sends this process when it stops everything itself (systemctl stop
    #: papa-kernel, docker stop): the watcher's stop_signal (kernel protocol 3 and later)
    stop_signal: int = int(signal.SIGTERM)


@frozen_record
class ProcessInfo:
    """A process as the host sees it."""

    name: str
    pid: int
    started: float  # epoch seconds
    running: bool
    exit_code: int | None = None  # exit status, or -signum when killed by a signal
    args: str = ""
    #: seconds it has run, on the host's clock (None: the host did not say); ``started`` is
    #: the host's wall clock, which a remote host's skew puts off from circusd's
    age: float | None = None


@frozen_record
class OutputChunk:
    """Bytes a process wrote, as read by the host (not line-aligned)."""

    name: str
    stream: str  # "stdout" | "stderr"
    timestamp: float
    data: bytes


@frozen_record
class ExitRecord:
    """A process ended. ``exit_code`` is the status, or ``-signum`` if a signal killed it, or
    None when it is unknown (the process vanished with its host)."""

    name: str
    timestamp: float
    exit_code: int | None


@frozen_record
class DroppedOutput:
    """The host discarded ``nbytes`` of a stream because nobody read it in time."""

    name: str
    stream: str
    timestamp: float
    nbytes: int


HostEvent = OutputChunk | ExitRecord | DroppedOutput


@frozen_record
class Refusal:
    """What a handler could not take from a batch: for each ``(process name, "stdout" |
    "stderr")`` in ``taken``, the number of its chunks in the batch it did take; the rest of
    that stream is not acknowledged. The host keeps it (bounded by the stream's buffer, the
    oldest dropped and reported as :class:`DroppedOutput`, as while nobody reads, so the
    process never blocks) and delivers it again in ``retry_in`` seconds, or at once before the
    exit of its process. Refused chunks of a process whose exit is in the same batch cannot be
    kept (the exit is acknowledged)."""

    taken: Mapping[tuple[str, str], int]
    retry_in: float


EventHandler = Callable[[Sequence[HostEvent]], Awaitable[Refusal | None]]


@frozen_record
class SocketSpec:
    """A socket to bind and hold. Mirrors ``[socket:NAME]`` of the configuration."""

    name: str
    family: str = "inet"  # inet | inet6 | unix
    type: str = "stream"  # stream | dgram | seqpacket
    host: str | None = None
    port: int = 0
    path: str | None = None
    umask: int | None = None
    backlog: int = 2048
    interface: str | None = None
    reuseport: bool = False
    replace: bool = False
    #: take the socket systemd passed to the kernel under this FileDescriptorName instead of
    #: binding one (``[socket:NAME] systemd = true``; the kernel host only)
    systemd: str | None = None


@frozen_record
class SocketInfo:
    """A bound socket as the host holds it."""

    name: str
    family: str
    type: str
    fileno: int | None
    host: str | None = None
    port: int | None = None
    path: str | None = None
    backlog: int | None = None


class ProcessHost(abc.ABC):
    """Runs processes and holds sockets for circusd. See the module docstring."""

    #: True when processes outlive circusd (the kernel), False for direct children.
    persistent: bool = False

    @abc.abstractmethod
    async def open(self, on_events: EventHandler) -> None:
        """Connect/prepare, and deliver every output chunk and exit of processes whose names
        start with the host's prefix to ``on_events`` from now on (including ones buffered
        before, for a persistent host)."""

    @abc.abstractmethod
    async def close(self, *, keep_children: bool = False) -> None:
        """Release connections. A persistent host leaves its processes and sockets running;
        the others end their children unless ``keep_children``."""

    @abc.abstractmethod
    async def spawn(self, spec: SpawnSpec) -> ProcessInfo:
        """Start a process. Raises :class:`circus.errors.SpawnError` with the host's reason."""

    @abc.abstractmethod
    async def signal(self, name: str, signum: int, *, group: bool = False) -> bool:
        """Send ``signum`` to a process (pid-reuse safe), or with ``group`` to its process
        group (each process leads its own). False if it has already exited."""

    @abc.abstractmethod
    async def list_processes(self, prefix: str = "") -> list[ProcessInfo]:
        """Processes whose name starts with ``prefix``, running or exited-but-unreported."""

    @abc.abstractmethod
    async def make_socket(self, spec: SocketSpec) -> SocketInfo:
        """Bind and hold a socket (idempotent for an identical spec)."""

    @abc.abstractmethod
    async def list_sockets(self, prefix: str = "") -> list[SocketInfo]:
        """Sockets whose name starts with ``prefix``."""

    @abc.abstractmethod
    async def remove_socket(self, name: str) -> None:
        """Close the host's copy of a socket (children keep theirs)."""

    async def exit_if_idle(self) -> bool:
        """Everything was stopped: a host that runs on its own (the kernel) exits if it holds
        nothing of anyone else. True if it exits. The default: nothing to let go (False)."""
        return False

    # --- small key/value store (the kernel keeps it across circusd restarts) ----------------

    async def set_value(self, name: str, value: str | None) -> None:
        """Store (or with None, delete) a value. circusd keeps per-watcher state here, such
        as the configuration hash the running processes were spawned with. The default
        implementation keeps it in memory; a persistent host overrides it."""
        values = self.__dict__.setdefault("_values", {})
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value

    async def get_values(self, prefix: str = "") -> dict[str, str]:
        """Values whose name starts with ``prefix``."""
        values = self.__dict__.get("_values", {})
        return {k: v for k, v in values.items() if k.startswith(prefix)}

    @abc.abstractmethod
    async def wait_readable(self, names: Sequence[str]) -> str:
        """Wait until one of the named listening sockets has a pending connection or datagram
        (without accepting it) and return its name. Used for ``on_demand`` watchers."""
