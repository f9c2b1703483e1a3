"""Respawn, back-off and giving up, with exact delays (virtual time, FakeHost)."""

from __future__ import annotations

import asyncio
import signal

import pytest
from policykit import gaps, spawn_times, started

from circus.control.commands.stats import Stats
from circus.control.commands.status import Status
from circus.testing import FakeHost, virtual_time


def crash_after(host: FakeHost, seconds: float, code: int = 1) -> None:
    """Every process the host spawns exits with ``code`` ``seconds`` after its start."""
    host.on_spawn = lambda proc: host.exit(proc.name, code, after=seconds)


@virtual_time
async def test_a_process_that_ran_long_enough_is_respawned_at_once():
    host, _arbiter, watcher = await started(numprocesses=2)
    [first, second] = host.running()
    await asyncio.sleep(5)
    host.exit(first.name, 0)
    await asyncio.sleep(0.001)
    assert spawn_times(host) == [0, 0, 5]
    assert [c.name for c in host.ops("spawn")] == ["circus.w.1", "circus.w.2", "circus.w.1"]
    assert watcher.status() == "active" and len(watcher.pids()) == 2
    assert second.pid in watcher.pids() and first.pid not in watcher.pids()


@virtual_time
async def test_failed_starts_back_off_doubling_up_to_retry_in():
    host = FakeHost()
    crash_after(host, 0.5)
    _host, _arbiter, watcher = await started(host, max_retry=-1, retry_in=1)
    while len(host.ops("spawn")) < 8:
        await asyncio.sleep(0.05)
    exits_to_spawns = [round(s - 0.5, 9) for s in gaps(spawn_times(host))]
    assert exits_to_spawns == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    assert watcher.status() == "active"
    await watcher.stop()


@virtual_time
async def test_spawn_errors_back_off_too_then_the_watcher_runs():
    host = FakeHost()
    host.fail_spawns = 3
    _host, _arbiter, watcher = await started(host, max_retry=5)
    await asyncio.sleep(10)
    assert spawn_times(host) == [0, 0.1, 0.3, 0.7]
    assert watcher.status() == "active" and len(watcher.pids()) == 1


@virtual_time
async def test_an_exit_within_a_second_is_a_failed_start_even_with_status_0():
    host, _arbiter, _watcher = await started()
    host.exit(host.running()[0].name, 0, after=0.999)
    await asyncio.sleep(2)
    assert spawn_times(host) == [0, round(0.999 + 0.1, 9)]


@pytest.mark.parametrize("signum", ["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP"])
@virtual_time
async def test_death_by_a_signal_someone_sent_is_not_a_failed_start(signum):
    host, _arbiter, watcher = await started(max_retry=1)
    for _ in range(4):  # more than max_retry: never gives up, never backs off
        due = asyncio.get_running_loop().time() + 0.2
        host.exit(host.running()[0].name, -getattr(signal, signum), after=0.2)
        await asyncio.sleep(0.5)
        assert spawn_times(host)[-1] == round(due, 9)
    assert watcher.status() == "active"


@virtual_time
async def test_death_by_another_signal_within_a_second_is_a_failed_start():
    host, _arbiter, _watcher = await started()
    host.exit(host.running()[0].name, -signal.SIGSEGV, after=0.5)
    await asyncio.sleep(1)
    assert spawn_times(host) == [0, 0.6]


@virtual_time
async def test_a_process_that_stays_up_resets_the_back_off():
    host = FakeHost()
    crash_after(host, 0.5)
    _host, _arbiter, _watcher = await started(host, max_retry=-1)
    await asyncio.sleep(1.4)  # failed starts at 0 and 0.6; the one of 1.3 ends at 1.8
    host.on_spawn = None
    await asyncio.sleep(12.2 - 1.4)  # 2.2 (after 0.4) stays up
    crash_after(host, 0.5)
    host.exit(host.running()[0].name, 1)  # after 10 s up: respawned at once, crashes
    await asyncio.sleep(1)
    assert spawn_times(host) == [0, 0.6, 1.3, 2.2, 12.2, 12.8]  # back-off from 0.1 again


@virtual_time
async def test_gives_up_after_max_retry_failed_starts_in_a_row():
    host = FakeHost()
    crash_after(host, 0.5)
    _host, arbiter, watcher = await started(host, max_retry=3)
    await asyncio.sleep(30)
    assert spawn_times(host) == [0, 0.6, 1.3]  # the third failed start (at 1.8) is the last
    assert watcher.status() == "stopped"
    assert arbiter.publisher.topics("watcher.w.")[-1] == "watcher.w.stop"


