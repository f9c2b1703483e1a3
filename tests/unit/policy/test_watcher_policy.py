"""max_age, graceful stop, hooks, singleton, incr/decr and on_demand, with exact times
(virtual time, FakeHost)."""

from __future__ import annotations

import asyncio
import random
import signal

import pytest
from policykit import signals_sent, spawn_times, started

from circus.config.schema import HOOK_NAMES
from circus.testing import FakeHost, settle, virtual_time


@virtual_time
async def test_max_age_recycles_with_the_variance_drawn_per_process(monkeypatch):
    draws = iter([3.0, 1.5, 2.0])
    asked = []

    def uniform(low, high):
        asked.append((low, high))
        return next(draws)

    monkeypatch.setattr(random, "uniform", uniform)
    host, _arbiter, watcher = await started(max_age=10, max_age_variance=4)
    [old] = host.running()
    await asyncio.sleep(20)
    # at 13 (10 + 3): a replacement first (the smallest free wid), then the old one stopped
    assert [(c.at, c.op, c.name) for c in host.ops("spawn", "signal")] == [
        (0, "spawn", "circus.w.1"),
        (13, "spawn", "circus.w.2"),
        (13, "signal", "circus.w.1"),
    ]
    assert asked == [(0, 4), (0, 4)]
    assert not old.running and old.exit_code == -signal.SIGTERM
    await asyncio.sleep(5)
    assert spawn_times(host) == [0, 13, 24.5]  # the second one lived 10 + 1.5
    assert [p.name for p in host.running()] == ["circus.w.1"]
    assert len(watcher.pids()) == 1 and len(asked) == 3


@virtual_time
async def test_graceful_stop_then_sigkill_after_graceful_timeout():
    host = FakeHost()
    host.ignore_signals = {signal.SIGTERM}
    _host, arbiter, watcher = await started(host, graceful_timeout=3, numprocesses=2)
    await asyncio.sleep(1)
    stop = asyncio.get_running_loop().create_task(watcher.stop())
    await asyncio.sleep(2.5)
    assert watcher.status() == "stopping"
    await stop
    assert asyncio.get_running_loop().time() == 4
    assert signals_sent(host) == [
        (1, "circus.w.1", "SIGTERM"),
        (1, "circus.w.2", "SIGTERM"),
        (4, "circus.w.1", "SIGKILL"),
        (4, "circus.w.2", "SIGKILL"),
    ]
    assert watcher.status() == "stopped" and not host.running()
    assert len(host.ops("spawn")) == 2  # killed while stopping: not respawned
    assert arbiter.publisher.topics("watcher.w.")[-1] == "watcher.w.stop"


@virtual_time
async def test_a_stop_signal_obeyed_ends_the_stop_at_once():
    host, _arbiter, watcher = await started(stop_signal="INT", graceful_timeout=30)
    await asyncio.sleep(1)
    await watcher.stop()
    assert asyncio.get_running_loop().time() == 1
    assert signals_sent(host) == [(1, "circus.w.1", "SIGINT")]


def recording_hooks(log: list[str], refuse: str | None = None) -> dict:
    def make(name):
        def hook(watcher, arbiter, hook_name, **kwargs):
            extra = f" {signal.Signals(kwargs['signum']).name}" if "signum" in kwargs else ""
            log.append(f"{hook_name}{extra}")
            return hook_name != refuse

        return hook

    return {name: make(name) for name in HOOK_NAMES}


@virtual_time
async def test_hooks_run_in_order_around_start_spawn_stop_and_reap():
    log: list[str] = []
    host, _arbiter, watcher = await started(hooks=recording_hooks(log))
    assert log == ["before_start", "before_spawn", "after_spawn", "after_start"]
    log.clear()
    await watcher.stop()
    await settle()
    assert log == [
        "before_stop",
        "before_signal SIGTERM",
        "after_signal SIGTERM",
        "before_reap",
        "after_reap",
        "after_stop",
    ]
    assert len(host.ops("spawn")) == 1


