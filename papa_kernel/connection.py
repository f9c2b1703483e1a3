"""One client connection: line input, bounded buffered output, command or watch mode.

Input is split into lines (at most ``MAX_LINE`` bytes; a longer one is answered with an error
and skipped) and served in slices of ``LINES_PER_ROUND`` so one client pipelining thousands of
commands does not starve the others. Output is queued as memoryviews and written with
``sendmsg`` (no joining of large payloads). When more than ``WRITE_HIGH`` bytes wait to be sent
the connection stops reading (and so stops running commands) until the client has read enough:
a slow client can neither stall the loop nor grow the kernel's memory without bound.
"""

from __future__ import annotations

import array
import collections
import contextlib
import socket

# Importing the handler modules declares every command into the command table.
from papa_kernel import commands as commands
from papa_kernel import klog
from papa_kernel import process_commands as process_commands
from papa_kernel.command_table import execute
from papa_kernel.errors import CommandError, KernelError
from papa_kernel.kernel import Kernel
from papa_kernel.loop import EVENT_READ, EVENT_WRITE, Loop
from papa_kernel.processes import ProcessEntry
from papa_kernel.protocol import GREETING, MAX_LINE, PROMPT, decode_line, tokenize
from papa_kernel.typenames import Protocol
from papa_kernel.watch import ProcessWatch, SocketWatch

log = klog.get(__name__)

RECV_SIZE = 256 * 1024
LINES_PER_ROUND = 256  # commands run for one client before others get a turn
WRITE_HIGH = 4 * 1024 * 1024  # stop reading commands above this many unsent bytes
WRITE_LOW = 1024 * 1024  # ... and resume below this
IOV_BATCH = 64  # buffers per sendmsg call
FLUSH_NOW = 256 * 1024  # write at once above this; smaller replies wait for the round's end


def frame(body: str) -> bytes:
    """A command reply: body, then the prompt (``\\n> ``), as papa 1.0.6 framed it."""
    if not body:
        return PROMPT
    data = body.encode("utf-8", errors="replace")
    return data + (b"> " if data.endswith(b"\n") else PROMPT)


class Owner(Protocol):
    """What a connection needs from its owner (:class:`papa_kernel.server.Server`)."""

    kernel: Kernel
    loop: Loop

    def stop(self) -> None: ...

    def connection_closed(self, connection: Connection) -> None: ...


