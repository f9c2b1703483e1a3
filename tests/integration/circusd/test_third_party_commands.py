"""A control command written as the manual's "Adding new commands" shows, in a module of its own,
registered through ``[circus] commands`` and called with circusctl over the real control channel
(issue 8, item 6)."""

import functools
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(60)

# The manual's example, with a name of its own (the manual's "numwatchers" is a built-in) and
# consistent properties: original-style options, string properties, synchronous execute using
# the original arbiter API, validate editing props in place, message/console_msg.
MODULE = '''
from circus.commands.base import Command
from circus.exc import ArgumentError, MessageError


class CountWatchers(Command):
    """Count the watchers whose name starts with a prefix

    A third-party command, written as the manual shows.
    """

    name = "countwatchers"
    waiting = True
    options = [("", "prefix", "", "only watchers whose name starts with PREFIX")]
    properties = ["label"]

    def execute(self, arbiter, props):
        matching = [w for w in arbiter.watchers if w.name.startswith(props.get("prefix", ""))]
        if props.get("prefix"):
            self._get_watcher(arbiter, matching[0].name) if matching else None
        return {"numwatchers": arbiter.numwatchers(), "matching": len(matching),
                "label": props["label"]}

    def console_msg(self, msg):
        if msg.get("status") == "ok":
            return "%s: %d of %d" % (msg["label"], msg["matching"], msg["numwatchers"])
        return self.console_error(msg)

    def message(self, *args, **opts):
        numArgs = 1
        if not len(args) == numArgs:
            raise ArgumentError("Invalid number of arguments.")
        else:
            opts["label"] = args[0]
        return self.make_message(**opts)

    def validate(self, props):
        super(CountWatchers, self).validate(props)
        if not props["label"]:
            raise MessageError("the label is empty")
        props["label"] = props["label"].upper()
'''


@pytest.fixture
def extension(tmp_path, monkeypatch):
    """A directory on PYTHONPATH (for circusd and circusctl) holding ``mycommands.py``."""
    path = tmp_path / "ext"
    path.mkdir()
    (path / "mycommands.py").write_text(MODULE)
    paths = [str(path), os.environ.get("PYTHONPATH")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    return path


def circusctl(endpoint, *args, stdin=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "circus.cli.circusctl", "--endpoint", endpoint, *args],
        capture_output=True,
        text=True,
        timeout=30,
        input=stdin,
        env=env,
    )


