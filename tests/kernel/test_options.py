"""papa-kernel's command line is read without argparse (papa_kernel.options), and means what
argparse's parser of the same table says: same values, same errors, same help."""

from __future__ import annotations

import pytest

from papa_kernel.options import Options, _parse_plain, build_parser, parse

pytestmark = pytest.mark.timeout(30)

#: Command lines read without argparse (as circusd, unit files and tests write them).
PLAIN = [
    [],
    ["--daemon", "--socket", "/run/x/papa.sock", "--log-file", "/tmp/k.log", "--log-level",
     "warning"],
    ["--socket", "s", "--tcp", "127.0.0.1:0", "--pid-file", "p", "--force", "--reaper",
     "sigchld"],
    ["--log-file", "-", "--log-level", "debug", "--log-level", "error"],  # the last one wins
    ["--socket-fd", "a=3", "--socket-fd", "b=4", "--graceful-stop", "2.5"],
    ["--init", "--", "circusd", "-c", "x", "--", "--daemon"],
    ["--graceful-stop", "0", "--init", "--"],
]  # fmt: skip

#: Handed to argparse: help, version, abbreviations, --option=value, a COMMAND without --.
ARGPARSE_ACCEPTS = [
    ["--socket=s", "--log-l", "info"],
    ["--tcp=127.0.0.1:0", "--daem"],
    ["--init", "circusd"],
]

#: Refused by argparse, which names the option and the value.
REFUSED = [
    (["--log-level", "loud"], "argument --log-level: invalid choice: 'loud'"),
    (["--graceful-stop", "soon"], 'argument --graceful-stop: not a number of seconds: "soon"'),
    (["--graceful-stop", "-1"], "argument --graceful-stop: must be between 0 and 86400, not -1"),
    (["--graceful-stop", "nan"], "argument --graceful-stop: must be between 0 and 86400, not nan"),
    (["--reaper", "x"], "argument --reaper: invalid choice: 'x'"),
    (["--tcp"], "argument --tcp: expected one argument"),
    (["--socket", "--daemon"], "argument --socket: expected one argument"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--sock", "x"], "ambiguous option: --sock could match --socket, --socket-fd"),
]


def _argparse(argv: list[str]) -> Options:
    return Options(**vars(build_parser().parse_args(argv)))


@pytest.mark.parametrize("argv", PLAIN)
def test_plain_command_lines_are_read_without_argparse_as_argparse_reads_them(argv):
    ours = _parse_plain(argv)
    assert ours is not None
    assert ours == _argparse(argv) == parse(argv)


@pytest.mark.parametrize("argv", ARGPARSE_ACCEPTS)
def test_other_command_lines_are_read_by_argparse(argv):
    assert _parse_plain(argv) is None
    assert parse(argv) == _argparse(argv)


@pytest.mark.parametrize(("argv", "message"), REFUSED)
def test_bad_command_lines_get_argparse_errors(argv, message, capsys):
    assert _parse_plain(argv) is None
    with pytest.raises(SystemExit) as exited:
        parse(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: papa-kernel ") and f"papa-kernel: error: {message}" in err


def test_help_and_version_are_argparse_s(capsys):
    for argv, text in (
        (["--help"], build_parser().format_help()),
        (["--version"], "papa-kernel 0.1.0\n"),
    ):
        with pytest.raises(SystemExit) as exited:
            parse(argv)
        assert exited.value.code == 0 and capsys.readouterr().out == text
