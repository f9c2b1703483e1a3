"""Config parsing is linear in the size of the file, and option values have a length limit.

One huge value is parsed within a CPU-time bound that linear parsing meets many times over and
the old quadratic parts (joining continuation lines one by one, a backtracking key/value regex,
shlex on a long word: see test_shellwords.py) missed by far, at a size where they took a minute
or more.
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


#: Far beyond the limit of a value: the parser still reads it in linear time.
BIG = 16 * 1024 * 1024
#: CPU seconds allowed for parsing BIG (now under 1 s; the old quadratic parts took 170 s for
#: BIG in continuation lines and 27 s for only 64 KiB of blanks).
BIG_CPU_BOUND = 5.0

SHAPES = {
    # continuation lines (joined one at a time before: quadratic in the value's size)
    "continued": lambda n: "args = x\n" + "".join(f"  {'w' * 61}\n" for _ in range(n // 64)),
    # a line with no '=' and long runs of blanks (the old key/value regex backtracked)
    "blanks": lambda n: "x" + " " * n + "y\n",
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_16_mib_value_is_parsed_in_linear_time(shape):
    """Measured in this process's CPU time, so other load on the machine does not count."""
    text = f"[watcher:w]\n{SHAPES[shape](BIG)}"
    start = time.process_time()
    parse_text(text, "x.ini", Problems())
    assert time.process_time() - start < BIG_CPU_BOUND, shape


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
