"""What the operating system says about processes, read from /proc (Linux), plus clean-up.

The harness makes itself a *child subreaper*: a daemon's double-forked helper (papa-kernel)
and workers orphaned when their daemon is killed are re-parented to the harness instead of to
pid 1, so every process a run started stays a descendant the harness can list, kill and reap.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import struct
import time
from collections.abc import Iterable

PR_SET_CHILD_SUBREAPER = 36
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def become_subreaper() -> bool:
    """Adopt orphaned descendants (prctl PR_SET_CHILD_SUBREAPER); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


#: Open files wanted: papa-kernel holds three per worker (stdout and stderr pipes, a pidfd),
#: so 10,000 workers need about 30,000.
WANTED_NOFILE = 65536


def raise_nofile_limit() -> int:
    """Raise RLIMIT_NOFILE (inherited by the daemons) to :data:`WANTED_NOFILE` where this
    process may raise its hard limit (root), else the soft limit to the hard one; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if hard < WANTED_NOFILE:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (WANTED_NOFILE, WANTED_NOFILE))
            return WANTED_NOFILE
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def tasks(pid: int) -> list[str]:
    """Thread ids of ``pid`` (as strings); empty if it is gone."""
    try:
        return os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return []


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (of every thread of it)."""
    found: list[int] = []
    for task in tasks(pid):
        text = _read(f"/proc/{pid}/task/{task}/children")
        if text:
            found.extend(int(child) for child in text.split())
    return found


def descendants(pid: int) -> list[int]:
    """Every descendant of ``pid``, parents before their children."""
    found: list[int] = []
    queue = [pid]
    while queue:
        kids = children(queue.pop())
        found.extend(kids)
        queue.extend(kids)
    return found


def comm(pid: int) -> str | None:
    """The command name of ``pid`` (``sleep`` once a worker has exec'd), None if gone."""
    text = _read(f"/proc/{pid}/comm")
    return text.strip() if text is not None else None


def state(pid: int) -> str | None:
    """The one-letter state of ``pid`` (``Z`` for a zombie), None if gone."""
    text = _read(f"/proc/{pid}/stat")
    return text.rsplit(")", 1)[1].split()[0] if text else None


def alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    return state(pid) not in (None, "Z")


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (0 if gone)."""
    text = _read(f"/proc/{pid}/status") or ""
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size of ``pid`` in bytes (0 if gone): each page shared by n processes
    counts 1/n. Every process mapping the page counts, other users' too (the same python
    binary and libraries run elsewhere on a shared machine lower it)."""
    text = _read(f"/proc/{pid}/smaps_rollup") or ""
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
PAGEMAP_PRESENT = 1 << 63
PAGEMAP_PFN_MASK = (1 << 55) - 1


def _resident_frames(pid: int) -> set[int] | None:
    """Physical frame numbers of the resident pages of ``pid`` (/proc/PID/pagemap); None if
    they are hidden (only CAP_SYS_ADMIN sees them) or the process is gone."""
    frames: set[int] = set()
    try:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
            for line in maps:
                if line.rstrip().endswith("[vsyscall]"):
                    continue
                start, end = (int(part, 16) for part in line.split(None, 1)[0].split("-"))
                pagemap.seek(start // PAGE_SIZE * 8)
                data = pagemap.read((end - start) // PAGE_SIZE * 8)
                for (entry,) in struct.iter_unpack("<Q", data):
                    if entry & PAGEMAP_PRESENT:
                        frame = entry & PAGEMAP_PFN_MASK
                        if not frame:
                            return None
                        frames.add(frame)
    except OSError:
        return None
    return frames


def unique_bytes(pids: Iterable[int]) -> int | None:
    """Resident memory of the processes ``pids`` together, each physical page counted once
    (what running them costs the machine: the pages two of them share, such as the python
    binary's, count once); None where pagemap hides frame numbers (not root)."""
    frames: set[int] = set()
    for pid in pids:
        found = _resident_frames(pid)
        if found is None:
            return None
        frames |= found
    return len(frames) * PAGE_SIZE


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by every live thread of ``pid`` (schedstat: nanoseconds)."""
    total = 0
    exact = True
    for task in tasks(pid):
        text = _read(f"/proc/{pid}/task/{task}/schedstat")
        if text is None:
            exact = False
            break
        total += int(text.split()[0])
    if exact:
        return total / 1e9
    stat = _read(f"/proc/{pid}/stat")  # kernels without schedstat: clock ticks
    if not stat:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class ExecTracker:
    """Counts children of some parent processes that have exec'd a given command.

    ``poll()`` reads the parents' ``children`` files and the ``comm`` of children not yet seen
    running, so repeated polls stay cheap (each worker's comm is read until it has exec'd).
    """

    def __init__(self, command: str = "sleep") -> None:
        self.command = command
        self.running: set[int] = set()
        self.first_seen: float | None = None

    def poll(self, parents: Iterable[int]) -> int:
        now = time.perf_counter()
        current: set[int] = set()
        for parent in parents:
            current.update(children(parent))
        self.running &= current
        for pid in current - self.running:
            if comm(pid) == self.command:
                self.running.add(pid)
        if self.running and self.first_seen is None:
            self.first_seen = now
        return len(self.running)


def kill(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to each pid (only pids this harness started or their descendants)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def reap(pid: int) -> bool:
    """Collect ``pid`` if it is an exited child of ours; True if it was collected or is gone."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return not alive(pid)
    return done == pid


def kill_and_reap_children(timeout: float = 60.0) -> int:
    """SIGKILL every child of this process (orphans included, as we are a subreaper) until
    none is left; return how many were ended."""
    ended: set[int] = set()
    deadline = time.monotonic() + timeout
    while True:
        kids = children(os.getpid())
        if not kids:
            return len(ended)
        kill(kids)
        for pid in kids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            ended.add(pid)
        if time.monotonic() > deadline:
            raise RuntimeError(f"children still alive after {timeout}s: {kids[:10]}")