def check_config(path):
    return subprocess.run(
        [sys.executable, "-m", "circus.cli.circusd", "--check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def here(extension, monkeypatch, capsys):
    """``here(tool, *args)``: circusctl or check-config run in this process, importing the
    extension's modules from sys.path (a circusctl process imports them from PYTHONPATH, as
    the first call of each test shows); returns (exit code, stdout, stderr). The commands they
    register and the modules are taken away after."""
    from circus.cli import check_config as check_tool
    from circus.cli import circusctl as ctl_tool
    from circus.control.commands import base

    monkeypatch.syspath_prepend(str(extension))
    registry = dict(base.REGISTRY)
    tools = {"circusctl": ctl_tool.main, "check-config": check_tool.main}

    def run(tool: str, *args: str) -> tuple[int, str, str]:
        code = tools[tool](list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    base.REGISTRY.clear()
    base.REGISTRY.update(registry)
    for name in ("mycommands", "clash", "nomodule"):
        sys.modules.pop(name, None)


def test_a_command_written_as_the_manual_shows_is_callable_from_circusctl(
    circusd, worker_cmd, extension, here
):
    d = circusd(
        f"""
        [watcher:api]
        cmd = {worker_cmd} sleep
        [watcher:apiworker]
        cmd = {worker_cmd} sleep
        [watcher:web]
        cmd = {worker_cmd} sleep
    """,
        circus_extra="commands = mycommands\n",
    )
    result = circusctl(d.endpoint, "countwatchers", "apis", "--prefix", "api")
    assert (result.returncode, result.stdout, result.stderr) == (0, "APIS: 2 of 3\n", "")

    def ctl(*args):
        return here("circusctl", "--endpoint", d.endpoint, *args)

    assert ctl("countwatchers", "all")[1] == "ALL: 3 of 3\n"
    reply = json.loads(ctl("--json", "countwatchers", "x")[1])
    assert (reply["status"], reply["label"], reply["numwatchers"]) == ("ok", "X", 3)
    # its help comes from its docstring; its usage errors are circusctl's
    assert "Count the watchers" in ctl("countwatchers", "--help")[1]
    code, _, err = ctl("countwatchers")
    assert code == 2 and "Invalid number of arguments." in err
    # circusd checks the mandatory property and runs the command's own validate
    assert d.call("countwatchers")["reason"].startswith("message invalid 'label' is missing")
    reply = d.call("countwatchers", label="")
    assert (reply["status"], reply["reason"], reply["errno"]) == ("error", "the label is empty", 3)
    assert d.call("globaloptions", option="commands")["options"] == {"commands": ["mycommands"]}
    # the built-ins still work beside it, and an unknown command is still refused
    assert ctl("numwatchers")[1] == "3\n"
    code, _, err = ctl("nosuchcommand")
    assert code == 2 and "nosuchcommand" in err
    # the shell loads them too
    result = circusctl(d.endpoint, stdin="countwatchers shell --prefix web\n")
    assert "SHELL: 1 of 3" in result.stdout
    # a circusctl that cannot import the module says which one, and why
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = circusctl(d.endpoint, "countwatchers", "x", env=env)
    assert result.returncode == 2
    assert "command module: cannot import module 'mycommands'" in result.stderr
    assert "ModuleNotFoundError" in result.stderr


def test_check_config_imports_the_command_modules(tmp_path, extension, here):
    bad = tmp_path / "bad.ini"
    bad.write_text("[circus]\ncommands = mycommands nomodule\n")
    result = check_config(bad)
    assert result.returncode == 1
    expected = "bad.ini:2 [circus] commands: command module: cannot import module 'nomodule'"
    assert expected in result.stderr
    (extension / "clash.py").write_text(
        textwrap.dedent('''
        from circus.commands.base import Command

        class NumWatchers(Command):
            """The manual's example as is: its name is a built-in's"""
            name = "numwatchers"
    ''')
    )
    bad.write_text("[circus]\ncommands = clash\n")
    code, _, err = here("check-config", str(bad))
    assert code == 1
    assert (
        "command 'numwatchers' of clash.NumWatchers is already defined by "
        "circus.control.commands.numwatchers.NumWatchers" in err
    )
    good = tmp_path / "good.ini"
    good.write_text("[circus]\ncommands = mycommands\n")
    assert here("check-config", str(good))[0] == 0


def test_fleet_mode_runs_a_third_party_command_like_a_built_in(
    circusd, worker_cmd, extension, here
):
    """Several --endpoint: one block per host. circusctl imports the command from the first
    host that has it (without waiting for the others), a host without it answers with an
    error, and an unreachable host costs the command's timeout once, not twice."""
    import time

    import support

    body = f"[watcher:api]\ncmd = {worker_cmd} sleep\n"
    plain = circusd(body, start=False)
    first = circusd(body, circus_extra="commands = mycommands\n", start=False)
    second = circusd(body, circus_extra="commands = mycommands\n", start=False)
    for daemon in (plain, first, second):
        daemon.start(wait=False)
    for daemon in (plain, first, second):
        support.wait_for(daemon._ready, timeout=40, message=f"{daemon.endpoint} ready")
    nobody = f"tcp://127.0.0.1:{support.free_port()}"
    timeout = 4.0
    fleet = ["--endpoint", plain.endpoint, "--endpoint", second.endpoint]
    started = time.monotonic()
    result = circusctl(
        first.endpoint, *fleet, "--endpoint", nobody, "--timeout", str(timeout),
        "countwatchers", "apis", "--prefix", "api",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert result.stdout.split("\n\n") == [
        f"== {first.endpoint} ==\nAPIS: 1 of 1",
        f"== {plain.endpoint} ==\nerror: unknown command: 'countwatchers'",
        f"== {second.endpoint} ==\nAPIS: 1 of 1",
        f"== {nobody} ==\nerror: cannot reach circusd at {nobody}: nothing answers there "
        "(connection refused or no route; is circusd running with this endpoint?)\n",
    ]
    assert result.stderr == f"circusctl: 2 of 4 hosts failed: {plain.endpoint}, {nobody}\n"
    assert elapsed < 2 * timeout - 0.5, elapsed  # one timeout (+ start-up), not two
    # --json and --serial as for a built-in
    ctl = functools.partial(here, "circusctl", "--endpoint")
    replies = json.loads(ctl(first.endpoint, *fleet, "--json", "countwatchers", "x")[1])
    assert [replies[d.endpoint]["status"] for d in (first, plain, second)] == ["ok", "error", "ok"]
    assert replies[first.endpoint]["label"] == "X"
    code, out, err = ctl(second.endpoint, "--endpoint", first.endpoint, "--serial",
                         "countwatchers", "y")  # fmt: skip
    assert (code, err) == (0, "")
    assert out == f"== {second.endpoint} ==\nY: 1 of 1\n\n== {first.endpoint} ==\nY: 1 of 1\n"
    # a command no host knows is still a usage error
    code, _, err = ctl(first.endpoint, *fleet, "nosuchcommand")
    assert code == 2 and "nosuchcommand" in err