@virtual_time
async def test_a_before_start_hook_saying_no_starts_nothing():
    log: list[str] = []
    host, _arbiter, watcher = await started(hooks=recording_hooks(log, refuse="before_start"))
    assert log == ["before_start"]
    assert watcher.status() == "stopped" and host.ops("spawn") == []


@virtual_time
async def test_a_start_refused_by_before_start_says_why_in_status():
    # `circusctl start web` said ok and `status` a bare "stopped": the reason was only in
    # circusd's log. The refusal is now the watcher's gave_up detail, until the next start.
    from circus.control.commands.status import Status

    log: list[str] = []
    _host, arbiter, watcher = await started(hooks=recording_hooks(log, refuse="before_start"))
    detail = watcher.gave_up_detail()
    assert detail is not None and detail["rule"] == "before_start", detail
    hook = "recording_hooks.<locals>.make.<locals>.hook"  # a callable: its qualified name
    assert detail["reason"] == f"the before_start hook ({hook}) refused the start", detail
    reply = await Status().execute(arbiter, {"name": "w"})
    assert Status().console_msg(reply) == f"stopped (gave up: {detail['reason']})"
    await watcher.start()  # refused again: the same, with a new time
    assert watcher.gave_up_detail()["reason"] == detail["reason"]


@virtual_time
async def test_an_after_spawn_hook_saying_no_stops_the_process_and_the_watcher():
    log: list[str] = []
    host, _arbiter, watcher = await started(hooks=recording_hooks(log, refuse="after_spawn"))
    await asyncio.sleep(1)
    assert watcher.status() == "stopped" and not host.running()
    assert len(host.ops("spawn")) == 1
    assert log[:4] == ["before_start", "before_spawn", "after_spawn", "before_signal SIGTERM"]


@virtual_time
async def test_singleton_keeps_one_process_through_incr_and_respawn():
    host, _arbiter, watcher = await started(singleton=True)
    assert await watcher.incr(3) == 1
    assert len(watcher.pids()) == 1
    await asyncio.sleep(5)
    host.exit(host.running()[0].name, 0)
    await asyncio.sleep(1)
    assert spawn_times(host) == [0, 5] and len(watcher.pids()) == 1


@virtual_time
async def test_incr_fills_the_smallest_free_wids_and_decr_stops_the_oldest():
    host, _arbiter, watcher = await started(numprocesses=2)
    await asyncio.sleep(1)
    assert await watcher.incr(2) == 4
    assert [c.name for c in host.ops("spawn")] == [f"circus.w.{n}" for n in (1, 2, 3, 4)]
    assert spawn_times(host) == [0, 0, 1, 1]
    await asyncio.sleep(1)
    assert await watcher.decr(3) == 1
    assert [(at, name) for at, name, _sig in signals_sent(host)] == [
        (2, "circus.w.1"),
        (2, "circus.w.2"),
        (2, "circus.w.3"),
    ]
    assert [p.name for p in host.running()] == ["circus.w.4"]
    assert await watcher.decr(5) == 0 and watcher.pids() == []
    assert await watcher.incr() == 1
    assert host.ops("spawn")[-1].name == "circus.w.1"


@virtual_time
async def test_on_demand_spawns_at_the_first_connection_and_rearms_when_all_exit():
    host = FakeHost()
    config = {"sockets": [{"name": "web", "host": "127.0.0.1", "port": 8080}]}
    _host, _arbiter, watcher = await started(
        host,
        config,
        cmd="prog --fd $(circus.sockets.web)",
        use_sockets=True,
        on_demand=True,
        numprocesses=2,
    )
    await settle()
    assert watcher.status() == "active" and host.ops("spawn") == []
    assert [c.name for c in host.ops("wait_readable")] == ["circus.web"]
    await asyncio.sleep(3)
    host.connect("circus.web")
    await settle()
    assert spawn_times(host) == [3, 3]
    await asyncio.sleep(2)
    for proc in host.running():
        host.exit(proc.name, 0)
    await asyncio.sleep(10)
    assert len(host.ops("spawn")) == 2  # no respawn until the next connection
    assert [c.at for c in host.ops("wait_readable")] == [0, 5]
    host.connect("circus.web")
    await settle()
    assert spawn_times(host) == [3, 3, 15, 15]


