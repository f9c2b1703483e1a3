"""KernelHost: processes and sockets held by papa-kernel, so they outlive circusd.

An asyncio client of the kernel's line protocol (docs/kernel-protocol.md), with:

- one *command* connection, pipelined (:class:`~circus.hosts.kernel_client.CommandChannel`):
  concurrent ``spawn()`` calls from many tasks go out back to back and their replies are
  matched in order;
- one long-lived *watch* connection, ``watch processes follow=1 dropped=1 <prefix>*``: each
  batch is parsed (binary-safe), turned into :class:`HostEvent`\\ s, handed to ``on_events``
  and acknowledged only after the handler returned. If circusd dies before that, the kernel
  redelivers the batch to the next circusd: output and exits are delivered at least once, and
  exactly once unless circusd dies between handling a batch and acknowledging it.

A lost connection (kernel gone, garbled data, no reply within the deadline) is never a hang:
every pending and later call raises :class:`KernelConnectionLost`, and the ``on_lost`` callback
is called once with the reason; ``open()`` again reconnects.

Reusing a name: after the exit of ``NAME`` was delivered, the kernel still holds its record until
the batch is acknowledged. A ``spawn()`` of the same name (a respawn from inside the handler)
first removes that stale record, in the same pipelined write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence

from circus.errors import KernelError, SpawnError
from circus.hosts.base import (
    EventHandler,
    ExitRecord,
    ProcessHost,
    ProcessInfo,
    SocketInfo,
    SocketSpec,
    SpawnSpec,
)
from circus.hosts.kernel_client import (
    REQUEST_TIMEOUT,
    CommandChannel,
    KernelConnectionLost,
    KernelUnavailable,
    WatchChannel,
)
from circus.hosts.kernel_launch import ensure_kernel, kernel_answers
from circus.hosts.kernel_protocol import (
    KernelNotFound,
    WatchEnded,
    check_name,
    encode_hold,
    encode_set,
    encode_socket,
    encode_spawn,
    lines,
    parse_endpoint,
    parse_process_line,
    parse_socket_line,
    parse_values,
    pattern,
    to_host_events,
)
from circus.util.pidfd import exited_within
from circus.util.tasks import TaskSet

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "circus."
#: The first kernel protocol whose ``make process`` takes ``stop_signal=``.
STOP_SIGNAL_PROTOCOL = 3
#: The first kernel protocol whose ``make process`` takes ``arg.N=`` (empty arguments...).
PLACED_ARGS_PROTOCOL = 4

__all__ = [
    "KernelConnectionLost",
    "KernelHost",
    "KernelUnavailable",
    "ensure_kernel",
    "kernel_answers",
]


class KernelHost(ProcessHost):
    """Runs processes in papa-kernel. See the module docstring."""

    persistent = True

    def __init__(
        self,
        endpoint: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        on_lost: Callable[[KernelError], object] | None = None,
        request_timeout: float = REQUEST_TIMEOUT,
    ):
        self.endpoint = parse_endpoint(endpoint)
        self.prefix = prefix
        self.on_lost = on_lost
        #: why the host is unusable (set when a connection was lost), None while it works
        self.lost: KernelError | None = None
        #: the kernel's ``version`` reply, known after open()
        self.kernel_version: str | None = None
        self._request_timeout = request_timeout
        self._commands: CommandChannel | None = None
        self._connecting = asyncio.Lock()
        self._watch: WatchChannel | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._handler: EventHandler | None = None
        self._reported_exits: set[str] = set()
        self._closing = False
        self._dropping: asyncio.Task[None] | None = None
        self._releases = TaskSet("papa-kernel host")
        #: clear while a batch is in the handler or not yet acknowledged
        self._between_batches = asyncio.Event()
        self._between_batches.set()
        #: a pidfd on the kernel process of the current session (unix endpoints), to tell a
        #: dead kernel from a dropped connection (see kernel_exited)
        self._kernel_pidfd: int | None = None

    # -- connections ------------------------------------------------------------------------------

    async def _channel(self) -> CommandChannel:
        channel = self._commands
        if channel is not None and channel.lost is None:
            return channel  # the common case: no suspension, so requests keep their order
        if self.lost is not None:
            raise self.lost
        if self._closing:
            raise KernelConnectionLost(f"the host for papa-kernel at {self.endpoint} is closed")
        async with self._connecting:
            if self._commands is None or self._commands.lost is not None:
                self._commands = await CommandChannel.connect(
                    self.endpoint, self._lose, self._request_timeout
                )
        return self._commands

    def _lose(self, error: KernelError) -> None:
        """A connection broke: remember why, drop both connections, tell the owner once."""
        if self.lost is not None or self._closing:
            return
        self.lost = (
            error if isinstance(error, KernelConnectionLost) else KernelConnectionLost(str(error))
        )
        log.error("lost papa-kernel at %s: %s", self.endpoint, error)
        self._dropping = asyncio.get_running_loop().create_task(self._drop_connections())
        if self.on_lost is not None:
            try:
                self.on_lost(self.lost)
            except Exception:
                log.exception("the on_lost callback failed")

    async def _drop_connections(self) -> None:
        """Close the current connections (a later open() makes new ones, never touched here)."""
        task, self._watch_task = self._watch_task, None
        watch, self._watch = self._watch, None
        commands, self._commands = self._commands, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if watch is not None:
            await watch.close()
        if commands is not None:
            await commands.close()

    async def _request(self, line: str) -> str:
        return await (await self._channel()).request(line)

    # -- lifecycle --------------------------------------------------------------------------------

    async def open(self, on_events: EventHandler) -> None:
        """Connect (again, after a loss) and start delivering output and exits of processes
        named ``<prefix>*``, including those buffered while no circusd was attached."""
        if self._watch is not None or self.lost is not None:
            await self.close()  # a previous (or lost) session is fully closed first
        self.lost = None
        self._closing = False
        self._handler = on_events
        channel = await self._channel()
        try:
            self.kernel_version = await channel.request("version")
        except KernelConnectionLost:
            raise
        except KernelError as exc:
            raise KernelError(
                f"the server at {self.endpoint} is not papa-kernel (it answered "
                f"'version' with: {exc}); circusd needs papa-kernel"
            ) from None
        self._watch_kernel_process(channel)
        command = f"watch processes follow=1 dropped=1 {pattern(self.prefix)}"
        self._watch, _first = await WatchChannel.start(self.endpoint, command)
        self._watch_task = asyncio.get_running_loop().create_task(
            self._deliver_forever(self._watch), name="papa-kernel watch"
        )

    def _watch_kernel_process(self, channel: CommandChannel) -> None:
        """Open a pidfd on the kernel at the other end of ``channel`` (its pid from
        SO_PEERCRED, read while it answers, so the pidfd is on that very process)."""
        self._close_kernel_pidfd()
        try:
            pid = channel.peer_pid
            if pid:
                self._kernel_pidfd = os.pidfd_open(pid)
        except OSError as exc:  # gone already, or not ours to see: a loss tells the rest
            log.debug("no pidfd on papa-kernel: %s", exc)

    def _close_kernel_pidfd(self) -> None:
        pidfd, self._kernel_pidfd = self._kernel_pidfd, None
        if pidfd is not None:
            os.close(pidfd)

    async def kernel_exited(self, timeout: float) -> bool:
        """True if the kernel process this host was last connected to is known to have exited
        (its pidfd is or becomes readable within ``timeout``). False if it still runs, or if
        its process is unknown (a TCP endpoint): then only a dropped connection is known."""
        if self._kernel_pidfd is None:
            return False
        return await exited_within(self._kernel_pidfd, timeout)

    async def _deliver_forever(self, watch: WatchChannel) -> None:
        try:
            while True:
                self._between_batches.set()
                events = to_host_events(await watch.next_batch())
                self._between_batches.clear()
                # Kept after the acknowledgement too: the ack travels on this connection and a
                # later spawn on the command connection could overtake it in the kernel.
                for event in events:
                    if isinstance(event, ExitRecord):
                        self._reported_exits.add(event.name)
                refusal = None
                if events and self._handler is not None:
                    try:
                        refusal = await self._handler(events)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception(
                            "the host event handler failed on a batch of %d events", len(events)
                        )
                if self._closing:
                    return  # not acknowledged: the next watcher gets the batch again
                if refusal is None or not refusal.taken:
                    await watch.acknowledge()
                    continue
                await watch.acknowledge(hold=encode_hold(refusal.taken))
                asyncio.get_running_loop().call_later(
                    refusal.retry_in, self._release, watch, encode_hold(refusal.taken, counts=False)
                )
        except asyncio.CancelledError:
            raise
        except WatchEnded as end:
            self._lose(KernelConnectionLost(f"papa-kernel ended the watch: {end}"))
        except KernelError as exc:
            self._lose(exc)
        finally:
            self._between_batches.set()

    def _release(self, watch: WatchChannel, targets: str) -> None:
        """Ask for held output again (if that watch connection is still the current one)."""
        if watch is self._watch and not self._closing:
            self._releases.spawn(self._release_quietly(watch, targets), "releasing held output")

    @staticmethod
    async def _release_quietly(watch: WatchChannel, targets: str) -> None:
        # A release on a connection that broke meanwhile: the watch task handles the loss.
        with contextlib.suppress(KernelError):
            await watch.release(targets)

    async def exit_if_idle(self) -> bool:
        """Ask the kernel to exit if it holds nothing (no process, socket or value): used when
        circusd stops everything. True if the kernel is exiting.

        The kernel forgets an exited process when its ``closed`` record is acknowledged, and
        the acknowledgement travels on the watch connection: asked on the command connection
        right away, the question could overtake it. So the watch ends first (``q``, once the
        batch being handled is acknowledged, confirmed by the kernel); no need to ask again."""
        await self._end_watch()
        try:
            channel = await self._channel()  # (connects if nothing did yet: a failed start)
            self._closing = True  # the kernel is about to close our connections: expected
            body = await channel.request("exit-if-idle")
        except KernelError as exc:
            log.debug("exit-if-idle: %s", exc)
            body = ""
        exiting = body.startswith("Exiting")
        self._closing = exiting
        return exiting

    async def _end_watch(self) -> None:
        """Stop delivering events: after the batch in the handler is acknowledged, end the
        watch with ``q`` and wait for the kernel's confirmation."""
        watch, task = self._watch, self._watch_task
        if watch is None or task is None or task.done():
            return
        await self._between_batches.wait()
        self._watch, self._watch_task = None, None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        try:
            await watch.stop()
        except KernelError as exc:
            log.debug("ending the watch: %s", exc)
        finally:
            await watch.close()

    async def close(self, *, keep_children: bool = False) -> None:
        """Close both connections. Processes and sockets stay in the kernel (whatever
        ``keep_children`` says: they are the kernel's children). A batch being handled right now
        is not acknowledged, so it is delivered again after ``open()``."""
        self._closing = True
        self._close_kernel_pidfd()
        await self._releases.cancel()
        await self._drop_connections()
        if self._dropping is not None and self._dropping is not asyncio.current_task():
            with contextlib.suppress(Exception):
                await self._dropping
        self._dropping = None

    # -- processes --------------------------------------------------------------------------------

    @property
    def protocol(self) -> int:
        """The kernel's protocol version (``version``: ``papa-kernel X protocol N``)."""
        words = (self.kernel_version or "").split()
        if len(words) >= 4 and words[2] == "protocol" and words[3].isdigit():
            return int(words[3])
        return 1  # papa 1.0.6 answers differently

    async def spawn(self, spec: SpawnSpec) -> ProcessInfo:
        """``make process``; SpawnError carries the kernel's reason (KernelConnectionLost if the
        kernel is gone). An identical spec for a running name returns the running process."""
        line = encode_spawn(
            spec,
            stop_signal=self.protocol >= STOP_SIGNAL_PROTOCOL,
            placed_args=self.protocol >= PLACED_ARGS_PROTOCOL,
        )
        channel = await self._channel()
        stale = None
        if spec.name in self._reported_exits:
            self._reported_exits.discard(spec.name)
            stale = channel.send(f"remove processes {spec.name}")
        try:
            body = await channel.request(line)
        except KernelConnectionLost:
            raise
        except KernelError as exc:
            raise SpawnError(f"cannot spawn {spec.name}: {exc}") from None
        finally:
            if stale is not None:
                with contextlib.suppress(KernelError):
                    await channel.wait(stale)
        info = parse_process_line(lines(body)[0])
        if not info.running:
            # A fresh process is always running in the reply (the kernel reaps later), so this
            # is an earlier process of that name whose exit (and maybe output) has not been
            # delivered: never hand it out as new, and never discard what it left behind.
            raise SpawnError(
                f"cannot spawn {spec.name}: an earlier process of that name (pid {info.pid}) "
                f"exited and its exit has not been delivered yet; spawn it again once its "
                f"ExitRecord has arrived"
            )
        return info

    async def signal(self, name: str, signum: int, *, group: bool = False) -> bool:
        """``signal SIGNUM NAME`` (through the kernel's pidfd). False if it has exited or is
        unknown to the kernel. With ``group``, the process group the child leads gets it."""
        check_name(name, "process name")
        option = "group=1 " if group else ""
        try:
            body = await self._request(f"signal {option}{int(signum)} {name}")
        except KernelNotFound:
            return False
        return any(line.split(" ", 1)[0] == name for line in lines(body))

    async def list_processes(self, prefix: str = "") -> list[ProcessInfo]:
        # age=1: how long each has run, on the kernel's clock (protocol 5; an older kernel
        # takes "age=1" for a name that matches nothing)
        body = await self._request(f"list processes age=1 {pattern(prefix)}")
        return [parse_process_line(line) for line in lines(body)]

    async def forget(self, name: str) -> None:
        """``remove processes NAME``. On a running process the kernel keeps it running but
        discards its output from now on; forget exited processes."""
        check_name(name, "process name")
        self._reported_exits.discard(name)
        with contextlib.suppress(KernelNotFound):
            await self._request(f"remove processes {name}")

    # -- sockets ----------------------------------------------------------------------------------

    async def make_socket(self, spec: SocketSpec) -> SocketInfo:
        return parse_socket_line(lines(await self._request(encode_socket(spec)))[0])

    async def list_sockets(self, prefix: str = "") -> list[SocketInfo]:
        body = await self._request(f"list sockets {pattern(prefix)}")
        return [parse_socket_line(line) for line in lines(body)]

    async def remove_socket(self, name: str) -> None:
        check_name(name, "socket name")
        with contextlib.suppress(KernelNotFound):
            await self._request(f"remove sockets {name}")

    async def wait_readable(self, names: Sequence[str]) -> str:
        """``watch sockets NAMES`` on a connection of its own; the first readable one wins."""
        if not names:
            raise KernelError("wait_readable needs at least one socket name")
        command = "watch sockets " + " ".join(check_name(n, "socket name") for n in names)
        watch, _first = await WatchChannel.start(self.endpoint, command)
        try:
            while True:
                for kind, fields in await watch.next_batch():
                    if kind == "readable":
                        name: str = fields[0]
                        return name
                await watch.acknowledge()
        except WatchEnded:
            raise KernelError(
                f"sockets {list(names)} were removed before becoming readable"
            ) from None
        finally:
            await watch.close()

    # -- values -----------------------------------------------------------------------------------

    async def set_value(self, name: str, value: str | None) -> None:
        """``set NAME VALUE`` in the kernel (kept across circusd restarts); None/"" deletes."""
        await self._request(encode_set(name, value))

    async def get_values(self, prefix: str = "") -> dict[str, str]:
        return parse_values(await self._request(f"list values {pattern(prefix)}"))
