"""The arbiter's part of policy: start order, adoption, quitting (virtual time, FakeHost)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import pytest

from circus.hosts.base import ExitRecord, OutputChunk
from circus.testing import FakeHost, arbiter_on, settle, start_arbiter, virtual_time


def two_watchers(**circus) -> dict:
    return {
        **circus,
        "watchers": [
            {"name": "low", "cmd": "prog", "priority": 1},
            {"name": "high", "cmd": "prog", "priority": 5},
            {"name": "off", "cmd": "prog", "autostart": False},
        ],
    }


@virtual_time
async def test_watchers_start_by_priority_spaced_by_warmup_delay():
    host = FakeHost()
    arbiter = await start_arbiter(arbiter_on(host, two_watchers(warmup_delay=2)))
    assert [(c.at, c.name) for c in host.ops("spawn")] == [
        (0, "circus.high.1"),
        (2, "circus.low.1"),
    ]
    assert arbiter.get_watcher("off").status() == "stopped"


@pytest.mark.parametrize("persistent", [True, False])
@virtual_time
async def test_quit_leaves_kernel_workers_running_and_stops_direct_children(persistent):
    host = FakeHost(persistent=persistent)
    arbiter = await start_arbiter(arbiter_on(host, two_watchers()))
    await arbiter.quit()
    if persistent:  # the kernel keeps them for the next circusd
        assert host.ops("signal") == [] and len(host.running()) == 2
    else:  # they would die with circusd: stopped, the lowest priority first
        assert [c.name for c in host.ops("signal")] == ["circus.low.1", "circus.high.1"]
        assert not host.running()
    assert host.closed


@virtual_time
async def test_quit_with_stop_workers_stops_everything_in_reverse_priority():
    host = FakeHost()
    arbiter = await start_arbiter(arbiter_on(host, two_watchers()))
    await arbiter.quit(stop_workers=True)
    assert [c.name for c in host.ops("signal")] == ["circus.low.1", "circus.high.1"]
    assert not host.running() and host.ops("exit_if_idle")


@pytest.mark.parametrize("clock_skew", [0.0, -1000.0, 1000.0])
@virtual_time
async def test_running_processes_are_adopted_and_keep_their_age_for_max_age(clock_skew):
    """The adopted age is the host's (a kernel lists it on its own clock): a host whose clock
    is off from circusd's (a remote machine's) neither recycles at once nor late. (It was
    circusd's time.time() - started, the host's epoch: skewed by as much.)"""
    host = FakeHost(clock_skew=clock_skew)
    old = host.add_process("circus.w.1", age=6)
    config = {"watchers": [{"name": "w", "cmd": "prog", "max_age": 10, "max_age_variance": 0}]}
    arbiter = await start_arbiter(arbiter_on(host, config))
    watcher = arbiter.get_watcher("w")
    assert watcher.pids() == [old.pid] and host.ops("spawn") == []
    [adopted] = watcher.processes.values()
    assert adopted.age() == pytest.approx(6, abs=0.001)
    await asyncio.sleep(5)
    [recycle] = host.ops("spawn")
    assert recycle.at == pytest.approx(4, abs=0.001)  # 10 - 6: the age was kept, not reset to 0
    assert host.ops("signal")[0].name == "circus.w.1" and not old.running


@virtual_time
async def test_a_kernel_this_circusd_started_is_not_asked_what_it_holds():
    """A kernel circusd has just started holds nothing (the instance lock keeps other circusds
    away from it): the start does not list its processes nor their spawn records (two round
    trips at every fresh start); a kernel found running is asked, and its workers adopted."""
    config = {"watchers": [{"name": "w", "cmd": "prog", "numprocesses": 1}]}
    host = FakeHost()
    arbiter = arbiter_on(host, config)
    arbiter.hosts.started_kernel = True
    await start_arbiter(arbiter)
    assert host.ops("list_processes") == [] and len(host.ops("spawn")) == 1
    found = FakeHost()
    old = found.add_process("circus.w.1", age=10)
    arbiter = await start_arbiter(arbiter_on(found, config))
    assert len(found.ops("list_processes")) == 1 and found.ops("spawn") == []
    assert arbiter.get_watcher("w").pids() == [old.pid]


@virtual_time
async def test_adoption_logs_one_info_line_per_watcher_and_each_process_at_debug(caplog):
    """10,000 adopted workers made 10,000 flushed info lines, a fifth of a restart's time."""
    host = FakeHost()
    adopted = [host.add_process(f"circus.w.{wid}", age=10) for wid in (1, 2, 3)]
    caplog.set_level(logging.DEBUG, logger="circus")
    config = {"watchers": [{"name": "w", "cmd": "prog", "numprocesses": 3}]}
    arbiter = await start_arbiter(arbiter_on(host, config))
    assert sorted(arbiter.get_watcher("w").pids()) == sorted(p.pid for p in adopted)
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert "w: adopted 3 running processes" in info
    assert (
        "w: 3 adopted processes have no spawn record: whether they are outdated is unknown" in info
    )
    assert not [m for m in info if "adopted running process" in m]
    for proc in adopted:
        assert f"w: adopted running process {proc.pid} (wid {proc.name[-1]})" in debug


