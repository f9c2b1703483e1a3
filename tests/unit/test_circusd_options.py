"""circusd's command line is read without argparse when it is plain (circus.cli.circusd
parse_args, with papa_kernel.options.parse_plain), and means what argparse's parser of the same
table says: same values; anything else (help, errors, abbreviations) is argparse's."""

from __future__ import annotations

import pytest
from support import imported_by

from circus.cli.circusd import OPTIONS, build_parser, parse_args
from papa_kernel.cmdline import parse_plain

pytestmark = pytest.mark.timeout(30)

#: Read without argparse (as the tests, the docs and unit files write them).
PLAIN = [
    ["circus.ini"],
    ["circus.ini", "--log-level", "debug", "--log-output", "-"],
    ["--daemon", "--pidfile", "/run/c.pid", "c.ini", "--log-output", "/tmp/c.log"],
    ["c.ini", "--stop-workers-on-exit", "--reload-outdated", "--no-start-kernel"],
    ["--check-config", "c.ini", "--logger-config", "log.json", "--log-level", "x", "--log-level",
     "info"],  # the last one wins
    [],  # no CONFIG: main says it is required
]  # fmt: skip

#: Handed to argparse: help, version, abbreviations, --option=value, errors.
ARGPARSE = [
    ["c.ini", "--log-l", "info"],
    ["--log-output=-", "c.ini"],
    ["-", "--daemon"],
]
REFUSED = [
    (["c.ini", "other.ini"], "unrecognized arguments: other.ini"),
    (["c.ini", "--log-level"], "argument --log-level: expected one argument"),
    (["c.ini", "--bogus"], "unrecognized arguments: --bogus"),
    (["c.ini", "--", "--daemon"], "unrecognized arguments: --daemon"),
]


def _argparse(argv: list[str]) -> dict:
    return vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", PLAIN)
def test_plain_command_lines_are_read_without_argparse_as_argparse_reads_them(argv):
    assert parse_plain(argv, OPTIONS, positional="config") == _argparse(argv)
    assert vars(parse_args(argv)) == _argparse(argv)


@pytest.mark.parametrize("argv", ARGPARSE)
def test_other_command_lines_are_read_by_argparse(argv):
    assert parse_plain(argv, OPTIONS, positional="config") is None
    assert vars(parse_args(argv)) == _argparse(argv)


@pytest.mark.parametrize(("argv", "message"), REFUSED)
def test_bad_command_lines_get_argparse_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert f"circusd: error: {message}" in capsys.readouterr().err


def test_a_plain_command_line_imports_no_argparse():
    """argparse, with gettext, would stay in circusd's memory (0.35 MB)."""
    loaded = imported_by("""
        from circus.cli.circusd import parse_args
        parse_args(["circus.ini", "--log-level", "debug", "--stop-workers-on-exit"])
    """)
    assert "circus.cli.circusd" in loaded
    assert not {"argparse", "gettext"} & loaded


def test_no_pending_kernel_is_started_when_a_kernel_serves_the_default_socket(runtime_dir):
    """circusd starts papa-kernel's interpreter before reading its configuration (its start-up
    overlaps circusd's); when a kernel already serves the default socket (a restarted or
    upgraded circusd reattaches to it), none is started only to be killed."""
    import os
    import socket

    from circus.cli.circusd import _pending_kernel
    from papa_kernel.paths import default_kernel_socket

    args = parse_args(["c.ini"])
    pending = _pending_kernel(args)  # nobody serves it: the interpreter is started
    assert pending is not None and pending.process is not None
    pending.cancel()
    path = default_kernel_socket()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with socket.socket(socket.AF_UNIX) as served:
        served.bind(path)
        served.listen(4)
        assert _pending_kernel(args) is None
    # a stale socket file (a kernel killed -9) is not a kernel
    pending = _pending_kernel(args)
    assert pending is not None
    pending.cancel()


def test_no_pending_kernel_is_started_when_a_kernel_serves_the_configured_socket(runtime_dir):
    """The same for the socket the configuration's [circus] papa_endpoint names (every
    instance but the default one): a restarted circusd found it served only once its
    configuration was loaded, after starting a kernel interpreter for nothing."""
    import socket

    from circus.cli.circusd import _pending_kernel

    path = str(runtime_dir / "papa.sock")
    config = runtime_dir / "circus.ini"
    with socket.socket(socket.AF_UNIX) as served:
        served.bind(path)
        served.listen(4)
        for written in (path, f"ipc://{path}"):
            config.write_text(f"[circus]\nendpoint = ipc:///x/c.sock\npapa_endpoint = {written}\n")
            assert _pending_kernel(parse_args([str(config)])) is None, written
        # only the loaded configuration tells: the interpreter is started (and later killed)
        config.write_text("[circus]\npapa_endpoint = $(circus.env.RUN)/papa.sock\n")
        pending = _pending_kernel(parse_args([str(config)]))
        assert pending is not None
        pending.cancel()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[circus]\npapa_endpoint = /run/a/papa.sock\n", "/run/a/papa.sock"),
        ("[circus]\npapa_endpoint: ipc:///run/a/papa.sock ; a comment\n", "/run/a/papa.sock"),
        # the first value wins, also over a repeated [circus] section
        ("[circus]\npapa_endpoint = /a.sock\n[circus]\npapa_endpoint = /b.sock\n", "/a.sock"),
        ("[watcher:w]\npapa_endpoint = /w.sock\n[circus]\nendpoint = ipc:///c\n", "DEFAULT"),
        ("[circus]\n# papa_endpoint = /commented.sock\n  papa_endpoint = /continued.sock\n",
         "DEFAULT"),
        ("[circus]\npapa_endpoint = tcp://127.0.0.1:20202\n", None),
        ("[circus]\npapa_endpoint = ((circus.env.dir))/papa.sock\n", None),
        ("[circus]\npapa_endpoint = relative.sock\n", None),
        ("[circus]\ninclude = more.ini\n", None),  # the included file may name it
        ("[circus]\ninclude = more.ini\npapa_endpoint = /main.sock\n", "/main.sock"),
    ],
)
def test_the_kernel_socket_a_configuration_names_at_a_first_look(runtime_dir, text, named):
    from circus.cli.kernel_hint import named_kernel_socket
    from papa_kernel.paths import default_kernel_socket

    config = runtime_dir / "circus.ini"
    config.write_text(text)
    expected = default_kernel_socket() if named == "DEFAULT" else named
    assert named_kernel_socket(str(config)) == expected
    assert named_kernel_socket(str(runtime_dir / "missing.ini")) == default_kernel_socket()
