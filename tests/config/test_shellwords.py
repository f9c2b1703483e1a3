"""circus.config.shellwords.split: shlex.split's words and errors, in linear time."""

from __future__ import annotations

import re
import shlex
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circus.config import shellwords
from circus.config.shellwords import split

#: The characters that matter to the splitter, plus ordinary ones.
ALPHABET = st.sampled_from(list("ab \t\n\r'\"\\\x0b$é"))


def _shlex(text: str):
    try:
        return shlex.split(text)
    except ValueError as exc:
        return ("error", str(exc))


def _ours(text: str):
    try:
        return split(text)
    except ValueError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "a b  c",
        "a'b c'd",
        '"a\\"b" \'x\\y\'',
        '"a\\qb"',
        "a''",
        "''",
        '""a""',
        "a\x0bb",
        "\\\n",
        "abc\\",
        '"abc\\',
        '"abc',
        "'abc",
        'x "a\\\\" y',
    ],
)
def test_same_as_shlex(text):
    assert _ours(text) == _shlex(text)


@settings(max_examples=1500, deadline=None)
@given(st.text(ALPHABET, max_size=40))
def test_same_as_shlex_on_any_text(text):
    assert _ours(text) == _shlex(text)


class _CountingPattern:
    """A stand-in for shellwords' piece pattern that counts its matches."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.matches = 0

    def match(self, text: str, position: int = 0):
        self.matches += 1
        return self.pattern.match(text, position)


def test_a_run_of_ordinary_characters_is_one_match(monkeypatch):
    """The work is counted, not timed: one regular-expression match per run of ordinary
    characters, quoted text, escape or blanks. A character-at-a-time splitter (shlex's shape,
    quadratic on one long word) needs one step per character."""
    counter = _CountingPattern(shellwords._PIECE)
    monkeypatch.setattr(shellwords, "_PIECE", counter)
    word = "/bin/" + "a" * 100_000
    assert split(word) == [word]
    assert counter.matches == 1
    counter.matches = 0
    text = " ".join(["b" * 1000] * 100) + " 'q u o t e d' \\x"
    assert split(text) == [*["b" * 1000] * 100, "q u o t e d", "x"]
    # 100 words, 99 blanks between them, then blank, quoted, blank, escape
    assert counter.matches == 100 + 99 + 1 + 1 + 1 + 1


@pytest.mark.timeout(60)
def test_a_4_mib_word_is_split_in_well_under_a_second():
    """Guards against quadratic growth at a size where it cannot hide: shlex takes about a
    second for a 256 KiB word and some four minutes for 4 MiB (16x longer, 256x dearer); the
    linear splitter takes ~30 ms of CPU. Measured in this process's CPU time, so other load on
    the machine does not count. Figures: bench/shellwords.py."""
    word = "/bin/" + "a" * (4 * 1024 * 1024)
    start = time.process_time()
    assert split(word) == [word]
    assert time.process_time() - start < 3.0
