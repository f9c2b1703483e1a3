"""circus.config.shellwords.split: shlex.split's words and errors, in linear time."""

from __future__ import annotations

import shlex
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _best_of(function, text: str, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.timeout(60)
def test_one_long_word_costs_no_more_than_many_short_ones():
    """Same total size, different shape: linear work makes one 512 KiB word about as cheap as
    128 words of 4 KiB (shlex: more than ten times dearer). Generous bound: 4x."""
    size = 512 * 1024
    one_word = "/bin/" + "a" * size
    many_words = " ".join(["b" * (size // 128)] * 128)
    assert split(one_word) == [one_word]
    ratio = _best_of(split, one_word) / _best_of(split, many_words)
    assert ratio < 4, ratio