@virtual_time
async def test_max_retry_0_gives_up_at_the_first_failed_start():
    host = FakeHost()
    host.fail_spawns = 1
    _host, _arbiter, watcher = await started(host, max_retry=0)
    await asyncio.sleep(30)
    assert spawn_times(host) == [0]
    assert watcher.status() == "stopped"


@virtual_time
async def test_retry_in_0_retries_at_once():
    host = FakeHost()
    host.fail_spawns = 3
    _host, _arbiter, watcher = await started(host, max_retry=5, retry_in=0)
    await asyncio.sleep(10)
    assert spawn_times(host) == [0, 0, 0, 0]
    assert watcher.status() == "active"


@virtual_time
async def test_giving_up_is_visible_as_such(caplog):
    host = FakeHost()
    crash_after(host, 0.5, code=3)
    _host, arbiter, watcher = await started(host, max_retry=2)
    await asyncio.sleep(30)
    assert spawn_times(host) == [0, 0.6]
    assert watcher.status() == "stopped"  # the wire status the original clients know
    detail = {
        "rule": "max_retry",
        "failures": 2,
        "limit": 2,
        "last_exit": 3,
        "error": None,
        "time": detail_time(arbiter),
        "reason": "2 failed starts in a row (max_retry = 2), last: exit code 3",
    }
    assert watcher.gave_up_detail() == detail
    events = [(round(at, 9), topic, p) for at, topic, p in arbiter.publisher.events]
    gave_up = [e for e in events if e[1] == "watcher.w.gave_up"]
    assert gave_up == [(1.1, "watcher.w.gave_up", detail)]  # once, at the second failed start
    assert [t for _at, t, _p in events if t.startswith("watcher.w.")][-2:] == [
        "watcher.w.gave_up",
        "watcher.w.stop",
    ]
    said = [r.getMessage() for r in caplog.records if "giving up" in r.getMessage()]
    assert said == ["w: giving up: 2 failed starts in a row (max_retry = 2), last: exit code 3"]


def detail_time(arbiter) -> float:
    [payload] = [p for _at, t, p in arbiter.publisher.events if t.endswith(".gave_up")]
    return payload["time"]


@virtual_time
async def test_status_and_stats_replies_carry_the_reason_until_a_start():
    host = FakeHost()
    host.fail_spawns = 1
    _host, arbiter, watcher = await started(host, max_retry=1)
    await asyncio.sleep(1)
    detail = watcher.gave_up_detail()
    assert detail["error"] == "cannot spawn circus.w.1: fake failure"
    assert await Status().execute(arbiter, {"name": "w"}) == {
        "status": "stopped",
        "gave_up": detail,
    }
    assert await Status().execute(arbiter, {}) == {
        "statuses": {"w": "stopped"},
        "gave_up": {"w": detail},
    }
    reply = await Stats().execute(arbiter, {"name": "w", "extended": False})
    assert reply == {"name": "w", "info": {}, "gave_up": detail}
    reply = await Stats().execute(arbiter, {"extended": False})
    assert reply == {"infos": {"w": {}}, "gave_up": {"w": detail}}
    reason = f"1 failed start (max_retry = 1), last: spawn error: {detail['error']}"
    assert Status().console_msg({"status": "stopped", "gave_up": detail}) == (
        f"stopped (gave up: {reason})"
    )
    assert Stats().console_msg({"status": "ok", "name": "w", "info": {}, "gave_up": detail}) == (
        f"w: (gave up: {reason})"
    )
    await watcher.start()  # the start clears it: a new row of attempts
    assert watcher.gave_up_detail() is None and watcher.status() == "active"
    assert await Status().execute(arbiter, {"name": "w"}) == {"status": "active"}
    assert "gave_up" not in await Stats().execute(arbiter, {"extended": False})


@virtual_time
async def test_a_stop_by_command_has_no_reason():
    host = FakeHost()
    crash_after(host, 0.5)
    _host, arbiter, watcher = await started(host, max_retry=5)
    await asyncio.sleep(1)  # one failed start counted
    await watcher.stop()
    assert watcher.status() == "stopped" and watcher.gave_up_detail() is None
    assert await Status().execute(arbiter, {"name": "w"}) == {"status": "stopped"}
    assert "watcher.w.gave_up" not in arbiter.publisher.topics()


@virtual_time
async def test_after_a_start_the_watcher_has_max_retry_attempts_again():
    host = FakeHost()
    crash_after(host, 0.5)
    _host, arbiter, watcher = await started(host, max_retry=2)
    await asyncio.sleep(10)
    await watcher.start()
    await asyncio.sleep(10)
    assert spawn_times(host) == [0, 0.6, 10, 10.6]
    assert arbiter.publisher.topics().count("watcher.w.gave_up") == 2


