"""Workers a lost papa-kernel left behind (orphans): recorded, verified and ended without it.

Why: when the kernel dies, its workers live on (re-parented to init) holding their inherited
listening sockets, so a new kernel cannot bind the same address while they run, and nobody
manages them. circusd therefore ends them *before* it binds again. It cannot ask the kernel
who they are, so:

- **Record.** circusd keeps the name, pid and start time of every kernel-hosted worker it
  manages in a private journal beside the kernel socket (:mod:`circus.worker_record`). A
  circusd started after circusd *and* the kernel were killed reads the orphans there.
- **Verify.** A recorded pid is ended only if the OS still has a process with that pid that
  started at the recorded time (within :data:`START_TIME_TOLERANCE`) and still leads its own
  process group (every worker is spawned with ``setsid``): a recycled pid fails both. A pidfd
  is opened *before* the check, so the process checked is the process signalled.
- **End.** The whole process group is SIGKILLed (children of a worker may hold the socket
  too), and circusd waits (on the pidfds: an event, no polling) until the leaders are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
from collections.abc import Iterable

from circus.procinfo import boot_time
from circus.util.pidfd import exited_within, has_exited
from circus.worker_record import RecordedWorker

log = logging.getLogger(__name__)

#: How far the OS's start time of a pid may be from the recorded one for it to still be our
#: worker: the kernel stamps ``started`` just after the spawn and start times are derived
#: from the boot time (whole seconds), so they can differ by up to a second; a recycled pid
#: within two seconds of ours is not a realistic risk.
START_TIME_TOLERANCE = 2.0
#: How long to wait for killed orphans to be gone before binding anyway (a bind that still
#: fails is retried by the caller).
ORPHAN_EXIT_WAIT = 1.0
#: fds left free besides one pidfd per orphan (logs, sockets, the event loop)
FD_MARGIN = 64


def start_time(pid: int) -> float:
    """When ``pid`` started (epoch seconds), read from /proc as psutil's ``create_time()``
    does: the boot time plus field 22 of ``/proc/PID/stat`` (clock ticks since boot). Read
    directly so that killing orphans, which is urgent (their connections fail meanwhile),
    does not wait for psutil to be imported. OSError (ProcessLookupError...) if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        raise ProcessLookupError(pid) from None
    return boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _open_verified(worker: RecordedWorker) -> int | None:
    """A pidfd on the recorded worker if it still runs (same start time, own group leader)."""
    try:
        pidfd = os.pidfd_open(worker.pid)
    except (ProcessLookupError, PermissionError):
        return None
    except OSError as exc:  # EMFILE beyond the hard limit: say so, never crash the recovery
        log.warning("%s: cannot check orphan pid %d: %s", worker.name, worker.pid, exc.strerror)
        return None
    try:
        started = start_time(worker.pid)
        leader = os.getpgid(worker.pid) == worker.pid
    except (OSError, ValueError, IndexError):
        os.close(pidfd)
        return None
    if abs(started - worker.started) > START_TIME_TOLERANCE or not leader:
        log.warning(
            "%s: pid %d is no longer our worker (started %.2f, ours %.2f, group leader: %s)"
            ": not killed",
            worker.name,
            worker.pid,
            started,
            worker.started,
            leader,
        )
        os.close(pidfd)
        return None
    return pidfd


def _room_for_fds(count: int) -> None:
    """Raise the soft RLIMIT_NOFILE (within the hard one) so that ``count`` more fds fit: one
    pidfd per orphan is held at once, and 10,000 orphans do not fit in the usual 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = len(os.listdir("/proc/self/fd")) + count + FD_MARGIN
    if soft != resource.RLIM_INFINITY and soft < wanted:
        ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, ceiling), hard))


def kill_orphans(workers: Iterable[RecordedWorker]) -> list[int]:
    """SIGKILL the process group of every recorded worker that verifiably still runs; return
    pidfds of the killed leaders (the caller waits for them and closes them).

    All are verified first and then killed in one tight loop: an orphan still alive while
    another is being verified would take the connections its killed sibling no longer
    accepts, and lose them when its own turn comes."""
    workers = list(workers)
    _room_for_fds(len(workers))
    verified = [(w, fd) for w in workers if (fd := _open_verified(w)) is not None]
    for worker, pidfd in verified:
        try:
            # The pidfd keeps the pid (and so the group id) from being reused while we hold it.
            if not has_exited(pidfd):
                os.killpg(worker.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError) as exc:
            log.warning("%s: cannot kill orphan pid %d: %s", worker.name, worker.pid, exc)
    for worker, _pidfd in verified:
        log.warning(
            "%s: killed orphan pid %d (and its process group) left by a lost kernel",
            worker.name,
            worker.pid,
        )
    return [pidfd for _worker, pidfd in verified]


async def wait_exited(pidfds: list[int], timeout: float = ORPHAN_EXIT_WAIT) -> bool:
    """Wait until every pidfd reports its process gone (then its sockets are closed); close
    them. False if some were still there after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        for pidfd in pidfds:  # killed together: the later ones are mostly gone by their turn
            if not await exited_within(pidfd, max(0.0, deadline - loop.time())):
                log.warning("orphans of the lost kernel still running after %.1fs", timeout)
                return False
        return True
    finally:
        for pidfd in pidfds:
            with contextlib.suppress(OSError):
                os.close(pidfd)
