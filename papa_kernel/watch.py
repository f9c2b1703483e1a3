"""Watch sessions: streaming process output/exits (and socket readiness) in acknowledged batches.

A connection in watch mode has at most one batch in flight. A batch is the watched records not
sent yet, merged in kernel-wide arrival order (sequence numbers), with at most
``BATCH_LIMIT`` bytes of output; it ends with ``\\n] ``. Any line from the client acknowledges
it: acknowledged chunks are forgotten, an acknowledged ``closed`` record removes the process.
``q`` acknowledges and ends the watch. A client that disconnects without acknowledging leaves
everything in place, so the next watcher gets it again (redelivery).

Holding (an extension for a client whose destination of some output fails, e.g. a full disk):
the acknowledgement ``hold NAME:out:N NAME:err ...`` acknowledges the batch except the chunks of
the listed streams after the first N of each in this batch (N = 0 when left out), which stay
buffered and are not sent again until ``release NAME:out ...`` (a line that never
acknowledges). Meanwhile a held stream counts as unwatched: the kernel keeps
reading it and drops the oldest chunks beyond ``bufsize``, counted, as while no client watches,
so the child never blocks on a destination that fails. A process's ``closed`` record still comes
after all its output: when it exits, its holds end and its output is sent once more; a hold of
output sent after the exit drops that output, counted as an overflow (reported with
``dropped=1``), so that the ``closed`` record comes next (and a hold of a process whose
``closed`` record is in the batch acknowledged is ignored).

Records (see docs/kernel-protocol.md)::

    out:NAME:TS:LEN\\n<LEN bytes>      err:NAME:TS:LEN\\n<LEN bytes>
    closed:NAME:TS:EXITCODE           dropped:NAME:TS:STREAM:NBYTES   (only with dropped=1)
    readable:NAME:TS                  (watch sockets)
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator

from papa_kernel.kernel import Kernel
from papa_kernel.output import OutputStream
from papa_kernel.processes import ProcessEntry
from papa_kernel.protocol import format_time, now
from papa_kernel.typenames import TYPE_CHECKING, Protocol, TypedDict

BATCH_LIMIT = 1024 * 1024  # output bytes per batch (reads are <= 1 MiB, so it always fits one)
BATCH_END = b"\n] "
NOTHING_LEFT = b"Nothing left to watch\n> "
STOPPED = b"Stopped watching\n> "

# (seq, kind, entry, stream, timestamp, payload): the payload is the chunk (out/err), the
# count of dropped bytes (dropped) or the exit code (closed, whose stream is None).
if TYPE_CHECKING:
    from papa_kernel.typenames import Any

    Record = tuple[int, str, ProcessEntry, "OutputStream | None", float, Any]


class Batch(TypedDict):
    """The batch in flight: what its acknowledgement will release."""

    streams: dict[OutputStream, list[Any]]  # stream -> [entry, last seq, dropped, [seqs]]
    closed: list[ProcessEntry]  # processes whose closed record was sent
    exited: set[ProcessEntry]  # processes whose output was sent after their exit


class WatchSink(Protocol):
    """What a watch needs from its connection."""

    def send(self, *buffers: bytes | memoryview) -> None: ...

    def leave_watch(self, final: bytes) -> None: ...


class ProcessWatch:
    """Streams output and exit records of matching processes to one connection."""

    def __init__(
        self, kernel: Kernel, sink: WatchSink, patterns: list[str], follow: bool, dropped: bool
    ) -> None:
        self.kernel = kernel
        self.sink = sink
        self.patterns = patterns
        self.follow = follow
        self.report_drops = dropped
        self.entries: dict[str, ProcessEntry] = {}
        self.dirty: set[ProcessEntry] = set()
        self.cursors: dict[tuple[ProcessEntry, str], int] = {}  # last sequence number sent
        self.pending: Batch | None = None  # the batch in flight
        self.held: set[tuple[ProcessEntry, str]] = set()  # (entry, "out"|"err") on hold
        self.scheduled = False
        self.active = True

    # -- membership ------------------------------------------------------------------------
    def attach(self, entry: ProcessEntry) -> None:
        """Start watching ``entry`` (its buffered records are sent at the next flush)."""
        self.entries[entry.name] = entry
        entry.add_watcher(self)
        self.mark(entry)

    def detach(self, entry: ProcessEntry) -> None:
        """Stop watching ``entry`` (it was removed or collected)."""
        if self.entries.get(entry.name) is entry:
            del self.entries[entry.name]
        entry.discard_watcher(self)
        self.dirty.discard(entry)
        for kind in ("out", "err", "closed"):
            self.cursors.pop((entry, kind), None)
            self.held.discard((entry, kind))
        self.schedule()

    def holds(self, entry: ProcessEntry, kind: str) -> bool:
        """True while this watch holds the ``kind`` stream of ``entry``."""
        return (entry, kind) in self.held

    def mark(self, entry: ProcessEntry) -> None:
        """``entry`` has new records."""
        self.dirty.add(entry)
        self.schedule()

    def schedule(self) -> None:
        """Flush after this round of events (unless a batch is in flight)."""
        if self.active and not self.scheduled and self.pending is None:
            self.scheduled = True
            self.kernel.loop.call_soon(self.flush)

    # -- sending ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Send the next batch, or end the watch when nothing is left to watch."""
        self.scheduled = False
        if not self.active or self.pending is not None:
            return
        if self.dirty and self._send_batch():
            return
        if not self.entries and not self.follow:
            self._end(NOTHING_LEFT)

    def _heads(self, entry: ProcessEntry, heads: list[Record]) -> None:
        """Add the first unsent record of each of ``entry``'s streams (and its exit).

        Only heads: in a flood every process is dirty and a batch takes a few records, so the
        rest of a source is looked at (:meth:`_following`) only once its head is in the batch,
        and a stream with nothing unsent costs a lookup. (Building every source in full made
        the batches of 100 flooding workers cost the kernel ~1 ms each.)
        """
        closed_seq = entry.closed_seq
        for stream in entry.streams:
            kind = stream.kind
            if (entry, kind) in self.held:
                if closed_seq is None:
                    continue
                self.held.discard((entry, kind))  # it exited: its output goes before closed
            if self.report_drops and stream.dropped_pending:
                heads.append((stream.drop_seq, "dropped", entry, stream, stream.drop_time,
                              stream.dropped_pending))  # fmt: skip
                continue
            chunks = stream.chunks
            if not chunks:
                continue
            after = self.cursors.get((entry, kind), 0)
            if chunks[0][0] > after:  # the usual case: nothing of it is in flight
                seq, timestamp, data = chunks[0]
                heads.append((seq, kind, entry, stream, timestamp, data))
            elif chunks[-1][0] > after:
                heads.append(next(_chunk_records(entry, kind, stream, after)))
        if closed_seq is not None and self.cursors.get((entry, "closed"), 0) < closed_seq:
            heads.append((closed_seq, "closed", entry, None, entry.exit_time, entry.exit_code))

    def _send_batch(self) -> bool:
        heads: list[Record] = []
        for entry in self.dirty:
            self._heads(entry, heads)
        tie = itertools.count()
        heap = [(head[0], next(tie), head) for head in heads]
        heapq.heapify(heap)
        rests: dict[tuple[ProcessEntry, str], Iterator[Record]] = {}
        buffers: list[bytes] = []
        size = 0
        pending: Batch = {"streams": {}, "closed": [], "exited": set()}
        while heap:
            record = heap[0][2]
            if size and record[1] in ("out", "err") and size + len(record[5]) > BATCH_LIMIT:
                break  # full: this chunk opens the next batch (a lone chunk is <= 1 MiB)
            heapq.heappop(heap)
            size += self._encode(record, buffers, pending)
            following = self._following(record, rests)
            if following is not None:
                heapq.heappush(heap, (following[0], next(tie), following))
        self.dirty = {item[2][2] for item in heap}
        if not buffers:
            return False
        buffers.append(BATCH_END)
        self.pending = pending
        self.sink.send(*buffers)
        return True

    def _following(
        self, record: Record, rests: dict[tuple[ProcessEntry, str], Iterator[Record]]
    ) -> Record | None:
        """The record after ``record`` in its source (None after a closed record)."""
        seq, kind, entry, stream, _timestamp, _payload = record
        if stream is None:
            return None  # closed: the last record of a process
        key = (entry, stream.kind)
        rest = rests.get(key)
        if rest is None:  # its head was taken: the chunks after it (all unsent, after a drop)
            after = seq if kind != "dropped" else self.cursors.get(key, 0)
            rest = rests[key] = _chunk_records(entry, stream.kind, stream, after)
        return next(rest, None)

    def _encode(self, record: Record, buffers: list[bytes], pending: Batch) -> int:
        seq, kind, entry, stream, timestamp, payload = record
        sep = "\n" if buffers else ""
        stamp = format_time(timestamp)
        if kind == "closed":
            buffers.append(f"{sep}closed:{entry.name}:{stamp}:{payload}".encode())
            self.cursors[(entry, "closed")] = seq
            pending["closed"].append(entry)
            return 0
        assert stream is not None  # only closed records have no stream
        slot = pending["streams"].setdefault(stream, [entry, 0, 0, []])
        if entry.closed_seq is not None:
            pending["exited"].add(entry)  # offered after its exit: a refusal cannot be held
        if kind == "dropped":
            buffers.append(f"{sep}dropped:{entry.name}:{stamp}:{stream.kind}:{payload}".encode())
            slot[2] = payload
            return 0
        buffers.append(f"{sep}{kind}:{entry.name}:{stamp}:{len(payload)}\n".encode())
        buffers.append(payload)
        slot[1] = seq
        slot[3].append(seq)
        self.cursors[(entry, kind)] = seq
        return len(payload)

    # -- input -----------------------------------------------------------------------------
    def on_line(self, line: str) -> None:
        """A line while watching: acknowledge the batch in flight (``hold ...``: all but the
        listed streams); ``q`` also ends the watch; ``release ...`` only ends holds."""
        words = line.split()
        verb = words[0].lower() if words else ""
        if verb == "release":
            self._release(words[1:])
            return
        stop = verb == "q" and len(words) == 1
        if self.pending is not None:
            self._acknowledge(_parse_holds(words[1:]) if verb == "hold" else {})
        if stop:
            self._end(STOPPED)
        else:
            self.schedule()

    def _acknowledge(self, hold: dict[str, int]) -> None:
        pending, self.pending = self.pending, None
        assert pending is not None
        for stream, (entry, last_seq, dropped, seqs) in pending["streams"].items():
            taken = hold.get(f"{entry.name}:{stream.kind}")
            if taken is None or taken >= len(seqs) or entry in pending["closed"]:
                stream.acknowledge(last_seq, dropped)
                self.kernel.room_freed(entry, stream)
                continue
            if taken > 0:  # the client took the first ones (and the drop report before them)
                stream.acknowledge(seqs[taken - 1], dropped)
            if entry in pending["exited"]:
                # Refused again after its exit: holding it would send it again at once, before
                # the closed record, forever. Dropped and counted, so the exit comes next.
                stream.drop_all()
                self.kernel.room_freed(entry, stream)
                continue
            self._hold(entry, stream)
        for entry in pending["closed"]:
            self.kernel.collect(entry)

    def _hold(self, entry: ProcessEntry, stream: OutputStream) -> None:
        """Keep the unacknowledged chunks of ``stream`` and send them again only once released."""
        self.held.add((entry, stream.kind))
        self.cursors.pop((entry, stream.kind), None)  # everything still buffered is unsent
        self.kernel.hold_started(entry, stream)

    def _release(self, targets: list[str]) -> None:
        for target in targets:
            name, _, kind = target.rpartition(":")
            entry = self.entries.get(name)
            stream = entry.stream(kind) if entry is not None else None
            if entry is not None and stream is not None and (entry, kind) in self.held:
                self.held.discard((entry, kind))
                self.kernel.hold_ended(entry, stream)
                self.mark(entry)

    def _end(self, final: bytes) -> None:
        self.abandon()
        self.sink.leave_watch(final)

    def abandon(self) -> None:
        """Detach from everything without acknowledging (the connection went away)."""
        if not self.active:
            return
        self.active = False
        self.pending = None
        for entry in list(self.entries.values()):
            entry.discard_watcher(self)
            self.kernel.watcher_left(entry)
        self.entries.clear()
        self.dirty.clear()
        self.kernel.process_watches.discard(self)


