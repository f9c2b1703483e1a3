"""The pure flapping decisions of circus.restart_policy: the window, stop and retry, giving up,
where the rule comes from (plugin section, flapping.* overrides) and what it says."""

from __future__ import annotations

import pytest

from circus.config import config_from_dict
from circus.restart_policy import (
    Flapping,
    FlappingRule,
    GaveUp,
    RestartPolicy,
    RestartState,
    after_exit,
    after_flapping_exit,
    after_flapping_pause,
    is_flapping,
)

RULE = FlappingRule(attempts=3, window=2.0, retry_in=7.0, max_retry=2)
PLUGIN = {"use": "circus.plugins.flapping.Flapping", "name": "flapping"}


def exits(state: RestartState, *times: float, rule: FlappingRule = RULE, code: int = 1):
    for now in times:
        state = after_flapping_exit(rule, state, exit_code=code, now=now, wall=1000 + now)
    return state


@pytest.mark.parametrize(
    ("times", "flapping"),
    [
        ((), False),
        ((0, 1), False),  # fewer than attempts
        ((0, 1, 2), True),  # exactly window apart: flapping
        ((0, 1, 2.001), False),
        ((0, 5, 6, 6.5), True),  # the last three
        ((0, 0.1, 0.2, 9), False),
    ],
)
def test_attempts_exits_within_window_is_flapping(times, flapping):
    assert is_flapping(RULE, tuple(times)) is flapping


def test_the_window_slides_and_keeps_at_most_attempts_exits():
    state = exits(RestartState(), 0, 5)
    assert state.exits == (0, 5) and state.flapping is None
    state = exits(state, 9)  # 0..9 is not flapping
    assert state.exits == (0, 5, 9) and state.flapping is None
    state = exits(state, 10)  # 5..10 neither
    assert state.exits == (5, 9, 10) and state.flapping is None
    state = exits(state, 10.5)  # 9..10.5 is
    assert state.flapping == Flapping(1, 2, 3, 1.5, 2.0, 7.0, 1, 1010.5)
    assert state.flapping.at == 10.5


def test_flapping_stops_at_once_and_counts_the_retry():
    before = RestartState(failures=1, round=4, retry_at=3.0, exits=(1, 2))
    state = exits(before, 2.5)
    assert state.flapping_retries == 1 and state.exits == ()
    assert state.round == 5  # later failures of the processes being stopped do not count
    assert state.retry_at == 2.5  # the watcher does not wait for the back-off to stop
    assert state.gave_up is None
    assert exits(state, 2.6, 2.7, 2.8) == state  # found flapping: the next exits change nothing


def test_after_the_pause_a_fresh_row_keeps_the_retries():
    state = exits(RestartState(failures=2, round=7), 0, 0.1, 0.2)
    assert after_flapping_pause(state) == RestartState(flapping_retries=1)


def test_max_retry_retries_then_it_gives_up():
    state = RestartState()
    found = []
    for start in (0, 10, 20):
        state = exits(state, start, start + 0.1, start + 0.2)
        found.append(state.flapping)
        if state.flapping:
            state = after_flapping_pause(state)
    assert [f.retry for f in found[:2]] == [1, 2] and found[2] is None
    assert state.gave_up == GaveUp("flapping", 3, 2, 1, None, 1020.2)
    assert state.gave_up.reason == (
        "flapping 3 times in a row (flapping.max_retry = 2), last: exit code 1"
    )
    assert exits(state, 30, 30.1, 30.2) == state  # final until a start


def test_max_retry_0_gives_up_at_once_and_minus_1_never():
    once = exits(RestartState(), 0, 0.1, 0.2, rule=FlappingRule(3, 2.0, 7.0, 0))
    assert once.gave_up.reason == "flapping once (flapping.max_retry = 0), last: exit code 1"
    forever = FlappingRule(3, 2.0, 7.0, -1)
    state = RestartState(flapping_retries=1000)
    state = exits(state, 0, 0.1, 0.2, rule=forever)
    assert state.gave_up is None and state.flapping.retry == 1001
    assert state.flapping.reason == (
        "3 exits within 0.2 s (flapping.window = 2 s), retry 1001 in 7 s"
    )


def test_exits_spread_over_more_than_the_window_end_the_row_of_retries():
    state = after_flapping_pause(exits(RestartState(), 0, 0.1, 0.2))
    state = exits(state, 10, 20, 30)
    assert state.flapping_retries == 0 and state.flapping is None


