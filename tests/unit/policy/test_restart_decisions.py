"""The pure decisions of circus.restart_policy: failed start or not, back-off, giving up, and
counting one failure per retry round."""

from __future__ import annotations

import signal

import pytest

from circus.config.model import WatcherConfig
from circus.restart_policy import (
    GaveUp,
    RestartPolicy,
    RestartState,
    after_exit,
    after_spawn_error,
    after_uptime,
    gives_up,
    is_failed_start,
    retry_delay,
)

POLICY = RestartPolicy(retry_in=1.0, max_retry=3)


def exit_(state, code, uptime, spawned_in=None, now=10.0, policy=POLICY):
    spawned_in = state.round if spawned_in is None else spawned_in
    return after_exit(
        policy, state, exit_code=code, uptime=uptime, spawned_in=spawned_in, now=now, wall=1e9
    )


def test_built_from_the_watcher_config():
    config = WatcherConfig(name="w", cmd="prog", retry_in=2.5, max_retry=-1)
    assert RestartPolicy.from_config(config) == RestartPolicy(retry_in=2.5, max_retry=-1)
    assert RestartPolicy.from_config(WatcherConfig(name="w", cmd="p")) == RestartPolicy()


@pytest.mark.parametrize(
    ("code", "uptime", "failed"),
    [
        (1, 0.5, True),
        (0, 0.999, True),  # even a clean exit: it did not stay up
        (-signal.SIGSEGV, 0.1, True),  # a crash is the program's failure
        (1, 1.0, False),  # stayed up min_uptime
        (1, None, False),  # adopted: its start was not ours
        *((-sig, 0.1, False) for sig in (9, 15, 2, 3, 1)),  # KILL TERM INT QUIT HUP: sent
    ],
)
def test_is_failed_start(code, uptime, failed):
    assert is_failed_start(POLICY, code, uptime) is failed


def test_min_uptime_is_the_watchers():
    """``min_uptime`` (supervisor's startsecs) sets how long a start must run to succeed; the
    reason of a give-up after clean exits names it."""
    config = WatcherConfig(name="w", cmd="prog", min_uptime=3)
    policy = RestartPolicy.from_config(config)
    assert policy.min_uptime == 3
    assert is_failed_start(policy, 1, 2.5) and not is_failed_start(policy, 1, 3.0)
    assert not is_failed_start(RestartPolicy(min_uptime=0.2), 1, 0.5)
    state = exit_(RestartState(), 0, 2.5, policy=RestartPolicy(max_retry=1, min_uptime=3))
    assert "within 3 s of its start" in state.gave_up.reason
    assert "min_uptime" not in state.gave_up.as_dict()  # the wire form is unchanged