@pytest.mark.parametrize("respawn", [True, False])
@virtual_time
async def test_respawn_false_stops_the_watcher_when_the_last_process_ends(respawn):
    host, arbiter, watcher = await started(respawn=respawn, numprocesses=2)
    await asyncio.sleep(5)
    for proc in host.running():
        host.exit(proc.name, 0)
    await asyncio.sleep(1)
    if respawn:
        assert watcher.status() == "active" and spawn_times(host) == [0, 0, 5, 5]
    else:
        assert watcher.status() == "stopped" and spawn_times(host) == [0, 0]
        assert arbiter.publisher.topics("watcher.w.")[-1] == "watcher.w.stop"


@virtual_time
async def test_graceful_reload_starts_the_new_processes_before_stopping_the_old():
    host, _arbiter, watcher = await started(numprocesses=2)
    await asyncio.sleep(1)
    result = await watcher.reload()
    assert [(c.op, c.name) for c in host.ops("spawn", "signal")][2:] == [
        ("spawn", "circus.w.3"),
        ("spawn", "circus.w.4"),
        ("signal", "circus.w.1"),
        ("signal", "circus.w.2"),
    ]
    assert sorted(result["started"]) == sorted(watcher.pids())


@virtual_time
async def test_a_reload_whose_new_processes_cannot_be_spawned_keeps_the_old_ones(caplog):
    # a typo in cmd (reloadconfig, `set web cmd ...`, then reload): the graceful reload stopped
    # the running workers although no new one could be spawned, and the service was down
    host, _arbiter, watcher = await started(numprocesses=2)
    await asyncio.sleep(1)
    old = watcher.pids()
    host.fail_spawns = 2
    result = await watcher.reload()
    assert result == {"stopped": [], "started": [], "kept": old}
    assert host.ops("signal") == [] and watcher.pids() == old
    await asyncio.sleep(30)  # no retry, no give-up stops them later
    assert watcher.status() == "active" and watcher.pids() == old
    assert "no new process could be spawned: the 2 running processes are kept" in caplog.text


@virtual_time
async def test_a_reload_whose_new_processes_die_at_once_keeps_the_old_ones(caplog):
    # `cmd = python3 nosuchfile.py`: spawned, then exit 2 at once; the old ones were stopped
    host, _arbiter, watcher = await started(numprocesses=2)
    await asyncio.sleep(1)
    old = watcher.pids()

    def crash_new_ones(proc):
        if proc.name not in ("circus.w.1", "circus.w.2"):
            host.exit(proc.pid, 2, after=0.2)

    host.on_spawn = crash_new_ones
    result = await watcher.reload()
    assert result == {"stopped": [], "started": [], "kept": old}
    assert host.ops("signal") == [] and watcher.pids() == old
    assert "the new processes exited within 1 s of their start" in caplog.text


@virtual_time
async def test_a_sequential_reload_stops_at_the_first_process_that_cannot_be_spawned(caplog):
    host, _arbiter, watcher = await started(numprocesses=3)
    await asyncio.sleep(1)
    first, *rest = watcher.pids()
    host.fail_spawns = 10
    result = await watcher.reload(sequential=True)
    assert result == {"stopped": [first], "started": [], "kept": rest}
    assert set(rest) <= set(watcher.pids())  # the others keep serving
    assert "reload: the new process could not be spawned: the 2 others are kept" in caplog.text


@virtual_time
async def test_sequential_reload_replaces_one_process_at_a_time_with_warmup_delay():
    host, _arbiter, watcher = await started(numprocesses=2, warmup_delay=3)
    assert spawn_times(host) == [0, 3]
    await watcher.reload(sequential=True)
    assert [(c.at, c.op, c.name) for c in host.ops("spawn", "signal")][2:] == [
        (3, "signal", "circus.w.1"),
        (3, "spawn", "circus.w.1"),
        (6, "signal", "circus.w.2"),
        (6, "spawn", "circus.w.2"),
    ]
    assert len(watcher.pids()) == 2
