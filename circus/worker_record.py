"""circusd's record of the kernel-hosted workers it manages, kept on disk for the case where
circusd *and* papa-kernel die: the next circusd finds the orphans there (:mod:`circus.orphans`).

The record is a journal beside the kernel socket (``<papa.sock>.workers``, mode 0600): a header
line, then one JSON line per change, ``["+", name, pid, started]`` when a worker is spawned or
adopted and ``["-", name, pid]`` when it is gone. Changes made in one turn of the event loop are
appended with one ``write`` (a few microseconds, whatever the number of workers: rewriting the
whole set took milliseconds with 1000 workers, on the respawn path). When the journal has grown
to about twice the live set, it is rewritten compactly (temporary file renamed over it). A
``kill -9`` cannot leave half a line: a process dies between system calls, not inside one.

A record that is not a regular file of the running user, is writable by group or others, is
too big, or does not parse is ignored with a warning.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat

from papa_kernel.records import frozen_record

log = logging.getLogger(__name__)

HEADER = b'{"circus-worker-record": 1}\n'
#: Largest record read (a line is under 100 bytes): a bigger one is not ours.
MAX_RECORD_SIZE = 64 * 1024 * 1024
#: Journal lines allowed beyond twice the live workers before a compacting rewrite.
COMPACT_SLACK = 256


@frozen_record
class RecordedWorker:
    """A kernel-hosted worker as circusd last knew it."""

    name: str
    pid: int
    started: float  # epoch seconds, as the kernel reported


def record_path(kernel_socket: str) -> str:
    return kernel_socket + ".workers"


class WorkerRecord:
    """The journal of one circusd (which holds the kernel lock). See the module docstring."""

    def __init__(self, path: str):
        self.path = path
        self.live: dict[str, RecordedWorker] = {}
        self._pending: list[bytes] = []
        self._fd: int | None = None
        self._lines = 0
        self._flush_scheduled = False

    def added(self, worker: RecordedWorker) -> None:
        self.live[worker.name] = worker
        self._append("+", worker.name, worker.pid, worker.started)

    def removed(self, name: str) -> None:
        worker = self.live.pop(name, None)
        if worker is not None:
            self._append("-", worker.name, worker.pid)

    def _append(self, *entry: object) -> None:
        # Before the first write (or after a failed one) the next flush writes the whole live
        # set: no line is made for it (10,000 adopted workers made 10,000 lines for nothing).
        if self._fd is not None:
            self._pending.append(_line(*entry))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write what changed (the first time, or when it grew too much: the whole record)."""
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        try:
            if self._fd is None or self._lines + len(pending) > 2 * len(self.live) + COMPACT_SLACK:
                self._rewrite()
            elif pending:
                os.write(self._fd, b"".join(pending))
                self._lines += len(pending)
        except OSError as exc:
            log.error("cannot write the worker record %s: %s", self.path, exc)
            if self._fd is not None:  # what was lost is rewritten whole next time
                os.close(self._fd)
                self._fd = None

    def _rewrite(self) -> None:
        lines = [_line("+", w.name, w.pid, w.started) for w in self.live.values()]
        tmp = f"{self.path}.{os.getpid()}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o600)
        try:
            os.write(fd, HEADER + b"".join(lines))
            os.replace(tmp, self.path)
        except BaseException:
            os.close(fd)
            raise
        if self._fd is not None:
            os.close(self._fd)
        self._fd = fd  # positioned at the end: later writes append
        self._lines = len(lines)

    def close(self) -> None:
        """Write what is pending and close; the record stays for the next circusd."""
        if self._pending or self._fd is None:
            self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _line(*entry: object) -> bytes:
    return json.dumps(entry).encode() + b"\n"


def load_record(path: str) -> list[RecordedWorker]:
    """The workers a record lists; [] when there is none or it is not to be trusted."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("worker record %s ignored: %s", path, exc.strerror)
        return []
    try:
        problem = _untrusted(os.fstat(fd))
        if problem:
            log.warning("worker record %s ignored: %s", path, problem)
            return []
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_RECORD_SIZE + 1)
    finally:
        os.close(fd)
    try:
        return list(_replay(data).values())
    except (ValueError, TypeError, IndexError) as exc:
        log.warning("worker record %s ignored: not a record of circusd (%s)", path, exc)
        return []


def _replay(data: bytes) -> dict[str, RecordedWorker]:
    if not data.startswith(HEADER):
        raise ValueError("no circus-worker-record header")
    lines = data[len(HEADER) :].splitlines()
    try:  # one parse for the whole journal, not one per line (10,000 lines: 4x faster)
        entries = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        entries = None
    if not isinstance(entries, list) or len(entries) != len(lines):
        entries = [json.loads(line) for line in lines]  # raises at the first bad line
    live: dict[str, RecordedWorker] = {}
    for number, entry in enumerate(entries, start=2):
        if entry[0] == "+" and len(entry) == 4:
            live[str(entry[1])] = RecordedWorker(str(entry[1]), int(entry[2]), float(entry[3]))
        elif entry[0] == "-" and len(entry) == 3:
            if str(entry[1]) in live and live[str(entry[1])].pid == int(entry[2]):
                del live[str(entry[1])]
        else:
            raise ValueError(f"line {number} is not a change")
    return live


def _untrusted(info: os.stat_result) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid != os.geteuid():
        return f"owned by uid {info.st_uid}, not {os.geteuid()}"
    if info.st_mode & 0o022:
        return f"writable by others (mode {stat.S_IMODE(info.st_mode):o})"
    if info.st_size > MAX_RECORD_SIZE:
        return f"larger than {MAX_RECORD_SIZE} bytes"
    return None
