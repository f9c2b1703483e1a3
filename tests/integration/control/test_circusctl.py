"""circusctl as a program (ours, and the original 0.19 one) against a real controller."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import circusctl_output
import pytest
import support
from cli_forker import ForkingCli

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[3]
ORIGINAL = circusctl_output.ORIGINAL_CIRCUSCTL


# circusctl runs ~60 times in this module: a warm, forked circusctl (tests/cli_forker.py) is the
# same program, argv, stdin, outputs and exit code without a Python start-up each time. Runs with
# their own environment still start a fresh circusctl. The original's warm interpreter is
# circusctl_output's, shared with the other tests that run it.
_warm: dict[str, ForkingCli] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_warm_circusctls():
    yield
    for cli in _warm.values():
        cli.close()
    _warm.clear()


def _warm_ours() -> ForkingCli:
    if "ours" not in _warm:
        import circus.cli.circusctl

        script = circus.cli.circusctl.__file__  # python -m circus.cli.circusctl
        _warm["ours"] = ForkingCli(sys.executable, "circus.cli.circusctl", argv0=script, cwd=REPO)
    return _warm["ours"]


def ours(endpoint, *args, stdin=None, env=None):
    if env is None:
        return _warm_ours().run(["--endpoint", endpoint, *args], 30, stdin)
    argv = [sys.executable, "-m", "circus.cli.circusctl", "--endpoint", endpoint, *args]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=30, input=stdin, env=env, cwd=REPO
    )


def original(endpoint, *args):
    return circusctl_output.original().run(["--endpoint", endpoint, *args], timeout=30)


def test_plain_outputs(ipc_server):
    e = ipc_server.endpoint
    assert ours(e, "status").stdout == "Other: stopped\nsleeper: active\n"
    assert ours(e, "status", "sleeper").stdout == "active\n"
    assert ours(e, "list").stdout == "other,sleeper\n"
    assert ours(e, "numwatchers").stdout == "2\n"
    assert ours(e, "incr", "sleeper", "--waiting").stdout == "3\n"
    assert ours(e, "incr", "sleeper").stdout == "ok\n"
    assert ours(e, "get", "sleeper", "env").stdout == "env: \n"
    tmp = ipc_server.config_path.parent
    assert ours(e, "listsockets").stdout == (
        f"3:socket 'local' at {tmp}/x.sock\n4:socket 'web' at 127.0.0.1:8080\n"
    )


def test_error_reply_exit_3_on_stderr(ipc_server):
    result = ours(ipc_server.endpoint, "status", "nope")
    assert (result.returncode, result.stdout, result.stderr) == (
        3,
        "",
        "error: program nope not found\n",
    )


def test_json_and_prettify(ipc_server):
    result = ours(ipc_server.endpoint, "--json", "status", "sleeper")
    reply = json.loads(result.stdout)
    assert result.returncode == 0 and reply["status"] == "active" and "id" in reply
    result = ours(ipc_server.endpoint, "status", "nope", "--json", "--prettify")
    assert result.returncode == 3
    assert result.stdout.startswith('{\n  "errno": 3,\n  "id": ')
    assert json.loads(result.stdout)["reason"] == "program nope not found"


def test_usage_errors(ipc_server):
    result = ours(ipc_server.endpoint, "get", "sleeper")
    assert result.returncode == 2 and "invalid number of arguments" in result.stderr
    result = ours(ipc_server.endpoint, "set", "sleeper", "numprocesses", "lots")
    assert result.returncode == 2 and "expected an integer, got 'lots'" in result.stderr


def test_add_with_own_options_after_double_dash(ipc_server):
    e = ipc_server.endpoint
    assert ours(e, "add", "--start", "w2", "--", "sleep", "-x").stdout == "ok\n"
    assert "cmd: sleep -x" in ours(e, "options", "w2").stdout.splitlines()


def test_environment_endpoint(ipc_server, monkeypatch, capsys):
    """circusctl's main in this process (test_listen_prints_events runs circusctl processes
    that find circusd through $CIRCUSCTL_ENDPOINT)."""
    from circus.cli import circusctl

    monkeypatch.setenv("CIRCUSCTL_ENDPOINT", ipc_server.endpoint)
    capsys.readouterr()
    assert circusctl.main(["numwatchers"]) == 0
    assert capsys.readouterr().out == "2\n"


@pytest.mark.parametrize("how", ["discovered", "--endpoint", "argument"])
def test_listen_prints_events(ipc_server, how):
    """--endpoint of listen is the pub/sub endpoint (as in the original); without it circusctl
    asks circusd (at $CIRCUSCTL_ENDPOINT here) where it publishes."""
    base = [sys.executable, "-u", "-m", "circus.cli.circusctl"]
    env = dict(os.environ, CIRCUSCTL_ENDPOINT=ipc_server.endpoint)
    argv = {
        "discovered": [*base, "listen", "watcher.sleeper."],
        "--endpoint": [*base, "--endpoint", ipc_server.pubsub_endpoint, "listen"],
        "argument": [*base, "listen", ipc_server.pubsub_endpoint, "watcher."],
    }[how]
    with support.running(argv, stdout=subprocess.PIPE, cwd=REPO, env=env) as proc:
        os.set_blocking(proc.stdout.fileno(), False)
        from circus.client import CircusClient

        lines: list[str] = []

        def got_spawn():
            with CircusClient(endpoint=ipc_server.endpoint, timeout=10) as client:
                client.send_message("incr", name="sleeper", waiting=True)
            chunk = proc.stdout.read() or b""
            lines.extend(chunk.decode().splitlines())
            return any(line.startswith("watcher.sleeper.spawn: {") for line in lines)

        support.wait_for(got_spawn, timeout=20, interval=0.2, message="a spawn event")
    line = next(line for line in lines if line.startswith("watcher.sleeper.spawn: "))
    payload = json.loads(line.split(": ", 1)[1])
    assert payload["process_pid"] > 0


def test_interactive_shell(ipc_server):
    script = "help\nhelp status\nlist\nstatus nope\nbogus\nexit\n"
    result = ours(ipc_server.endpoint, stdin=script)
    out = result.stdout
    assert result.returncode == 0
    assert out.startswith("circusctl ")
    assert "Other: stopped\nsleeper: active\n" in out  # the initial status
    assert "(circusctl) " in out
    assert "Get the status of a watcher or all watchers" in out
    assert "other,sleeper" in out
    assert "*** Unknown syntax: bogus" in out
    assert "error: program nope not found" in result.stderr


def test_shell_completion_of_watchers_and_flags(ipc_server):
    import argparse

    from circus.cli import circusctl
    from circus.control.commands import get_commands

    commands = get_commands()
    session = circusctl.Session(argparse.Namespace(endpoint=ipc_server.endpoint))
    shell = circusctl.Shell(session, commands, circusctl.build_parser(commands))
    try:
        assert shell.complete_args("start", "sl") == ["sleeper"]
        assert shell.complete_args("start", "--w") == ["--waiting"]
        assert "status" in shell.completenames("sta")
    finally:
        session.close()


def test_quit_waiting_gets_its_reply(ipc_server):
    result = ours(ipc_server.endpoint, "quit", "--waiting", "--stop-workers")
    assert (result.returncode, result.stdout) == (0, "ok\n")
    assert not ipc_server.host.running()  # --stop-workers, done before the waiting reply
    # the reply leaves as the controller closes, the last step before the arbiter marks
    # itself stopped (an immediate check failed once at load 117)
    support.wait_for(ipc_server.stopped, timeout=10, message="the arbiter stopped")


# --- the original circusctl 0.19 against our controller -------------------------------------------

needs_original = pytest.mark.skipif(
    not ORIGINAL.exists(), reason="the original circusctl (.venv-circus019) is missing"
)


@pytest.mark.compat
@needs_original
@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("status", "sleeper"),
        ("list",),
        ("numwatchers",),
        ("numprocesses",),
        ("globaloptions", "check_delay"),
        ("get", "sleeper", "numprocesses"),
        ("listsockets",),
        ("dstats",),
        ("options", "sleeper"),
        ("list", "nope"),
        ("get", "sleeper", "nope"),
        ("incr", "sleeper", "--waiting"),
        ("decr", "sleeper", "--waiting"),
    ],
)
def test_original_circusctl_output_matches_ours(ipc_server, args):
    theirs = original(ipc_server.endpoint, *args)
    mine = ours(ipc_server.endpoint, *args)
    if args[0] in ("incr", "decr"):  # both change the count: compare shapes
        assert theirs.stdout.strip().isdigit() and mine.stdout.strip().isdigit()
        return
    if args[0] == "dstats":  # circusd's own memory and cpu move between the two calls
        assert theirs.returncode == mine.returncode == 0
        assert theirs.stdout.split()[:5] == mine.stdout.split()[:5]  # title, pid, name, user
        return
    assert (theirs.returncode, theirs.stdout, theirs.stderr) == (
        mine.returncode,
        mine.stdout,
        mine.stderr,
    )


@pytest.mark.compat
@needs_original
def test_original_circusctl_drives_every_mutating_command(ipc_server):
    e = ipc_server.endpoint
    steps = [
        (("add", "w2", "sleep", "5"), "ok"),
        (("start", "w2", "--waiting"), "ok"),
        (("status", "w2"), "active"),
        (("set", "w2", "numprocesses", "2"), "ok"),
        (("restart", "w2", "--waiting"), "ok"),
        (("reload", "w2", "--waiting"), "ok"),
        (("signal", "w2", "hup"), "ok"),
        (("kill", "w2", "--waiting"), "ok"),
        (("stop", "w*", "--waiting"), "ok"),
        (("status", "w2"), "stopped"),
        (("rm", "w2"), "ok"),
        (("reloadconfig",), "ok"),  # before rm, it would remove w2 (not in the file) itself
        (("start",), "ok"),
    ]
    for args, expected in steps:
        # a reload waits min_uptime (1 s) for its new processes, on the arbiter's clock
        with ipc_server.jumping_over(1) if args[0] == "reload" else contextlib.nullcontext():
            result = original(e, *args)
        assert (result.returncode, result.stdout.strip()) == (0, expected), (args, result)
    result = original(e, "start", "nope")
    assert (result.returncode, result.stderr) == (3, "error: program nope not found\n")
    assert original(e, "quit").stdout == "ok\n"
    support.wait_for(ipc_server.stopped)
    assert ipc_server.host.running()  # quit without --stop-workers: the kernel keeps them
