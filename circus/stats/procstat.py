"""Cheap per-process samples for circusd-stats, in the original ``get_info`` format.

Why not :func:`circus.procinfo.get_info` (psutil): circusd-stats samples every worker every
second, and with a thousand workers psutil's several /proc reads per process (and its
``children()``, which scans every process of the machine) cost more than a core. Here one
sample is one ``pread()`` of ``/proc/PID/stat`` on a descriptor kept open while the process is
followed: that file has the CPU ticks, nice, start time, virtual size and resident set. The
descriptor also pins the process: a recycled pid never reads as the old process, and reads fail
(ESRCH) once it is gone. What does not change (user name, command, start time) is read once.

Each sample is encoded to JSON here, from a template: the fields that never change are encoded
once per process. Fields and formats are the original's: ``cpu`` is the percentage of one CPU
since the previous sample (0.0 on the first, as psutil's ``cpu_percent(interval=0)``), ``mem``
the percentage of RAM (3 decimals), ``mem_info1``/``mem_info2`` RSS/VMS as ``"3.00M"``,
``ctime`` the CPU time as ``"M:SS.cc"``, ``children`` is ``[]`` (the original's stream does not
follow children either).
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import time

from circus.procinfo import NOT_AVAILABLE, boot_time, bytes2human, format_cpu_time, total_memory

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CMDLINE_READS = 3  # tries to read a command that is empty (just exec'd) before showing N/A
STAT_READ_SIZE = 2048  # /proc/PID/stat is one line of ~300 bytes (the comm is at most 64)

# Indexes in /proc/PID/stat after the ")" that ends the command name (field 3, the state, is 0).
_STATE, _UTIME, _STIME, _NICE, _STARTTIME, _VSIZE, _RSS = 0, 11, 12, 16, 19, 20, 21


# Plain classes with __slots__, not dataclasses: dataclasses imports inspect (with ast, dis and
# tokenize) and compiles each class's methods, ~10 ms of CPU at every start of circusd-stats.


class Sample:
    """One sample: what the watcher's aggregate needs, and the whole body as JSON."""

    __slots__ = ("age", "body", "cpu", "mem", "pid")

    def __init__(self, pid: int, cpu: float, mem: float, age: float, body: bytes) -> None:
        self.pid, self.cpu, self.mem, self.age, self.body = pid, cpu, mem, age, body

    def __repr__(self) -> str:
        return f"Sample(pid={self.pid}, cpu={self.cpu}, mem={self.mem}, age={self.age})"


class _Followed:
    """A process being sampled: its open stat file, what is read once, and the formatted
    values of the last sample (an idle worker's memory and CPU time are not formatted again)."""

    __slots__ = (
        "cmdline",
        "cmdline_reads",
        "cpu",
        "create_time",
        "ctime",
        "fd",
        "fields",
        "head",
        "last_ticks",
        "last_time",
        "mem",
        "mem_info1",
        "mem_info2",
        "name",
        "pid",
        "rss",
        "tail",
        "username",
        "vsize",
    )

    def __init__(
        self, pid: int, fd: int | None, username: str, cmdline: str, create_time: float
    ) -> None:
        self.pid = pid
        self.fd = fd  # None when no descriptor was free: the file is opened for each sample
        self.username = username
        self.cmdline = cmdline
        self.create_time = create_time
        self.last_ticks = -1
        self.last_time: float | None = None
        self.cmdline_reads = 1
        self.ctime = ""
        self.rss = b""
        self.mem = 0.0
        self.mem_info1 = ""
        self.vsize = b""
        self.mem_info2 = ""
        self.name: str | None = None
        self.cpu = 0.0
        self.fields: list[bytes] | None = None  # utime..rss of the last sample, as read
        self.head = ""  # the body up to "age": of the last sample
        self.tail = ""  # the constant fields, as the end of a JSON object (with its "}")

    def set_tail(self, name: str | None) -> None:
        self.name = name
        constant = {
            "pid": self.pid,
            "username": self.username,
            "create_time": self.create_time,
            "cmdline": self.cmdline,
            "children": [],
            "subtopic": self.pid,
            "name": name,
        }
        self.tail = json.dumps(constant)[1:]


