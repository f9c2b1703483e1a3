"""Pure pieces without a daemon: grammar, option converters, output buffer, framing."""

from __future__ import annotations

import itertools
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papa_kernel import procspec
from papa_kernel.connection import frame
from papa_kernel.errors import CommandError, NotFoundError
from papa_kernel.output import OutputStream
from papa_kernel.protocol import (
    parse_octal,
    parse_size,
    resolve_command,
    select_names,
    split_options,
    tokenize,
)
from papa_kernel.sockets import SocketOptions, bind_socket, parse_socket_options


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("l p", ["l", "p"]),
        ("set k a  b   c", ["set", "k", "a", "b", "c"]),
        (r"a\ b", ["a b"]),
        (r"x\ \ y", ["x  y"]),
        (r"trail\ ", ["trail "]),
        ('env.B="trail\\"', ['env.B="trail\\"']),
        ("a\\b", ["a\\b"]),
        ("", []),
        ("   ", []),
        ("tab\there", ["tab\there"]),
    ],
)
def test_tokenize(line, expected):
    assert tokenize(line) == expected


def test_resolve_command():
    assert resolve_command(["l", "p", "x"]) == ("list processes", ["x"])
    assert resolve_command(["S", "k"]) == ("set", ["k"])  # s = set, not signal
    assert resolve_command(["si", "TERM"]) == ("signal", ["TERM"])
    assert resolve_command(["w", "s"]) == ("watch sockets", [])
    assert resolve_command(["exit-if-idle"]) == ("exit-if-idle", [])
    for bad in (["x"], ["e"], ["list"], ["make", "sockets"], ["watch", "v"]):
        with pytest.raises(CommandError):
            resolve_command(bad)


def test_split_options():
    assert split_options(["a=1", 'b="x y"', "c=", "prog", "d=2"]) == (
        {"a": "1", "b": "x y", "c": ""},
        ["prog", "d=2"],
    )
    assert split_options(["k=v"]) == ({"k": "v"}, [])
    with pytest.raises(CommandError, match="twice"):
        split_options(["a=1", "a=2"])


def test_select_names():
    names = ["a.1", "a.2", "b"]
    assert select_names([], names, strict=True) == names
    assert select_names(["a.*"], names, strict=True) == ["a.1", "a.2"]
    assert select_names(["*"], names, strict=True) == names
    assert select_names(["b", "zz"], names, strict=False) == ["b"]
    with pytest.raises(NotFoundError, match="zz not found"):
        select_names(["zz"], names, strict=True)


def test_select_names_looks_exact_names_up_in_the_registry():
    """An exact name is a dict lookup: a command on one process of 10,000 used to sort all
    their names (577 us, on every respawn), now 1 us. Sorted output and errors unchanged."""
    registry = {f"circus.w.{i}": None for i in range(10000, 0, -1)}  # not in name order
    assert select_names(["circus.w.9", "circus.w.10"], registry, strict=True) == [
        "circus.w.10",
        "circus.w.9",
    ]
    assert select_names(["circus.w.999*", "circus.w.5"], registry, strict=True) == [
        "circus.w.5",
        "circus.w.999",
        "circus.w.9990",
        *[f"circus.w.999{i}" for i in range(1, 10)],
    ]
    with pytest.raises(NotFoundError, match=r"circus\.w\.0 not found"):
        select_names(["circus.w.1", "circus.w.0"], registry, strict=True)


def test_converters():
    assert parse_size("bufsize", "2m") == 2 * 1024 * 1024
    assert parse_size("bufsize", "64K") == 65536
    assert parse_size("bufsize", "0") == 0
    assert parse_octal("umask", "022") == 0o22
    assert parse_octal("umask", "0o777") == 0o777
    for bad in ("", "-1", "1.5m", "m"):
        with pytest.raises(CommandError, match="bufsize"):
            parse_size("bufsize", bad)


def test_frame():
    assert frame("") == b"\n> "
    assert frame("x") == b"x\n> "
    assert frame("x\n") == b"x\n> "


def test_output_stream_drops_oldest_and_acks_by_sequence():
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    stream = OutputStream("out", read_end, capacity=10)
    try:
        for data in (b"1234567\n", b"abcdefg\n", b"XYZ\n"):
            os.write(write_end, data)
            assert stream.read(1.0) == len(data)
            if stream.full:
                stream.drop_overflow()
        assert [chunk[2] for chunk in stream.chunks] == [b"XYZ\n"]
        assert stream.dropped_pending == stream.dropped_total == 16
        assert stream.read(3.0) == 0  # empty pipe: would block
        first_seq = stream.chunks[0][0]
        assert list(stream.unsent(first_seq)) == []
        stream.acknowledge(first_seq, dropped_reported=16)
        assert stream.nbytes == 0 and stream.dropped_pending == 0 and stream.dropped_total == 16
        os.close(write_end)
        write_end = -1
        assert stream.read(4.0) == -1  # EOF
    finally:
        stream.close()
        if write_end >= 0:
            os.close(write_end)


def test_one_chunk_larger_than_the_buffer_is_kept_whole():
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    stream = OutputStream("err", read_end, capacity=4)
    os.write(write_end, b"123456789\n")
    stream.read(1.0)
    stream.drop_overflow()
    assert [chunk[2] for chunk in stream.chunks] == [b"123456789\n"]
    stream.close()
    os.close(write_end)


def test_bind_socket_api():
    options = parse_socket_options({"port": "0", "backlog": "7"})
    assert options == SocketOptions(backlog=7)
    sock = bind_socket(options)
    try:
        assert sock.getsockname()[0] == "127.0.0.1" and sock.getsockname()[1] > 0
        assert not sock.get_inheritable()
    finally:
        sock.close()


def reference_tokenize(line: str) -> list[str]:
    """The grammar spelt out character by character (the spec the fast tokenizer follows)."""
    args, current, i = [], [], 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line) and line[i + 1] == " ":
            current.append(" ")
            i += 2
            continue
        if line[i] == " ":
            if current:
                args.append("".join(current))
            current = []
        else:
            current.append(line[i])
        i += 1
    if current:
        args.append("".join(current))
    return args


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=' \\ab=\t"', max_size=40))
def test_tokenize_matches_the_character_grammar(line):
    assert tokenize(line) == reference_tokenize(line)


#: How ``make process`` finds socket references, as a regular expression (the kernel scans
#: with ``str.find`` so that it never imports ``re``)
SOCKET_REF = re.compile(r"\$\(socket\.([^)]*)\)")


#: What a socket reference is made of; every argument of up to 5 of them is checked (9330)
REFERENCE_PIECES = ("$(socket.", ")", "$(", "a", ".fileno", " ")


def test_socket_references_are_found_as_the_regular_expression_finds_them():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(procspec, "_socket_value", lambda whole, ref, *_: f"<{whole}|{ref}>")
        for size in range(6):
            for pieces in itertools.product(REFERENCE_PIECES, repeat=size):
                arg = "".join(pieces)
                if "$(socket." in arg and not SOCKET_REF.search(arg):
                    with pytest.raises(CommandError, match="Unterminated"):
                        procspec._substitute(arg, None, {}, None)
                    continue
                expected = SOCKET_REF.sub(lambda m: f"<{m.group(0)}|{m.group(1)}>", arg)
                assert procspec._substitute(arg, None, {}, None) == expected, arg
