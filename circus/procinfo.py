"""Per-process statistics in the original Circus format (``stats``, ``dstats``, circusd-stats).

Field names and formats match the original ``get_info``: ``mem_info1``/``mem_info2`` are human
sizes (``"3.00M"``), ``ctime`` is ``"M:SS.cc"`` CPU time, and any field the OS refuses to give is
``"N/A"``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # psutil is imported at the first stats call: it is not on circusd's start-up
    import psutil

NOT_AVAILABLE = "N/A"
DEAD_PROCESS = "No such process (stopped?)"

_UNITS = ("K", "M", "G", "T", "P")


def boot_time() -> float:
    """When the machine booted (epoch seconds), as ``psutil.boot_time()``: ``btime`` of
    ``/proc/stat``. Read directly by what must start fast (circusd-stats, the orphans' check)."""
    with open("/proc/stat") as stat:
        for line in stat:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def total_memory() -> int:
    """The machine's RAM in bytes, as ``psutil.virtual_memory().total``: ``MemTotal`` of
    ``/proc/meminfo`` (kB)."""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise OSError("no MemTotal in /proc/meminfo")


def pid_exists(pid: int) -> bool:
    """Whether a process ``pid`` exists, as ``psutil.pid_exists`` (one that is not ours
    exists: the signal 0 is refused, not failed)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def figure(value: Any, missing: float = 0.0) -> float:
    """A number of an info dict (``cpu``, ``mem``, ``age``) as a float; ``missing`` for
    :data:`NOT_AVAILABLE` (the OS refused) or anything else that is not a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return missing


def info_bytes(value: Any) -> int:
    """A size of an info dict (``mem_info1``: ``"3.00M"``, :func:`bytes2human`'s text, or
    already a number) in bytes; 0 for :data:`NOT_AVAILABLE` or anything unreadable."""
    from circus.config.converters import to_size

    try:
        return to_size(value) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        return 0


def bytes2human(n: float) -> str:
    """``3145728`` -> ``"3.00M"`` (1024-based, as the original)."""
    if n < 1024:
        return f"{int(n)}B"
    value = float(n)
    for unit in _UNITS:
        value /= 1024.0
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.2f}{unit}"
    raise AssertionError("unreachable")


def format_cpu_time(total: float) -> str:
    """CPU seconds as the original's ``ctime``: ``"M:SS.cc"`` (``83.25`` -> ``"1:23.25"``)."""
    minutes, seconds = divmod(total, 60)
    return f"{int(minutes)}:{int(seconds):02d}.{int((total - int(total)) * 100):02d}"


def _cpu_time(proc: psutil.Process) -> str:
    times = proc.cpu_times()
    return format_cpu_time(times.user + times.system)


def get_info(
    pid_or_process: int | psutil.Process,
    interval: float = 0.0,
    with_children: bool = True,
    handles: dict[int, psutil.Process] | None = None,
) -> dict[str, Any]:
    """Return the info dict of a process, or raise psutil.NoSuchProcess.

    ``cpu`` is the CPU % since the previous call on the same ``psutil.Process`` (with
    ``interval`` 0): pass the same ``handles`` dict (pid -> handle, for the process and its
    children, updated in place) each time to get figures of the last period rather than 0.0.
    """
    import psutil

    if isinstance(pid_or_process, psutil.Process):
        proc = pid_or_process
    elif handles is None:
        proc = psutil.Process(pid_or_process)
    else:
        proc = _handle(pid_or_process, handles)
    info: dict[str, Any] = {"pid": proc.pid}

    def field(key: str, getter: Callable[[], Any]) -> None:
        try:
            info[key] = getter()
        except psutil.NoSuchProcess:
            raise
        except (psutil.AccessDenied, psutil.ZombieProcess, OSError):
            info[key] = NOT_AVAILABLE

    with proc.oneshot():
        field("cmdline", lambda: os.path.basename((proc.cmdline() or [proc.name()])[0]))
        field("username", proc.username)
        field("nice", proc.nice)
        mem = None
        with contextlib.suppress(psutil.AccessDenied, psutil.ZombieProcess):
            mem = proc.memory_info()
        info["mem_info1"] = bytes2human(mem.rss) if mem else NOT_AVAILABLE
        info["mem_info2"] = bytes2human(mem.vms) if mem else NOT_AVAILABLE
        field("cpu", lambda: proc.cpu_percent(interval=interval))
        field("mem", lambda: round(proc.memory_percent(), 3))
        field("ctime", lambda: _cpu_time(proc))
        field("create_time", proc.create_time)
        if isinstance(info.get("create_time"), float):
            info["age"] = time.time() - info["create_time"]
        else:
            info["age"] = NOT_AVAILABLE
    children: list[Any] = []
    if with_children:
        current = children_pids(proc.pid)
        cache = handles if handles is not None else {}
        for pid in current:
            try:
                children.append(get_info(_handle(pid, cache), interval, with_children=False))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        for pid in [pid for pid in cache if pid != proc.pid and pid not in current]:
            del cache[pid]
    info["children"] = children
    return info


def _handle(pid: int, handles: dict[int, psutil.Process]) -> psutil.Process:
    """The kept handle of ``pid`` (a new one if none, or if the pid now names another process)."""
    import psutil

    known = handles.get(pid)
    if known is None or not known.is_running():
        handles[pid] = known = psutil.Process(pid)
    return known


def _proc_children(pid: int) -> list[int] | None:
    """The direct children of ``pid`` from ``/proc/PID/task/*/children`` (Linux 3.5+ with
    CONFIG_PROC_CHILDREN), which reads only that process; None where it is not available.

    psutil's ``children()`` reads the parent of *every* process on the machine instead: with
    2,500 processes that is ~0.4 s per call, and ``stats`` asks it for each worker (10 workers:
    4 s, past the client's timeout)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return []  # gone
    except OSError:
        return None
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found.extend(int(word) for word in f.read().split())
        except FileNotFoundError:
            if os.path.exists(f"/proc/{pid}/task/{tid}"):
                return None  # the kernel has no children files
        except (OSError, ValueError):
            return None
    return found


def children_pids(pid: int, recursive: bool = False) -> list[int]:
    """Pids of the children (or all descendants) of ``pid``; empty if it is gone."""
    direct = _proc_children(pid)
    if direct is None:
        import psutil

        try:
            return [child.pid for child in psutil.Process(pid).children(recursive=recursive)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return []
    if not recursive:
        return direct
    result, queue, seen = [], list(direct), {pid}
    while queue:
        child = queue.pop(0)
        if child in seen:
            continue
        seen.add(child)
        result.append(child)
        queue.extend(_proc_children(child) or [])
    return result