def test_the_wire_form_and_reason():
    found = exits(RestartState(), 0, 0.25, 0.5).flapping
    assert found.as_dict() == {
        "retry": 1,
        "max_retry": 2,
        "exits": 3,
        "within": 0.5,
        "window": 2.0,
        "retry_in": 7.0,
        "last_exit": 1,
        "time": 1000.5,
        "retry_at": 1007.5,
        "reason": "3 exits within 0.5 s (flapping.window = 2 s), retry 1 of 2 in 7 s",
    }


def test_the_reason_rounds_measured_seconds():
    """Measured times are read by people: 0.147484 s is shown as 0.15 s (as in the docs)."""
    found = exits(RestartState(), 0, 0.1, 0.147484).flapping
    assert found.as_dict()["within"] == 0.147484  # the wire keeps the measure
    assert found.reason.startswith("3 exits within 0.15 s (flapping.window = 2 s)"), found.reason


def exit_(policy, state, now, *, code=1, uptime=0.5, requested=False):
    return after_exit(
        policy,
        state,
        exit_code=code,
        uptime=uptime,
        spawned_in=state.round,
        now=now,
        wall=1000 + now,
        requested=requested,
    )


def test_after_exit_counts_a_failed_start_then_flapping():
    policy = RestartPolicy(max_retry=5, flapping=FlappingRule())
    state = exit_(policy, RestartState(), 0.5)
    assert state.failures == 1 and state.exits == (0.5,) and state.retry_at == 0.6
    state = exit_(policy, state, 1.1)
    assert state.flapping.retry == 1 and state.flapping.within == 0.6
    assert state.failures == 2 and state.retry_at == 1.1


def test_exits_the_watcher_asked_for_do_not_count():
    policy = RestartPolicy(flapping=FlappingRule())
    state = RestartState()
    for now in (5, 5.1, 5.2):
        state = exit_(policy, state, now, code=-15, uptime=5, requested=True)
    assert state == RestartState()


def test_deaths_by_signal_count_for_flapping():
    """Killed from outside is not a failed start, but a process killed every 0.5 s (an OOM
    killer, a bad health check) does restart too often."""
    policy = RestartPolicy(flapping=FlappingRule())
    state = exit_(policy, RestartState(), 5, code=-9, uptime=5)
    state = exit_(policy, state, 5.5, code=-9, uptime=0.5)
    assert state.failures == 0 and state.flapping.last_exit == -9


def test_giving_up_by_max_retry_wins_over_flapping():
    policy = RestartPolicy(max_retry=1, flapping=FlappingRule(attempts=1))
    state = exit_(policy, RestartState(), 0.5)
    assert state.gave_up.rule == "max_retry" and state.flapping is None


def config(*, plugin=None, **watcher):
    plugins = [] if plugin is None else [{**PLUGIN, **plugin}]
    conf = config_from_dict(
        {"watchers": [{"name": "w", "cmd": "x", **watcher}], "plugins": plugins}
    )
    return RestartPolicy.from_config(conf.watchers[0], conf.plugins).flapping


def test_without_a_flapping_plugin_section_there_is_no_rule():
    assert config() is None
    assert config(**{"flapping.attempts": 3}) is None


def test_the_plugin_section_gives_the_defaults_and_watchers_override_them():
    assert config(plugin={}) == FlappingRule(2, 1.0, 7.0, 5)  # the manual's defaults
    plugin = {"attempts": "3", "window": "10", "retry_in": "500ms", "max_retry": "-1"}
    assert config(plugin=plugin) == FlappingRule(3, 10.0, 0.5, -1)
    assert config(plugin=plugin, **{"flapping.max_retry": 2, "flapping.window": "2"}) == (
        FlappingRule(3, 2.0, 0.5, 2)
    )


@pytest.mark.parametrize(
    ("plugin", "watcher"),
    [
        ({"active": "false"}, {}),
        ({"active": "false"}, {"flapping.active": True}),  # the plugin does not run at all
        ({}, {"flapping.active": False}),
        ({}, {"check_flapping": False}),
        ({}, {"respawn": False}),
    ],
)
def test_active_and_check_flapping_turn_it_off(plugin, watcher):
    assert config(plugin=plugin, **watcher) is None
