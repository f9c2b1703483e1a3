"""Flapping detection of the real Watcher, in virtual time on a FakeHost: stopped as flapping
at exact times, retried after retry_in, giving up after max_retry retries, visible in
status/stats and events, cleared by start and stop."""

from __future__ import annotations

import asyncio
import itertools
import signal

from policykit import spawn_times, started

from circus.control.commands.stats import Stats
from circus.control.commands.status import Status
from circus.testing import FakeHost, virtual_time

FLAPPING = {"use": "circus.plugins.flapping.Flapping", "name": "flapping"}


def with_plugin(**options) -> dict:
    return {"plugins": [{**FLAPPING, **options}]}


def crash_after(host: FakeHost, seconds: float, code: int = 1, times: int | None = None) -> None:
    """Processes exit with ``code`` ``seconds`` after their start (the first ``times`` ones;
    the later ones keep running)."""
    count = itertools.count()

    def on_spawn(proc):
        if times is None or next(count) < times:
            host.exit(proc.name, code, after=seconds)

    host.on_spawn = on_spawn


def events(arbiter, prefix="watcher.w."):
    return [
        (round(at, 9), topic.removeprefix(prefix), p)
        for at, topic, p in arbiter.publisher.events
        if topic.startswith(prefix)
    ]


_PAUSE = ((1.1, "flapping"), (1.1, "stop"), (8.1, "start"))  # after a round's first spawn


@virtual_time
async def test_a_crash_loop_is_stopped_as_flapping_retried_then_it_gives_up(caplog):
    """The manual's defaults: 2 exits within 1 s; retry after 7 s, 5 times; then stopped for
    good. Each round: spawn, crash 0.5 s later, back-off 0.1 s, spawn, crash: flapping."""
    host = FakeHost()
    crash_after(host, 0.5)
    _host, arbiter, watcher = await started(host, config=with_plugin())
    await asyncio.sleep(1.2)
    assert spawn_times(host) == [0, 0.6]
    assert watcher.status() == "stopped"
    detail = watcher.flapping_detail()
    [(at, found)] = [(at, p) for at, t, p in events(arbiter) if t == "flapping"]
    assert at == 1.1 and found == detail
    assert detail["reason"] == "2 exits within 0.6 s (flapping.window = 1 s), retry 1 of 5 in 7 s"
    assert detail["retry_at"] == detail["time"] + 7

    await asyncio.sleep(60)
    rounds = [0, 8.1, 16.2, 24.3, 32.4, 40.5]  # detection at round + 1.1, retry 7 s later
    assert spawn_times(host) == [round(r + d, 9) for r in rounds for d in (0, 0.6)]
    told = [(at, topic) for at, topic, _p in events(arbiter) if topic not in ("spawn", "reap")]
    assert told == [
        (0, "start"),
        *[(round(r + d, 9), t) for r in rounds[:5] for d, t in _PAUSE],
        (41.6, "gave_up"),
        (41.6, "stop"),
    ]
    retries = [p["retry"] for _at, t, p in events(arbiter) if t == "flapping"]
    assert retries == [1, 2, 3, 4, 5]
    reason = "flapping 6 times in a row (flapping.max_retry = 5), last: exit code 1"
    assert watcher.status() == "stopped" and watcher.flapping_detail() is None
    assert watcher.gave_up_detail()["rule"] == "flapping"
    assert watcher.gave_up_detail()["reason"] == reason
    said = [r.getMessage() for r in caplog.records if "flapping" in r.getMessage()]
    assert said[0] == "w: flapping: " + detail["reason"]
    assert said[-1] == f"w: giving up: {reason}"


