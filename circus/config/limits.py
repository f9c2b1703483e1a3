"""The process limit: how many processes one watcher may be asked to run.

A ``numprocesses`` above it is refused wherever a count comes from: a configuration file (an
error at ``file:line [watcher:NAME] numprocesses``, also in ``--check-config``), ``add``,
``set``, ``incr``. The limit is the smaller of

- ``[circus] max_processes`` (default :data:`DEFAULT_MAX_PROCESSES`), and
- circusd's soft ``RLIMIT_NPROC`` when it is finite: the kernel refuses forks beyond it anyway
  (it counts every process of the user, so the real room can be smaller still).

Why a limit at all: a count is policy that circusd acts on at once; ``incr web nb=1000000000``
once made it allocate per process until it stopped answering.
"""

from __future__ import annotations

import resource  # circus runs on Unix only (as fcntl, pidfds and signals in the core do)

from papa_kernel.records import frozen_record

#: Default of ``[circus] max_processes``: far above what one watcher usually runs, far below
#: what would exhaust circusd's memory or the machine's pids.
DEFAULT_MAX_PROCESSES = 1024
#: The highest ``max_processes`` accepted: Linux's PID_MAX_LIMIT (no machine has more pids).
MAX_PROCESSES_CEILING = 4 * 1024 * 1024


@frozen_record
class ProcessLimit:
    """The limit and where it comes from (named in every refusal)."""

    value: int
    source: str

    def check(self, count: int) -> int:
        """``count`` if a watcher may run that many processes, else ValueError naming the
        limit and its source."""
        if count > self.value:
            raise ValueError(
                f"{count} processes is over the process limit of {self.value} per watcher "
                f"({self.source})"
            )
        return count


def nproc_limit() -> int | None:
    """circusd's soft RLIMIT_NPROC, or None when it is unlimited (or unknown)."""
    if not hasattr(resource, "RLIMIT_NPROC"):  # pragma: no cover
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NPROC)
    return None if soft == resource.RLIM_INFINITY or soft < 0 else soft


def process_limit(max_processes: int = DEFAULT_MAX_PROCESSES) -> ProcessLimit:
    """The process limit for ``[circus] max_processes`` and this process's RLIMIT_NPROC."""
    nproc = nproc_limit()
    if nproc is not None and nproc < max_processes:
        return ProcessLimit(
            nproc, f"circusd's RLIMIT_NPROC, below [circus] max_processes = {max_processes}"
        )
    return ProcessLimit(max_processes, "[circus] max_processes")