def _username(uid: int, cache: dict[int, str]) -> str:
    if uid not in cache:
        try:
            cache[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            cache[uid] = str(uid)
    return cache[uid]


def _cmdline(pid: int) -> str:
    """Basename of argv[0], as the original's ``cmdline``."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv0 = f.read(4096).split(b"\0", 1)[0]
    except OSError:
        return NOT_AVAILABLE
    if not argv0:
        return NOT_AVAILABLE
    return os.path.basename(argv0.decode("utf-8", "replace").split(" ", 1)[0])


class ProcSampler:
    """Samples processes by pid; :meth:`forget` a pid when it is no longer followed."""

    def __init__(self) -> None:
        self._followed: dict[int, _Followed] = {}
        self._users: dict[int, str] = {}
        self._total_memory = total_memory()  # from /proc, as psutil: without its ~15 ms import
        self._boot_time = boot_time()

    def __len__(self) -> int:
        return len(self._followed)

    def _read(self, entry: _Followed) -> bytes:
        if entry.fd is not None:
            return os.pread(entry.fd, STAT_READ_SIZE, 0)
        with open(f"/proc/{entry.pid}/stat", "rb") as f:
            return f.read(STAT_READ_SIZE)

    def _follow(self, pid: int) -> _Followed | None:
        fd: int | None
        try:
            fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE):
                return None  # gone already
            fd = None  # out of descriptors: open the file for each sample instead
        entry = _Followed(pid, fd, NOT_AVAILABLE, NOT_AVAILABLE, 0.0)
        try:
            raw = self._read(entry)
            uid = os.fstat(fd).st_uid if fd is not None else os.stat(f"/proc/{pid}").st_uid
            fields = raw[raw.rindex(b")") + 2 :].split()
            entry.create_time = self._boot_time + int(fields[_STARTTIME]) / CLOCK_TICKS
        except (OSError, ValueError, IndexError):
            if fd is not None:
                os.close(fd)
            return None
        entry.username = _username(uid, self._users)
        entry.cmdline = _cmdline(pid)
        self._followed[pid] = entry
        return entry

    def sample(
        self, pid: int, name: str | None = None, now: tuple[float, float] | None = None
    ) -> Sample | None:
        """Sample ``pid`` (``name``: the body's ``name``; ``now``: ``(time.time(),
        time.monotonic())`` of this round); None if it is gone (or a zombie)."""
        samples = self.sample_many([pid], {pid: name} if name else None, now)
        return samples[0] if samples else None

    def sample_many(
        self,
        pids: list[int],
        names: dict[int, str] | None = None,
        now: tuple[float, float] | None = None,
    ) -> list[Sample]:
        """Sample each of ``pids`` (one loop: this is the hot path of circusd-stats); the
        ones gone (or zombies) are left out and forgotten."""
        wall, mono = (time.time(), time.monotonic()) if now is None else now
        followed, pread, samples = self._followed, os.pread, []
        for pid in pids:
            entry = followed.get(pid) or self._follow(pid)
            if entry is None:
                continue
            try:
                fd = entry.fd
                raw = pread(fd, STAT_READ_SIZE, 0) if fd is not None else self._read(entry)
                fields = raw[raw.rindex(b")") + 2 :].split(b" ", _RSS + 1)
                if len(fields) <= _RSS or fields[_STATE] == b"Z":
                    raise ValueError("a zombie")
            except (OSError, ValueError):
                self.forget(pid)
                continue
            name = names.get(pid) if names else None
            if fields[_UTIME : _RSS + 1] != entry.fields or entry.cpu or name != entry.name:
                self._update(entry, fields, mono, name)
            entry.last_time = mono
            age = wall - entry.create_time
            body = f"{entry.head}{age}, {entry.tail}".encode()
            samples.append(Sample(pid, entry.cpu, entry.mem, age, body))
        return samples

    def _update(self, entry: _Followed, fields: list[bytes], mono: float, name: str | None) -> None:
        """Format again what changed since the last sample (most workers are idle: nothing)."""
        ticks = int(fields[_UTIME]) + int(fields[_STIME])
        entry.cpu = 0.0
        if ticks != entry.last_ticks:
            if entry.last_time is not None and mono > entry.last_time:
                seconds = (ticks - entry.last_ticks) / CLOCK_TICKS
                entry.cpu = round(seconds / (mono - entry.last_time) * 100, 1)
            entry.ctime = format_cpu_time(ticks / CLOCK_TICKS)
            entry.last_ticks = ticks
        if fields[_RSS] != entry.rss:
            entry.rss = fields[_RSS]
            rss = int(entry.rss) * PAGE_SIZE
            entry.mem = round(rss / self._total_memory * 100, 3)
            entry.mem_info1 = bytes2human(rss)
        if fields[_VSIZE] != entry.vsize:
            entry.vsize = fields[_VSIZE]
            entry.mem_info2 = bytes2human(int(entry.vsize))
        if entry.cmdline == NOT_AVAILABLE and entry.cmdline_reads < CMDLINE_READS:
            # Read right after exec, the command can still be empty: try again.
            entry.cmdline_reads += 1
            entry.cmdline = _cmdline(entry.pid)
            entry.tail = ""
        if not entry.tail or name != entry.name:
            entry.set_tail(name)
        entry.fields = fields[_UTIME : _RSS + 1]
        entry.head = (
            f'{{"cpu": {entry.cpu}, "mem": {entry.mem}, "mem_info1": "{entry.mem_info1}", '
            f'"mem_info2": "{entry.mem_info2}", "ctime": "{entry.ctime}", '
            f'"nice": {int(fields[_NICE])}, "age": '
        )

    def refresh_cmdline(self, pid: int) -> None:
        """Read the command again (a worker that changed its title, an exec after spawn)."""
        entry = self._followed.get(pid)
        if entry is not None:
            entry.cmdline = _cmdline(pid)
            entry.tail = ""
            entry.fields = None  # format again at the next sample

    def forget(self, pid: int) -> None:
        entry = self._followed.pop(pid, None)
        if entry is not None and entry.fd is not None:
            os.close(entry.fd)

    def close(self) -> None:
        for pid in list(self._followed):
            self.forget(pid)
