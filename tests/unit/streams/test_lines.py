"""Line decoration across chunk boundaries (circus.streams.lines)."""

from __future__ import annotations

import datetime
import itertools

from hypothesis import given
from hypothesis import strategies as st

from circus.streams.lines import LineState, decorate, line_prefix

HEAD = b"T [1] | "


def feed(chunks, writer=(1, "stdout"), state=None, head=HEAD, cont=b"", tail=b""):
    state = state or LineState()
    out = []
    for chunk in chunks:
        if not chunk:
            continue
        out.append(decorate(chunk, writer, state, head, cont, tail))
        state.advance(chunk, writer)
    return b"".join(out), state


def test_each_line_gets_one_head():
    out, state = feed([b"a\nb\n"])
    assert out == b"T [1] | a\nT [1] | b\n"
    assert state.at_line_start


def test_a_line_split_across_chunks_gets_one_head():
    out, _state = feed([b"hel", b"lo\nwor", b"ld\n"])
    assert out == b"T [1] | hello\nT [1] | world\n"


def test_unfinished_line_stays_open():
    out, state = feed([b"abc"])
    assert out == b"T [1] | abc"
    assert not state.at_line_start


def test_empty_lines_are_kept():
    out, _ = feed([b"\n\n", b"\n"])
    assert out == b"T [1] | \n" * 3


def test_another_writer_ends_the_unfinished_line_first():
    state = LineState()
    first, _ = feed([b"part"], writer=(1, "stdout"), state=state)
    second, _ = feed([b"other\n"], writer=(2, "stdout"), state=state, head=b"T [2] | ")
    third, _ = feed([b"more\n"], writer=(1, "stdout"), state=state)
    assert first + second + third == b"T [1] | part\nT [2] | other\nT [1] | more\n"


def test_stderr_of_the_same_pid_is_another_writer():
    state = LineState()
    a, _ = feed([b"out"], writer=(1, "stdout"), state=state)
    b, _ = feed([b"err\n"], writer=(1, "stderr"), state=state)
    assert a + b == b"T [1] | out\nT [1] | err\n"


def test_cont_and_tail_wrap_every_piece():
    out, _ = feed([b"ab", b"c\nd\n"], head=b"<H>", cont=b"<C>", tail=b"<T>")
    assert out == b"<H>ab<T><C>c<T>\n<H>d<T>\n"


def test_invalid_utf8_passes_untouched():
    out, _ = feed([b"\xff\xfe\x00\n"])
    assert out == HEAD + b"\xff\xfe\x00\n"


def test_line_prefix_format():
    ts = 1700000000.25
    utc = datetime.UTC
    assert line_prefix("%Y-%m-%d %H:%M:%S", ts, 7, utc) == b"2023-11-14 22:13:20 [7] | "
    assert line_prefix("%H:%M:%S.%f", ts, 7, utc) == b"22:13:20.250000 [7] | "
    assert line_prefix(None, ts, 7) == b"[7] | "
    assert line_prefix("%H é", ts, 7, utc) == "22 é [7] | ".encode()


def test_line_prefix_survives_absurd_timestamps():
    assert line_prefix("%Y", 1e300, 1).endswith(b" [1] | ")


@given(
    data=st.lists(st.sampled_from([b"a", b"\n", b"xyz", b"\xff", b"\r\n"]), max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=10),
)
def test_chunking_never_changes_the_result(data, cuts):
    """Whatever the chunk boundaries, the output is the one of the whole data at once, and
    removing the heads gives back the data."""
    whole = b"".join(data)
    points = sorted({c for c in cuts if c <= len(whole)} | {0, len(whole)})
    chunks = [whole[a:b] for a, b in itertools.pairwise(points)]
    chunked, _ = feed(chunks)
    at_once, _ = feed([whole])
    assert chunked == at_once
    assert chunked.replace(HEAD, b"") == whole
    unfinished = 1 if whole and not whole.endswith(b"\n") else 0
    assert chunked.count(HEAD) == whole.count(b"\n") + unfinished