def _parse_holds(words: list[str]) -> dict[str, int]:
    """``NAME:KIND[:N]`` words -> {"NAME:KIND": N}; malformed words are ignored (a watch
    has no error replies)."""
    holds: dict[str, int] = {}
    for word in words:
        head, _, count = word.rpartition(":")
        if count.isdigit() and head.endswith((":out", ":err")):
            holds[head] = int(count)
        elif word.endswith((":out", ":err")):
            holds[word] = 0
    return holds


def _chunk_records(
    entry: ProcessEntry, kind: str, stream: OutputStream, after: int
) -> Iterator[Record]:
    for seq, timestamp, data in stream.unsent(after):
        yield (seq, kind, entry, stream, timestamp, data)


class SocketWatch:
    """Reports, once per socket, that a listening socket has a pending connection/datagram."""

    def __init__(self, kernel: Kernel, sink: WatchSink, names: list[str]) -> None:
        self.kernel = kernel
        self.sink = sink
        self.waiting = set(names)
        self.ready: list[tuple[str, float]] = []
        self.in_flight = False
        self.active = True

    def fire(self, name: str) -> None:
        """The socket ``name`` became readable."""
        if self.active and name in self.waiting:
            self.waiting.discard(name)
            self.ready.append((name, now()))
            self._flush()

    def forget(self, name: str) -> None:
        """The socket was removed: stop waiting for it."""
        self.waiting.discard(name)
        self._flush()

    def _flush(self) -> None:
        if not self.active or self.in_flight:
            return
        if self.ready:
            lines = [f"readable:{name}:{format_time(ts)}" for name, ts in self.ready]
            self.ready = []
            self.in_flight = True
            self.sink.send("\n".join(lines).encode() + BATCH_END)
        elif not self.waiting:
            self._end(NOTHING_LEFT)

    def on_line(self, line: str) -> None:
        """Any line acknowledges; ``q`` ends the watch."""
        self.in_flight = False
        if line.strip().lower() == "q":
            self._end(STOPPED)
        else:
            self._flush()

    def _end(self, final: bytes) -> None:
        self.abandon()
        self.sink.leave_watch(final)

    def abandon(self) -> None:
        """Stop waiting (watch ended or connection gone)."""
        if self.active:
            self.active = False
            self.kernel.socket_watch_ended(self)