@virtual_time
async def test_status_and_stats_say_flapping_until_the_retry():
    host = FakeHost()
    crash_after(host, 0.5, times=2)
    _host, arbiter, watcher = await started(host, config=with_plugin())
    await asyncio.sleep(1.2)
    detail = watcher.flapping_detail()
    assert await Status().execute(arbiter, {"name": "w"}) == {
        "status": "stopped",
        "flapping": detail,
    }
    assert await Status().execute(arbiter, {}) == {
        "statuses": {"w": "stopped"},
        "flapping": {"w": detail},
    }
    reply = await Stats().execute(arbiter, {"name": "w", "extended": False})
    assert reply == {"name": "w", "info": {}, "flapping": detail}
    assert (await Stats().execute(arbiter, {"extended": False}))["flapping"] == {"w": detail}
    note = f"(flapping: {detail['reason']})"
    assert Status().console_msg({"status": "stopped", "flapping": detail}) == f"stopped {note}"
    assert Status().console_msg({"statuses": {"w": "stopped"}, "flapping": {"w": detail}}) == (
        f"w: stopped {note}"
    )
    assert Stats().console_msg({"status": "ok", "name": "w", "info": {}, "flapping": detail}) == (
        f"w: {note}"
    )
    await asyncio.sleep(7)  # the retry at 8.1 starts it; this process keeps running
    assert spawn_times(host) == [0, 0.6, 8.1] and watcher.status() == "active"
    assert await Status().execute(arbiter, {"name": "w"}) == {"status": "active"}


@virtual_time
async def test_a_start_clears_it_and_cancels_the_retry():
    host = FakeHost()
    crash_after(host, 0.5, times=2)
    _host, arbiter, watcher = await started(host, config=with_plugin())
    await asyncio.sleep(3)
    assert watcher.flapping_detail() is not None
    await watcher.start()
    assert watcher.status() == "active" and watcher.flapping_detail() is None
    assert watcher.restart_state.flapping_retries == 0  # a new row of retries
    await asyncio.sleep(20)
    assert spawn_times(host) == [0, 0.6, 3]  # nothing more at 8.1
    assert events(arbiter)[-2:] == [
        (3, "spawn", events(arbiter)[-2][2]),
        (3, "start", events(arbiter)[-1][2]),
    ]


@virtual_time
async def test_a_stop_during_the_pause_cancels_the_retry():
    host = FakeHost()
    crash_after(host, 0.5)
    _host, arbiter, watcher = await started(host, config=with_plugin())
    await asyncio.sleep(3)
    await watcher.stop()
    assert watcher.status() == "stopped" and watcher.flapping_detail() is None
    await asyncio.sleep(20)
    assert spawn_times(host) == [0, 0.6]
    assert await Status().execute(arbiter, {"name": "w"}) == {"status": "stopped"}


@virtual_time
async def test_retrying_forever_and_the_watchers_own_settings():
    host = FakeHost()
    crash_after(host, 0.5)
    options = {"flapping.attempts": 3, "flapping.window": 5, "flapping.retry_in": 2}
    _host, arbiter, watcher = await started(
        host, config=with_plugin(max_retry="-1", retry_in="30"), **options
    )
    await asyncio.sleep(30)
    # each round: 0, 0.6 (0.1 back-off), 1.3 (0.2): third exit at +1.8, retry 2 s later
    rounds = [0, 3.8, 7.6, 11.4, 15.2, 19, 22.8, 26.6]
    assert spawn_times(host) == [round(r + d, 9) for r in rounds for d in (0, 0.6, 1.3)]
    found = [p for _at, t, p in events(arbiter) if t == "flapping"]
    assert [f["retry"] for f in found] == [1, 2, 3, 4, 5, 6, 7, 8]  # the 8th at 28.4
    assert found[-1]["reason"] == "3 exits within 1.3 s (flapping.window = 5 s), retry 8 in 2 s"
    assert watcher.gave_up_detail() is None


@virtual_time
async def test_a_worker_dying_every_two_seconds_flaps_only_with_a_wide_window():
    for window, flapped_at in ((1.9, None), (2, 4)):
        host = FakeHost()
        crash_after(host, 2)  # up 2 s: not a failed start, respawned at once
        began = asyncio.get_running_loop().time()
        _host, arbiter, watcher = await started(host, config=with_plugin(window=str(window)))
        await asyncio.sleep(7)
        found = [round(at - began, 9) for at, t, _p in events(arbiter) if t == "flapping"]
        assert found == ([] if flapped_at is None else [flapped_at]), window
        await watcher.stop()