class Connection:
    """A client session. Owned by :class:`papa_kernel.server.Server`."""

    def __init__(self, server: Owner, sock: socket.socket, peer: str) -> None:
        self.server = server
        self.kernel = server.kernel
        self.loop = server.loop
        self.sock = sock
        self.peer = peer
        self.fd = sock.fileno()
        sock.setblocking(False)
        self.inbuf = bytearray()
        self.inpos = 0  # start of the unprocessed input in inbuf
        self.discarding = False  # skipping the rest of an over-long line
        self.outq: collections.deque[memoryview] = collections.deque()
        self.out_bytes = 0
        self.watch: ProcessWatch | SocketWatch | None = None
        self.closing = False  # close once the output is flushed (quit)
        self.exit_after_flush = False  # stop the kernel once the output is flushed
        self.closed = False
        self.events = EVENT_READ
        self.scheduled = False
        self.flush_scheduled = False
        self.loop.register(self.fd, self.events, self.on_event)
        self.send(GREETING)

    # -- events ----------------------------------------------------------------------------
    def on_event(self, mask: int) -> None:
        """Readiness of the client socket."""
        if self.closed:
            return  # a stale event of this round
        if mask & EVENT_WRITE:
            self._flush()
        if mask & EVENT_READ and not self.closed:
            self._read()

    def _read(self) -> None:
        try:
            data = self.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close()  # the client went away: an unacknowledged batch stays for the next
            return
        self.inbuf += data
        self._serve()

    def _serve(self) -> None:
        """Run complete lines, a slice at a time, while output is not backed up."""
        self.scheduled = False
        served = 0
        while not self.closed and not self.closing and not self.exit_after_flush:
            if self.out_bytes > WRITE_HIGH:
                self._set_events(EVENT_WRITE)  # stop reading until drained
                return
            if served >= LINES_PER_ROUND:
                self._schedule()
                return
            raw = self._next_line()
            if raw is None:
                return
            served += 1
            self._handle_line(raw)

    def _schedule(self) -> None:
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._serve)

    def _next_line(self) -> bytes | None:
        """The next complete line, or None; over-long lines are answered and skipped."""
        while True:
            end = self.inbuf.find(b"\n", self.inpos)
            if end < 0:
                if len(self.inbuf) - self.inpos > MAX_LINE:
                    self.discarding = True  # drop it as it comes; answered at its end
                if self.discarding or self.inpos:
                    del self.inbuf[: len(self.inbuf) if self.discarding else self.inpos]
                    self.inpos = 0
                return None
            start, self.inpos = self.inpos, end + 1
            line = bytes(self.inbuf[start:end])
            if self.inpos > RECV_SIZE:  # compact now and then, not per line
                del self.inbuf[: self.inpos]
                self.inpos = 0
            if self.discarding or len(line) > MAX_LINE:
                self.discarding = False
                if self.watch is not None:
                    return b""  # while watching any line acknowledges; no error in the stream
                self.send(frame(f"Error: line longer than {MAX_LINE} bytes; ignored"))
                continue
            return line

    def _handle_line(self, raw: bytes) -> None:
        line = decode_line(raw)
        if self.watch is not None:
            self.watch.on_line(line)
            return
        args = tokenize(line)
        if not args:
            self.send(PROMPT)
            return
        try:
            body = execute(self, args)
        except KernelError as exc:
            body = f"Error: {exc}"
        except Exception as exc:  # a bug must not cost the session: report it, log it
            log.exception("command failed: %r", line)
            body = f"Error: internal error ({type(exc).__name__}: {exc})"
        if body is not None:
            self.send(frame(body))

    # -- session interface used by commands ------------------------------------------------
    def begin_process_watch(
        self,
        first: bytes,
        patterns: list[str],
        follow: bool,
        dropped: bool,
        entries: list[ProcessEntry],
    ) -> None:
        """Enter watch mode on ``entries`` (and, with follow, later matching processes)."""
        self.send(first)
        watch = ProcessWatch(self.kernel, self, patterns, follow, dropped)
        self.watch = watch
        self.kernel.process_watches.add(watch)
        for entry in entries:
            watch.attach(entry)
        watch.schedule()

    def begin_socket_watch(self, names: list[str]) -> None:
        """Enter watch mode on sockets."""
        self.send(f"Watching {len(names)}\n".encode())
        watch = SocketWatch(self.kernel, self, names)
        self.watch = watch
        self.kernel.watch_sockets(watch, [self.kernel.sockets.by_name[name] for name in names])

    def leave_watch(self, final: bytes) -> None:
        """Back to command mode; buffered lines are commands again."""
        self.watch = None
        self.send(final)
        self._schedule()

    def close_after(self, final: bytes) -> None:
        """Send ``final`` and close (``quit``)."""
        self.closing = True
        self.send(final)

    def request_exit(self) -> None:
        """Stop the kernel once the reply has been sent (``exit-if-idle``)."""
        self.exit_after_flush = True

    def reply_with_fds(self, body: str, fds: list[int]) -> None:
        """Send a reply with ``fds`` attached (SCM_RIGHTS) to its first byte, now: earlier
        replies are flushed first, so the client finds the fds with this reply."""
        if self.sock.family != socket.AF_UNIX:
            raise CommandError("Sockets can be passed on unix connections only")
        self._flush()
        if self.outq or self.closed:
            raise CommandError("Cannot pass sockets now: read the pending replies first")
        data = frame(body)
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
        try:
            sent = self.sock.sendmsg([data], rights)
        except (BlockingIOError, InterruptedError):
            raise CommandError("Cannot pass sockets now: the client is not reading") from None
        except OSError:
            self.close()  # the client went away
            return
        if sent < len(data):
            self.send(memoryview(data)[sent:])  # the fds went with the first bytes

    # -- output ----------------------------------------------------------------------------
    def send(self, *buffers: bytes | memoryview) -> None:
        """Queue bytes for the client; they are written at the end of this round of events.

        Deferring the write lets the replies to many pipelined commands leave in one
        ``sendmsg`` instead of one system call (and one client wake-up) each.
        """
        if self.closed:
            return
        for buffer in buffers:
            if len(buffer):
                self.outq.append(memoryview(buffer))
                self.out_bytes += len(buffer)
        if self.out_bytes >= FLUSH_NOW:
            self._flush()
        elif not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        if self.closed:
            return
        outq = self.outq
        while outq:
            chunk = [outq[i] for i in range(min(IOV_BATCH, len(outq)))]
            try:
                sent = self.sock.sendmsg(chunk)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.close()
                return
            self.out_bytes -= sent
            while sent:
                head = outq[0]
                if sent >= len(head):
                    sent -= len(head)
                    outq.popleft()
                else:
                    outq[0] = head[sent:]
                    sent = 0
        self._after_flush()

    def _after_flush(self) -> None:
        if self.outq:
            wanted = EVENT_WRITE
            if self.out_bytes <= WRITE_HIGH and not self.closing:
                wanted |= EVENT_READ
            self._set_events(wanted)
            return
        if self.closing:
            self.close()
        elif self.exit_after_flush:
            self.server.stop()
        else:
            self._set_events(EVENT_READ)
            if self.out_bytes < WRITE_LOW and self.inpos < len(self.inbuf):
                self._schedule()

    def _set_events(self, events: int) -> None:
        if events != self.events and not self.closed:
            self.events = events
            self.loop.modify(self.fd, events, self.on_event)

    def close(self) -> None:
        """End the session; a watch is abandoned without acknowledging (redelivery)."""
        if self.closed:
            return
        self.closed = True
        if self.watch is not None:
            self.watch.abandon()
            self.watch = None
        self.loop.unregister(self.fd)
        with contextlib.suppress(OSError):
            self.sock.close()
        self.outq.clear()
        self.server.connection_closed(self)
