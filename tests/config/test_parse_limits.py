"""Config parsing is linear in the size of the file, and option values have a length limit.

Timing is compared between two inputs of the *same size* and a different shape (one huge value
against many small ones): linear parsing makes them cost about the same, whatever the machine's
speed or load; the old quadratic parts (joining continuation lines one by one, a backtracking
key/value regex, shlex on a long word: see test_shellwords.py) made the huge value many times
dearer.
"""

from __future__ import annotations

import time

import pytest

from circus.config import convert_watcher_option
from circus.config.converters import MAX_TEXT_LENGTH
from circus.config.ini import parse_text
from circus.config.problems import Problems
from circus.errors import ConfigError

LIMIT = MAX_TEXT_LENGTH


def test_the_limit_is_the_kernel_limit_of_one_argument():
    assert LIMIT == 128 * 1024  # MAX_ARG_STRLEN: a longer argv string cannot be exec'd


@pytest.mark.parametrize(
    "value",
    [
        "/bin/" + "a" * LIMIT,  # one long line
        "/bin/true\n" + "".join(f"  {'w' * 99}\n" for _ in range(LIMIT // 100 + 1)),  # continued
    ],
    ids=["line", "continuation"],
)
def test_an_over_long_value_is_refused_at_its_line(load, value):
    problems = load.problems(f"[watcher:web]\ncmd = {value}\nnumprocesses = x\n")
    first = problems[0]
    assert (first.line, first.section, first.key) == (2, "watcher:web", "cmd")
    assert f"longer than {LIMIT} characters" in problems[0].message
    assert "www" not in str(problems[0]) and "aaa" not in str(problems[0])
    # parsing went on: the next key is still checked, and no second error about cmd
    assert [p.key for p in problems] == ["cmd", "numprocesses"]


def test_a_value_at_the_limit_is_accepted(load):
    config = load(f"[watcher:web]\ncmd = {'a' * LIMIT}\n")
    assert len(config.watchers[0].cmd) == LIMIT


@pytest.mark.parametrize("key", ["cmd", "args", "working_dir", "env"])
def test_over_long_values_from_commands_are_refused(key):
    text = "a" * (LIMIT + 1)
    value = {"A": text} if key == "env" else text
    with pytest.raises(ConfigError) as info:
        convert_watcher_option(key, value)
    assert f"limit of an option is {LIMIT} characters" in str(info.value)
    assert "aaaa" * 30 not in str(info.value)


def _best_parse_time(text: str, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        parse_text(text, "x.ini", Problems())
        best = min(best, time.perf_counter() - start)
    return best


BIG = 1024 * 1024  # beyond the limit of a value: the parser still reads it in linear time

SHAPES = {
    # continuation lines (joined one at a time before: quadratic in the value's size)
    "continued": lambda n: "args = x\n" + "".join(f"  {'w' * 61}\n" for _ in range(n // 64)),
    # a line with no '=' and long runs of blanks (the old key/value regex backtracked)
    "blanks": lambda n: "x" + " " * n + "y\n",
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_one_big_value_costs_about_as_much_as_many_small_ones(shape):
    make = SHAPES[shape]
    pieces = 64
    one = f"[watcher:w]\n{make(BIG)}"
    many = "".join(f"[watcher:w{i}]\n{make(BIG // pieces)}" for i in range(pieces))
    assert abs(len(one) - len(many)) < BIG // 10
    ratio = _best_parse_time(one) / _best_parse_time(many)
    assert ratio < 4, f"{shape}: one big value is {ratio:.1f}x dearer than {pieces} small ones"


def test_over_long_section_and_key_names_are_refused_without_echo(load):
    name = "n" * 257
    problems = load.problems(
        f"[watcher:{name}]\ncmd = x\n[watcher:w]\ncmd = x\n{name} = 1\n[watcher:{'m' * 240}]\n"
        "cmd = x\n"
    )
    assert [(p.line, p.message) for p in problems] == [
        (1, "section name longer than 256 characters"),
        (5, "key name longer than 256 characters"),
    ]
    assert not any("nnnn" in str(p) for p in problems)
