"""The flapping plugin section and the flapping.* watcher keys: checked at load, each error at
its file:line [section] key, and warnings where they would do nothing."""

from __future__ import annotations

import pytest

from circus.config.flapping import flapping_settings

PLUGIN = "[plugin:flapping]\nuse = circus.plugins.flapping.Flapping\n"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("attempts", "0", "expected a number >= 1"),
        ("attempts", "two", "expected an integer"),
        ("window", "soon", "expected a duration"),
        ("retry_in", "-1", "expected a number >= 0.0"),
        ("max_retry", "-2", "expected a number >= -1"),
        ("active", "perhaps", "expected a boolean"),
    ],
)
def test_bad_plugin_values_are_errors_at_their_key(load, key, value, message):
    problems = load.problems(f"[watcher:w]\ncmd = x\n{PLUGIN}{key} = {value}\n")
    [problem] = [p for p in problems if p.key == key]
    assert message in problem.message, problem
    assert problem.section == "plugin:flapping" and problem.line == 5
    assert problem.file.endswith("circus.ini")


def test_a_misspelt_plugin_option_is_a_warning_with_a_hint(load):
    """circusd applies the flapping section itself: a key it does not know does nothing."""
    config = load(f"[watcher:w]\ncmd = x\n{PLUGIN}attemps = 3\n")
    [warning] = [w for w in config.warnings if w.key == "attemps"]
    assert warning.section == "plugin:flapping" and warning.line == 5
    assert "unknown flapping option 'attemps'" in warning.message
    assert warning.suggestion == "attempts"


def test_bad_watcher_overrides_are_errors_at_their_key(load):
    problems = load.problems(f"[watcher:w]\ncmd = x\nflapping.window = 1 day\n{PLUGIN}")
    [problem] = problems
    assert problem.key == "flapping.window" and problem.line == 3
    assert problem.section == "watcher:w" and "expected a duration" in problem.message


def test_the_plugin_section_and_overrides_make_the_settings(load):
    config = load(
        "[watcher:w]\ncmd = x\nflapping.attempts = 4\n"
        "[watcher:v]\ncmd = x\ncheck_flapping = false\n"
        f"{PLUGIN}window = 500ms\nmax_retry = -1\n"
    )
    assert flapping_settings(config.plugins, config.get_watcher("w")) == {
        "attempts": 4,
        "window": 0.5,
        "retry_in": 7.0,
        "max_retry": -1,
    }
    assert flapping_settings(config.plugins, config.get_watcher("v")) is None
    assert config.warnings == ()


def test_flapping_keys_without_the_plugin_warn_that_they_do_nothing(load):
    config = load("[watcher:w]\ncmd = x\nnumprocesses = 1\nflapping.max_retry = 2\n")
    [warning] = config.warnings
    assert warning.key == "flapping.max_retry" and warning.line == 4
    assert "do nothing without a [plugin:NAME] section using circus.plugins.flapping.Flapping" in (
        warning.message
    )
    assert flapping_settings(config.plugins, config.get_watcher("w")) is None


def test_a_second_flapping_section_is_not_used(load):
    config = load(
        f"[watcher:w]\ncmd = x\n{PLUGIN}attempts = 3\n"
        "[plugin:more]\nuse = circus.plugins.flapping.Flapping\nattempts = 9\n"
    )
    [warning] = config.warnings
    assert warning.section == "plugin:more" and warning.key == "use" and warning.line == 7
    assert "only [plugin:flapping] is used" in warning.message
    assert flapping_settings(config.plugins, config.get_watcher("w"))["attempts"] == 3