def test_back_off_doubles_from_0_1_up_to_retry_in():
    assert [retry_delay(POLICY, n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert retry_delay(RestartPolicy(retry_in=0), 3) == 0  # 0: at once, not a default cap


@pytest.mark.parametrize(
    ("max_retry", "failures", "give_up"),
    [(3, 2, False), (3, 3, True), (1, 1, True), (0, 1, True), (-1, 1000, False)],
)
def test_gives_up_after_max_retry_in_a_row(max_retry, failures, give_up):
    assert gives_up(RestartPolicy(max_retry=max_retry), failures) is give_up


def test_a_failed_start_counts_backs_off_and_opens_a_round():
    state = exit_(RestartState(), 1, 0.5, now=10.0)
    assert state == RestartState(failures=1, round=1, retry_at=10.1)
    state = exit_(state, 1, 0.5, now=11.0)
    assert state == RestartState(failures=2, round=2, retry_at=11.2)


def test_failures_of_one_round_count_once():
    state = exit_(RestartState(), 1, 0.5, spawned_in=0, now=10.0)
    for late in (10.0, 10.05, 10.3):  # the rest of round 0, crashing a little later
        assert exit_(state, 1, 0.5, spawned_in=0, now=late) == state
        assert after_spawn_error(POLICY, state, error="x", spawned_in=0, now=late, wall=0) == state
    assert exit_(state, 1, 0.5, spawned_in=1, now=11.0).failures == 2


def test_a_run_ends_the_row_and_a_kill_changes_nothing():
    state = exit_(exit_(RestartState(), 1, 0.5), 1, 0.5)
    assert exit_(state, -signal.SIGTERM, 30.0) == state
    assert exit_(state, -signal.SIGKILL, 0.1) == state
    cleared = exit_(state, 0, 30.0)
    assert (cleared.failures, cleared.round) == (0, state.round)
    assert exit_(cleared, 1, 0.5, now=50.0).retry_at == 50.1  # back-off from 0.1 again


def test_max_retry_failures_give_up_with_the_last_failure():
    state = RestartState()
    for _ in range(2):
        state = exit_(state, 1, 0.5)
    assert state.gave_up is None
    state = exit_(state, -signal.SIGSEGV, 0.2)
    assert state.gave_up == GaveUp("max_retry", 3, 3, -signal.SIGSEGV, None, 1e9)
    reason = "3 failed starts in a row (max_retry = 3), last: killed by SIGSEGV"
    assert state.gave_up.reason == reason
    assert exit_(state, 1, 0.5) == state  # final until a start (a new RestartState)
    assert exit_(state, 0, 30.0) == state


def test_a_program_that_ends_by_itself_at_once_is_told_about_respawn():
    # `cmd = echo hi`: five exits with code 0 within a second gave "last: exit code 0", which
    # reads like a success; the reason now says what to set for a program meant to end
    state = RestartState()
    for _ in range(3):
        state = exit_(state, 0, 0.1)
    assert state.gave_up is not None
    assert state.gave_up.reason == (
        "3 failed starts in a row (max_retry = 3), last: exit code 0 within 1 s of its start "
        "(a program that ends by itself needs respawn = false)"
    )


def test_a_spawn_error_gives_up_with_its_text():
    state = after_spawn_error(
        RestartPolicy(max_retry=0), RestartState(), error="no such file", spawned_in=0, now=0,
        wall=5.0,
    )  # fmt: skip
    assert state.gave_up is not None
    assert state.gave_up.as_dict() == {
        "rule": "max_retry",
        "failures": 1,
        "limit": 0,
        "last_exit": None,
        "error": "no such file",
        "time": 5.0,
        "reason": "1 failed start (max_retry = 0), last: spawn error: no such file",
    }


def test_never_gives_up_with_max_retry_minus_1():
    state, policy = RestartState(), RestartPolicy(max_retry=-1, retry_in=7)
    for _ in range(100):
        state = exit_(state, 1, 0.5, policy=policy)
    assert state.gave_up is None and state.failures == 100
    assert state.retry_at == 10.0 + 7


# --- a retry that stays up ends the row ------------------------------------------------------

DAY = 86400.0


def fail_(state, now, running=(), spawned_in=None):
    """A failed start (exit code 1 after 0.5 s) at ``now``; ``running``: (round, uptime) of the
    watcher's live processes."""
    spawned_in = state.round if spawned_in is None else spawned_in
    return after_exit(
        POLICY, state, exit_code=1, uptime=0.5, spawned_in=spawned_in, now=now, wall=1e9,
        running=running,
    )  # fmt: skip


def test_a_retry_up_for_min_uptime_ends_the_row_at_the_next_failure():
    monday = fail_(RestartState(), DAY)
    assert monday == RestartState(failures=1, round=1, retry_at=DAY + 0.1)
    # Wednesday: another process fails to start; Monday's retry (round 1) is up since Monday
    wednesday = fail_(monday, 3 * DAY, running=[(0, 3 * DAY), (1, 2 * DAY)])
    assert wednesday == RestartState(failures=1, round=2, retry_at=3 * DAY + 0.1)
    error = after_spawn_error(
        POLICY, monday, error="x", spawned_in=1, now=3 * DAY, wall=0, running=[(1, 2 * DAY)]
    )
    assert (error.failures, error.round) == (1, 2)


@pytest.mark.parametrize(
    "running",
    [
        [],
        [(0, 3 * DAY), (0, 3 * DAY)],  # older than the last failure: no retry of it
        [(1, 0.999)],  # a retry not up min_uptime yet
        [(1, None)],  # adopted: unknown
    ],
)
def test_without_a_retry_up_for_min_uptime_the_row_goes_on(running):
    monday = fail_(RestartState(), DAY)
    assert fail_(monday, 3 * DAY, running=running).failures == 2


def test_a_retry_killed_after_min_uptime_proved_its_start():
    state = fail_(fail_(RestartState(), 10.0), 11.0)  # 2 in a row, round 2
    proved = after_uptime(POLICY, state, spawned_in=2, uptime=DAY)
    assert proved == RestartState(failures=0, round=2, retry_at=state.retry_at)
    assert fail_(proved, 2 * DAY).failures == 1
    for spawned_in, uptime in [(1, DAY), (2, 0.5), (2, None)]:  # older / too short / adopted
        assert after_uptime(POLICY, state, spawned_in=spawned_in, uptime=uptime) == state
    gave_up = fail_(state, 12.0)
    assert gave_up.gave_up is not None
    assert after_uptime(POLICY, gave_up, spawned_in=3, uptime=DAY) == gave_up  # final


def test_running_is_read_only_when_a_failure_counts():
    def unread():
        raise AssertionError("running read")
        yield

    state = fail_(RestartState(), 10.0)
    assert fail_(state, 10.2, running=unread(), spawned_in=0) == state  # round already counted
    clean = RestartState()
    assert fail_(clean, 5.0, running=unread()).failures == 1  # nothing to reset