@virtual_time
async def test_a_process_that_exited_while_circusd_was_away_is_replaced_at_start():
    host = FakeHost()
    host.add_process("circus.w.1", age=60, running=False, exit_code=-signal.SIGKILL)
    arbiter = await start_arbiter(arbiter_on(host, {"watchers": [{"name": "w", "cmd": "prog"}]}))
    await settle()
    assert [(c.at, c.name) for c in host.ops("spawn")] == [(0, "circus.w.1")]
    assert arbiter.get_watcher("w").status() == "active"


class Collect:
    """A stdout stream class keeping what it is given."""

    seen: list[bytes] = []

    def __init__(self, **options):
        pass

    def __call__(self, message):
        Collect.seen.append(message["data"])

    def close(self):
        pass


@virtual_time
async def test_output_delivered_before_the_exit_reaches_the_stream():
    Collect.seen = []
    host = FakeHost()
    stream = {"class": f"{__name__}.Collect"}
    config = {"watchers": [{"name": "w", "cmd": "prog", "stdout_stream": stream}]}
    await start_arbiter(arbiter_on(host, config))
    [proc] = host.running()
    proc.running = False
    now = host.wall()
    host.emit(
        OutputChunk(proc.name, "stdout", now, b"last words\n"),
        ExitRecord(proc.name, now - 0.001, 1),  # host order: the output came first
    )
    await settle()
    assert Collect.seen == [b"last words\n"]


@pytest.mark.parametrize("persistent", [True, False])
@virtual_time
async def test_quit_cancels_the_watchers_background_tasks(persistent):
    """An after_reap hook still running when circusd quits is cancelled and awaited, not left
    pending (issue 9 item 5: one owner for every background task)."""
    seen: list[str] = []

    async def after_reap(watcher, arbiter, hook_name, **kwargs):
        seen.append("started")
        try:
            await asyncio.Event().wait()  # a hook that never returns
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    host = FakeHost(persistent=persistent)
    config = {"watchers": [{"name": "w", "cmd": "prog", "hooks": {"after_reap": after_reap}}]}
    arbiter = await start_arbiter(arbiter_on(host, config))
    watcher = arbiter.get_watcher("w")
    [proc] = host.running()
    host.exit(proc.name, 1)
    await settle()
    assert seen == ["started"] and len(watcher.tasks) >= 1
    await arbiter.quit()
    assert seen == ["started", "cancelled"]
    assert len(watcher.tasks) == 0 and len(arbiter.tasks) == 0


@virtual_time
async def test_a_watcher_removed_while_start_waits_for_warmup_is_not_started():
    # `start` (no name) walks the watchers with warmup_delay between them; an `rm` meanwhile
    # must not leave the removed watcher to be started, its processes owned by no watcher.
    host = FakeHost()
    arbiter = await start_arbiter(arbiter_on(host, two_watchers(warmup_delay=2)))
    await arbiter.stop_watchers()
    start = asyncio.ensure_future(arbiter.start_watchers())
    await asyncio.sleep(1)  # "high" started, "low" waits for the warmup delay
    await arbiter.rm_watcher("low")
    await start
    assert [w.name for w in arbiter.watchers] == ["high", "off"]
    assert sorted(p.name for p in host.running()) == ["circus.high.1"]


@virtual_time
async def test_dstats_measures_cpu_between_calls_without_sleeping_on_the_loop(monkeypatch):
    arbiter = await start_arbiter(arbiter_on(FakeHost(), two_watchers()))
    arbiter.circusd_info()
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # circusd busy between two dstats
        pass
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # psutil's interval sleeps here
    info = arbiter.circusd_info()
    assert slept == [] and info["pid"] == os.getpid() and info["cpu"] > 0
