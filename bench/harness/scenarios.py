"""The measurements, written once against :class:`harness.base.System`.

Timing is ``time.perf_counter()`` in the harness. "Running" means what the OS says: a child of
the workers' parent whose command is ``sleep`` (it has exec'd), read from /proc.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import time
from dataclasses import dataclass, field

from harness import procfs
from harness.base import BenchError, System

START_TIMEOUT = 180.0
POLL = 0.002  # seconds between two looks at /proc while workers start


@dataclass
class StartResult:
    launch_to_running: float  # daemon launched -> all N workers exec'd
    spawn_phase: float  # first worker exec'd -> all N exec'd
    loop: float | None = None  # raw baseline only: its loop timed inside the process


def wait_running(system: System, count: int, started: float, timeout: float) -> StartResult:
    """Poll /proc until ``count`` workers run; times relative to ``started``."""
    tracker = procfs.ExecTracker()
    deadline = started + timeout
    while True:
        parents = system.worker_parents()
        if parents and tracker.poll(parents) >= count:
            now = time.perf_counter()
            assert tracker.first_seen is not None
            return StartResult(now - started, now - tracker.first_seen)
        system.check_alive()
        if time.perf_counter() > deadline:
            raise BenchError(
                f"{system.label}: {len(tracker.running)}/{count} workers running after "
                f"{timeout}s\n{system.log_tail()}"
            )
        time.sleep(POLL)


def measure_start(system: System, count: int) -> StartResult:
    """Launch the system with ``count`` workers and time it until they all run."""
    system.write_config()
    started = time.perf_counter()
    system.launch()
    result = wait_running(system, count, started, START_TIMEOUT)
    loop_seconds = getattr(system, "loop_seconds", None)
    if loop_seconds is not None:
        deadline = time.monotonic() + 10
        while True:
            try:
                result.loop = loop_seconds()
                break
            except BenchError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
    return result


def wait_listed(system: System, count: int, started: float, timeout: float = 120.0) -> float:
    """Seconds from ``started`` until the daemon lists ``count`` running workers."""
    pids = system.wait_listed(count, started + timeout)
    if len(pids) < count:
        raise BenchError(f"{system.label}: lists {len(pids)}/{count} workers\n{system.log_tail()}")
    return time.perf_counter() - started


# -- steady state with N workers ------------------------------------------------------------
def measure_idle(system: System, seconds: float) -> float:
    """CPU used by the daemon processes while nothing happens, in % of one core."""
    pids = system.daemon_pids()
    before = sum(procfs.cpu_seconds(pid) for pid in pids)
    start = time.perf_counter()
    time.sleep(seconds)
    used = sum(procfs.cpu_seconds(pid) for pid in pids) - before
    return 100.0 * used / (time.perf_counter() - start)


def measure_rss(system: System) -> int:
    """Resident memory of the daemon processes, in bytes."""
    return sum(procfs.rss_bytes(pid) for pid in system.daemon_pids())


@dataclass
class MemoryResult:
    """Memory of a system's daemon processes (bytes), see :mod:`harness.procfs`."""

    rss: int  # sum of their RSS (a page two of them share counts twice)
    pss: int  # sum of their PSS (a page shared with any process counts in part)
    unique: int | None  # their pages counted once (None: frame numbers hidden)
    split: dict[str, int] = field(default_factory=dict)  # daemon name -> its RSS


def measure_memory(system: System) -> MemoryResult:
    """RSS, PSS and the pages counted once, of the daemon processes."""
    pids = system.daemon_pids()
    names = [*system.daemon_names, *map(str, pids[len(system.daemon_names):])]
    split = {name: procfs.rss_bytes(pid) for name, pid in zip(names, pids, strict=False)}
    return MemoryResult(sum(split.values()), sum(procfs.pss_bytes(pid) for pid in pids),
                        procfs.unique_bytes(pids), split)  # fmt: skip


def measure_latency(system: System, calls: int, warmup: int = 50) -> list[float]:
    """Round-trip times of the cheap command (seconds), after ``warmup`` untimed calls."""
    for _ in range(warmup):
        system.ping()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        system.ping()
        samples.append(time.perf_counter() - start)
    return samples


@dataclass
class RespawnResult:
    samples: list[float] = field(default_factory=list)
    method: str = ""


def measure_respawn(system: System, kills: int, waiter=None, seed: int = 4) -> RespawnResult:
    """SIGKILL ``kills`` workers one at a time; time each until its replacement has exec'd.

    Victims are workers that were running before the first kill (never a fresh replacement,
    which supervisor would treat as a failed start), spaced by a random 50-150 ms pause.
    """
    waiter = waiter or system.spawn_waiter()
    result = RespawnResult(method=waiter.method)
    known = system.listed_pids()
    if len(known) < kills:
        raise BenchError(f"{system.label}: only {len(known)} workers to kill")
    rng = random.Random(seed)
    victims = rng.sample(sorted(known), kills)
    waiter.prepare()
    try:
        for victim in victims:
            waiter.drain()
            waiter.before_kill(victim)
            start = time.perf_counter()
            os.kill(victim, signal.SIGKILL)
            deadline = start + 30.0
            pid = waiter.wait_new(known, deadline)
            if pid is None:
                raise BenchError(f"{system.label}: no replacement for {victim} within 30 s")
            while procfs.comm(pid) != "sleep":
                if time.perf_counter() > deadline:
                    raise BenchError(f"{system.label}: replacement {pid} never exec'd")
                time.sleep(0.0002)
            result.samples.append(time.perf_counter() - start)
            known.add(pid)
            time.sleep(rng.uniform(0.05, 0.15))
    finally:
        waiter.close()
    return result


@dataclass
class RestartResult:
    stop: float  # stop command sent -> old daemon gone
    running: float  # new daemon launched -> all N workers running (0: they never stopped)
    listed: float  # new daemon launched -> it lists all N workers
    restarted: int  # workers that are not the ones from before the restart


def measure_restart(system: System, count: int, crash: bool = False) -> RestartResult:
    """Restart the daemon as an operator would. Ours leaves the workers in the kernel and the
    new circusd adopts them; the originals stop their workers and start new ones.
    ``crash``: SIGKILL the daemon instead of asking it to quit (meaningful for ours only)."""
    before = system.listed_pids()
    start = time.perf_counter()
    if crash:
        assert system.proc is not None
        system.proc.kill()
    else:
        system.stop_daemon()
    system.close_clients()
    system.wait_daemon_exit()
    stop = time.perf_counter() - start
    survivors = {pid for pid in before if procfs.alive(pid)}
    if system.can_reattach and len(survivors) != len(before):
        raise BenchError(f"{system.label}: {len(before) - len(survivors)} workers died on quit")
    started = time.perf_counter()
    system.launch()
    if system.can_reattach:
        running = 0.0
    else:
        running = wait_running(system, count, started, START_TIMEOUT).launch_to_running
    listed = wait_listed(system, count, started)
    after = system.listed_pids()
    return RestartResult(stop, running, listed, len(after - before))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)