@virtual_time
async def test_a_broken_deploy_of_10_processes_is_retried_max_retry_rounds():
    """One failure per retry round: 10 processes crashing together count once, so the watcher
    retries all of them 5 times (as one process would be) before it gives up."""
    host = FakeHost()
    crash_after(host, 0.5)
    _host, _arbiter, watcher = await started(host, numprocesses=10, max_retry=5)
    await asyncio.sleep(30)
    rounds = [0, 0.6, 1.3, 2.2, 3.5]  # each 0.5 s up, then 0.1, 0.2, 0.4, 0.8 back-off
    assert spawn_times(host) == [at for at in rounds for _ in range(10)]
    assert watcher.gave_up_detail()["failures"] == 5 and watcher.status() == "stopped"


@virtual_time
async def test_processes_of_one_round_crashing_at_different_times_count_once():
    host = FakeHost()
    crash_in = iter([0.5, 0.55, 0.65] * 2)  # per spawn, in spawn order: two rounds of three
    host.on_spawn = lambda proc: host.exit(proc.name, 1, after=next(crash_in, 100))
    _host, _arbiter, watcher = await started(host, numprocesses=3, max_retry=3)
    await asyncio.sleep(5)
    # 0.5: round 0 failed (1), back-off 0.1; w.2 died at 0.55, so 0.6 respawns w.1 and w.2;
    # w.3 (round 0, 0.65) is respawned at once, uncounted. 1.1: round 1 failed (2), back-off 0.2.
    assert spawn_times(host) == [0, 0, 0, 0.6, 0.6, 0.65, 1.3, 1.3, 1.3]
    assert watcher.restart_state.failures == 2 and watcher.status() == "active"


@virtual_time
async def test_spawn_errors_of_one_batch_count_once():
    host = FakeHost()
    host.fail_spawns = 3
    _host, _arbiter, watcher = await started(host, numprocesses=3, max_retry=2)
    await asyncio.sleep(5)
    assert spawn_times(host) == [0, 0, 0, 0.1, 0.1, 0.1]
    assert watcher.status() == "active" and len(watcher.pids()) == 3


DAY = 86400.0


async def until(at: float) -> None:
    await asyncio.sleep(at - asyncio.get_running_loop().time())


def crash_next_spawn(host: FakeHost) -> None:
    """The next process the host spawns exits with 1 0.5 s after its start (once)."""

    def crash(proc) -> None:
        host.on_spawn = None
        host.exit(proc.pid, 1, after=0.5)

    host.on_spawn = crash


@virtual_time
async def test_isolated_failed_starts_weeks_apart_do_not_give_up():
    """Each time, a process killed by the OOM killer is respawned, that respawn crashes at
    once, and its retry runs for days: never two failed starts in a row."""
    host, arbiter, watcher = await started(numprocesses=4, max_retry=3)
    for day, wid in [(1, 1), (3, 2), (8, 1), (10, 1), (15, 3)]:
        # day 8: w.1 is the retry of day 1 (the retry of day 3 still runs); day 10: w.1 is
        # the only retry of day 8, killed after 2 days up (its start succeeded all the same)
        await until(day * DAY)
        crash_next_spawn(host)
        host.exit(f"circus.w.{wid}", -signal.SIGKILL)
        await asyncio.sleep(1)
        # respawned at once; failed at +0.5, the first in a row: retried after 0.1 s
        assert spawn_times(host)[-2:] == pytest.approx([day * DAY, day * DAY + 0.6], abs=1e-6)
    assert len(host.ops("spawn")) == 4 + 5 * 2
    assert watcher.status() == "active" and len(watcher.pids()) == 4
    assert watcher.restart_state.failures == 1
    assert "watcher.w.gave_up" not in arbiter.publisher.topics()


@virtual_time
async def test_a_crash_loop_beside_processes_up_for_a_week_still_gives_up():
    host, arbiter, watcher = await started(numprocesses=4, max_retry=3)
    await until(7 * DAY)
    crash_after(host, 0.5)
    host.exit("circus.w.1", -signal.SIGKILL)  # its respawns all crash; w.2-4 run on
    await asyncio.sleep(30)
    week = 7 * DAY
    expected = [0, 0, 0, 0, week, week + 0.6, week + 1.3]  # as with one process: 3 in a row
    assert spawn_times(host) == pytest.approx(expected, abs=1e-6)
    assert watcher.status() == "stopped" and watcher.gave_up_detail()["failures"] == 3
    assert arbiter.publisher.topics().count("watcher.w.gave_up") == 1
