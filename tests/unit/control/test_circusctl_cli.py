"""circusctl without a daemon: help, version, usage errors, unreachable endpoints."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from circus import __version__
from circus.cli import circusctl
from circus.control.defaults import default_endpoint, default_pubsub_endpoint


def run(capsys, *argv):
    code = circusctl.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    assert run(capsys, "--version") == (0, f"circusctl {__version__}\n", "")


def test_general_help_lists_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert out.startswith("usage: circusctl [options] command [args]\n")
    assert "  add            Add a watcher\n" in out
    for option in ("--endpoint", "--timeout", "--json", "--prettify", "--curve-secret-key"):
        assert option in out
    # an option longer than the column is still apart from its help
    [line] = [line for line in out.splitlines() if "--curve-secret-key" in line]
    assert "CURVE-SECRET-KEY CURVE:" in " ".join(line.split()), line


@pytest.mark.parametrize("argv", [("--help", "add"), ("add", "--help")])
def test_command_help(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and out.splitlines()[0] == "Add a watcher"
    assert "circusctl add [--start]" in out


def test_unknown_command_is_usage_error(capsys):
    code, out, err = run(capsys, "frobnicate")
    assert code == 2 and out == ""
    assert "usage: circusctl [options] command [args]" in err and "frobnicate" in err


def test_unknown_option_is_usage_error(capsys):
    code, _, err = run(capsys, "status", "--bogus")
    assert code == 2 and "--bogus" in err


def test_wrong_argument_count_is_usage_error(capsys):
    code, _, err = run(capsys, "get", "w")
    assert code == 2
    assert "get: invalid number of arguments" in err and "usage: circusctl get <name>" in err


def test_bad_match_choice_is_usage_error(capsys):
    code, _, err = run(capsys, "start", "--match", "fuzzy")
    assert code == 2 and "fuzzy" in err


def test_missing_ipc_socket_is_call_error(capsys, tmp_path):
    code, _, err = run(capsys, "--endpoint", f"ipc://{tmp_path}/none.sock", "status")
    assert code == 1
    assert f"circusd is not running at ipc://{tmp_path}/none.sock" in err


def _circusctl_as_nobody(*argv: str) -> tuple[int, str]:
    """circusctl.main(argv) as the user nobody: (exit code, stderr)."""
    import support

    return support.as_nobody(lambda: circusctl.main(list(argv)))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as nobody")
@pytest.mark.parametrize("where", ["private directory", "private socket"])
def test_an_ipc_socket_of_another_user_is_permission_denied_not_missing(where):
    # A user's circusctl at root's endpoint used to say "circusd is not running ... (no socket
    # file ...)" (the file exists, but stat() is refused in the 0700 directory), or, when the
    # directory could be entered, "nothing answers there" after the whole time-out.
    import socket
    import tempfile

    directory = tempfile.mkdtemp(prefix="circusctl-perm-")
    try:
        os.chmod(directory, 0o700 if where == "private directory" else 0o711)
        path = os.path.join(directory, "circus.sock")
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(path)
            listener.listen()
            os.chmod(path, 0o600)
            start = time.monotonic()
            code, err = _circusctl_as_nobody(
                "--endpoint", f"ipc://{path}", "--timeout", "5", "status"
            )
            elapsed = time.monotonic() - start
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    assert code == 1, err
    assert f"cannot reach circusd at ipc://{path}: permission denied" in err, err
    assert "not running" not in err and "nothing answers" not in err, err
    assert elapsed < 4, elapsed  # said at once, not after the time-out


def test_timeout_is_call_error_with_hint(capsys, tmp_path):
    import zmq

    ctx = zmq.Context()
    silent = ctx.socket(zmq.ROUTER)  # accepts connections, never answers
    silent.bind(f"ipc://{tmp_path}/silent.sock")
    try:
        code, _, err = run(
            capsys, "--endpoint", f"ipc://{tmp_path}/silent.sock", "--timeout", "0.5", "status"
        )
    finally:
        silent.close(0)
        ctx.term()
    assert code == 1
    assert err.startswith(f"Timed out. (connected to ipc://{tmp_path}/silent.sock, but circusd")
    assert "increase your timeout" in err


@pytest.mark.parametrize("listening", [False, True])
def test_main_closes_the_sockets_it_opened(capsys, tmp_path, listening):
    """In-process circusctl (tests, library users, each line of the shell) left the client of
    the command's options unclosed: garbage-collected with its socket monitor attached, it
    could freeze the ZeroMQ context of the whole process (every later client said "nothing
    answers there"), and it was the culprit of that CI failure."""
    import gc
    import warnings

    import zmq

    endpoint = f"ipc://{tmp_path}/ctl.sock"
    ctx = zmq.Context()
    silent = ctx.socket(zmq.ROUTER)
    if listening:
        silent.bind(endpoint)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            code, _, err = run(capsys, "--endpoint", endpoint, "--timeout", "0.1", "status")
            gc.collect()
    finally:
        silent.close(0)
        ctx.term()
    assert code == 1, err
    assert [str(w.message) for w in caught if "Unclosed socket" in str(w.message)] == []


def test_default_endpoints_follow_runtime_dir(runtime_dir):
    assert default_endpoint() == f"ipc://{runtime_dir}/circus/circus.sock"
    assert default_pubsub_endpoint() == f"ipc://{runtime_dir}/circus/pubsub.sock"


def test_environment_endpoint_is_used(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CIRCUSCTL_ENDPOINT", f"ipc://{tmp_path}/env.sock")
    code, _, err = run(capsys, "status")
    assert code == 1 and f"ipc://{tmp_path}/env.sock" in err


def test_option_after_command_overrides(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CIRCUSCTL_ENDPOINT", f"ipc://{tmp_path}/env.sock")
    code, _, err = run(capsys, "status", "--endpoint", f"ipc://{tmp_path}/opt.sock")
    assert code == 1 and "opt.sock" in err


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "1e9", "soon"])
def test_timeout_must_be_a_positive_bounded_number(capsys, runtime_dir, value):
    """Before: -1 and 0 gave misleading connection messages, nan, inf and 1e9 tracebacks."""
    code, _, err = run(capsys, "--timeout", value, "status")
    assert code == 2 and "--timeout" in err and "Traceback" not in err, err


def _parse(*argv):
    from circus.control.commands import get_commands

    return circusctl.parse(circusctl.build_parser(get_commands()), list(argv))


def test_flags_between_positionals():
    args = _parse("signal", "web", "--recursive", "hup")
    assert (args.command, args.args, args.flag_recursive) == ("signal", ["web", "hup"], True)


def test_global_options_before_and_after_the_command():
    args = _parse("--timeout", "2", "status", "web", "--json")
    assert (args.command, args.args, args.timeout, args.json) == ("status", ["web"], 2.0, True)


def test_double_dash_keeps_the_command_line_of_add():
    args = _parse("add", "--start", "web", "--", "python", "-m", "http.server", "--bind", "x")
    assert args.args == ["web", "python", "-m", "http.server", "--bind", "x"]
    assert args.flag_start is True


def test_option_value_named_like_a_command_is_not_the_command():
    args = _parse("--endpoint", "status", "list")
    assert (args.endpoint, args.command) == (["status"], "list")


def test_endpoints_before_and_after_the_command_add_up():
    args = _parse("--endpoint", "ipc:///a", "status", "--endpoint", "ipc:///b", "web")
    assert (args.endpoint, args.args) == (["ipc:///a", "ipc:///b"], ["web"])
    assert _parse("--hosts", "fleet.ini", "status").hosts == "fleet.ini"


def test_unknown_command_message_is_the_originals_usage_and_names_the_command(capsys):
    code, _, err = run(capsys, "frobnicate")
    assert code == 2
    assert err == (
        "usage: circusctl [options] command [args]\n"
        "circusctl: error: unknown command 'frobnicate'; circusctl --help lists the commands\n"
    )


def test_add_with_a_dashed_option_in_the_command_says_to_use_double_dash(capsys):
    # docs/commands.md showed `circusctl add --start web python -m http.server`, which argparse
    # refuses ("-m" is not an option of add): the error now says what to write instead
    code, _, err = run(capsys, "add", "--start", "web", "python", "-m", "http.server")
    assert code == 2
    assert "unrecognized arguments: -m" in err
    assert "put -- before the command line" in err
    assert "circusctl add [--start] [--waiting] <name> -- <cmd...>" in err


def test_other_commands_get_no_double_dash_hint(capsys):
    code, _, err = run(capsys, "status", "--bogus")
    assert code == 2 and "put --" not in err


def test_misspelt_command_is_named_with_a_suggestion(capsys, tmp_path):
    # it was "unrecognized arguments: stauts", as if the command were an extra argument
    code, _, err = run(capsys, "--endpoint", f"ipc://{tmp_path}/none.sock", "stauts", "web")
    assert code == 2
    assert "unknown command 'stauts' (did you mean 'stats' or 'status'?)" in err, err
    code, _, err = run(capsys, "--endpoint", f"ipc://{tmp_path}/none.sock", "lisen")
    assert "unknown command 'lisen' (did you mean 'listen' or 'list'?)" in err, err
    code, _, err = run(capsys, "--endpoint", f"ipc://{tmp_path}/none.sock", "frobnicate")
    assert "unknown command 'frobnicate'; circusctl --help lists the commands" in err, err


def test_an_endpoint_without_a_transport_says_what_one_looks_like(capsys):
    code, _, err = run(capsys, "--endpoint", "localhost:5555", "status")
    assert code == 1
    assert "cannot connect to localhost:5555: Invalid argument" in err, err
    assert "(an endpoint is ipc://PATH or tcp://HOST:PORT)" in err, err