@virtual_time
async def test_stops_the_watcher_asks_for_are_not_deaths():
    """decr, reload and max_age stop processes within a second of each other: never flapping."""
    host = FakeHost()
    _host, arbiter, watcher = await started(
        host, config=with_plugin(), numprocesses=4, max_age=10, max_age_variance=0
    )
    await asyncio.sleep(2)
    await watcher.decr(2)
    await watcher.reload()
    await watcher.incr(2)
    await asyncio.sleep(21)  # max_age recycles all four at 12, then at 22
    assert "flapping" not in [t for _at, t, _p in events(arbiter)]
    assert watcher.status() == "active" and len(watcher.pids()) == 4
    assert watcher.restart_state.exits == ()  # none counted
    stopped = [round(c.at, 9) for c in host.ops("signal")]
    # decr at 2; reload: the old ones stopped once the new ones are up (1 s), so the incr is at
    # 3; max_age recycles the reload's two at 12 and 22, the incr's at 13 and 23
    assert stopped == [2, 2] + [3] * 2 + [12, 12, 13, 13, 22, 22, 23, 23]


@virtual_time
async def test_killed_from_outside_twice_within_a_second_is_flapping():
    host = FakeHost()
    _host, _arbiter, watcher = await started(host, config=with_plugin())
    await asyncio.sleep(5)
    host.exit(host.running()[0].name, -signal.SIGKILL)
    await asyncio.sleep(0.5)
    host.exit(host.running()[0].name, -signal.SIGKILL)
    await asyncio.sleep(0.001)
    assert watcher.status() == "stopped"
    assert watcher.flapping_detail()["last_exit"] == -signal.SIGKILL


@virtual_time
async def test_without_the_plugin_nothing_changes():
    host = FakeHost()
    crash_after(host, 0.5)
    _host, arbiter, watcher = await started(host, **{"flapping.max_retry": 1})
    await asyncio.sleep(30)
    assert spawn_times(host) == [0, 0.6, 1.3, 2.2, 3.5]  # max_retry = 5 failed starts
    assert watcher.gave_up_detail()["rule"] == "max_retry"
    assert "flapping" not in [t for _at, t, _p in events(arbiter)]


@virtual_time
async def test_reloadconfig_turns_it_on_and_changes_it_for_running_watchers(tmp_path, runtime_dir):
    from circus.config import load_config
    from circus.testing import arbiter_on, start_arbiter

    path = tmp_path / "circus.ini"
    path.write_text("[watcher:w]\ncmd = prog\nmax_retry = -1\nretry_in = 0.5\n")
    host = FakeHost()
    crash_after(host, 0.5)
    arbiter = await start_arbiter(arbiter_on(host, load_config(path), config_path=str(path)))
    await asyncio.sleep(5)
    assert "flapping" not in [t for _at, t, _p in events(arbiter)]  # no plugin section: off
    path.write_text(
        "[watcher:w]\ncmd = prog\nmax_retry = -1\nretry_in = 0.5\n"
        f"[plugin:flap]\nuse = {FLAPPING['use']}\nattempts = 3\nwindow = 2\n"
    )
    await arbiter.reload_config()
    await asyncio.sleep(3.5)
    [found] = [p for _at, t, p in events(arbiter) if t == "flapping"]
    # up 0.5 s, back-off at its 0.5 s cap: the next three exits are 2 s apart, first to last
    assert (found["exits"], found["within"], found["window"]) == (3, 2.0, 2.0)
    assert arbiter.get_watcher("w").status() == "stopped"


@virtual_time
async def test_processes_vanished_with_a_lost_kernel_are_not_flapping():
    """A lost kernel takes every process with it at once (exit code unknown): respawned, not
    stopped as flapping for retry_in seconds."""
    host = FakeHost()
    _host, arbiter, watcher = await started(host, config=with_plugin(), numprocesses=3)
    await asyncio.sleep(5)
    for proc in host.running():  # as registry.vanished reports them: exit code unknown
        host.exit(proc.name, None)
    await asyncio.sleep(0.001)
    assert watcher.status() == "active" and len(watcher.pids()) == 3
    assert spawn_times(host) == [0, 0, 0, 5, 5, 5]
    assert "flapping" not in [t for _at, t, _p in events(arbiter)]
