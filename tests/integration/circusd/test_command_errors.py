"""Every command that can be refused is refused in its reply, waiting or not (issue 8, item 4).

One real circusd (module-wide), real ZeroMQ control channel. Each case is sent twice, with
``waiting`` false and true; both replies must be ``status: error`` with a reason naming what was
wrong, and nothing may have changed afterwards. The table follows docs/commands.md ("Errors").
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import support

pytestmark = pytest.mark.timeout(60)
CONFIG = textwrap.dedent(f"""
    [watcher:web]
    cmd = {support.WORKER_CMD} sleep
    graceful_timeout = 5

    [watcher:single]
    cmd = {support.WORKER_CMD} sleep
    singleton = true
""")
BROKEN = CONFIG + "numprocesses = many\nhooks.after_start = nomodule.nofunc\n"


@dataclass(frozen=True)
class Case:
    command: str
    props: dict[str, Any] | Callable[[support.Circusd], dict[str, Any]]
    needle: str  # in the reason
    config: str | None = None  # written before the command, restored after
    errno: int = 3

    def id(self) -> str:
        return f"{self.command}-{self.needle}"


def _web_pid(d: support.Circusd) -> int:
    return d.pids("web")[0]


CASES = [
    # add
    Case("add", {"cmd": "x"}, "'name' is missing"),
    Case("add", {"name": "web", "cmd": "x"}, "already exist", errno=5),
    Case("add", {"name": "new", "cmd": "x", "options": {"numprocesses": "many"}}, "numprocesses"),
    Case("add", {"name": "new", "cmd": "x", "options": {"nope": 1}}, "unknown watcher option"),
    Case(
        "add",
        {"name": "new", "cmd": "x", "options": {"singleton": True, "numprocesses": 3}},
        "singleton",
    ),
    Case(
        "add",
        {"name": "new", "cmd": "x", "options": {"hooks.after_start": "nomodule.nofunc"}},
        "nomodule",
    ),
    Case(
        "add",
        {"name": "new", "cmd": "x", "options": {"stdout_stream.class": "nomodule.Stream"}},
        "nomodule",
    ),
    Case(
        "add",
        {"name": "new", "cmd": "x $(circus.sockets.nosock)", "options": {"use_sockets": True}},
        "nosock",
    ),
    # decr / incr
    Case("decr", {"name": "nope"}, "program nope not found"),
    Case("decr", {"name": "web", "nb": -1}, "'nb'"),
    Case("incr", {"name": "nope"}, "program nope not found"),
    Case("incr", {"name": "web", "nb": "lots"}, "'nb'"),
    # get / globaloptions / options
    Case("get", {"name": "nope", "keys": ["cmd"]}, "program nope not found"),
    Case("get", {"name": "web", "keys": ["nokey"]}, "'nokey' option not found"),
    Case("globaloptions", {"option": "nokey"}, "not an existing option"),
    Case("options", {"name": "nope"}, "program nope not found"),
    # ipython (ipykernel is not installed in the test environment)
    Case("ipython", {}, "ipykernel"),
    # kill
    Case("kill", {"name": "nope"}, "program nope not found"),
    Case("kill", {"name": "web", "pid": 1}, "process '1' not found"),
    Case("kill", {"name": "web", "signum": "NOSIG"}, "signal invalid"),
    Case("kill", {"name": "web", "graceful_timeout": -1}, "graceful_timeout"),
    # list / listen / numprocesses / stats / status
    Case("list", {"name": "nope"}, "program nope not found"),
    Case("listen", {}, "use a pub/sub socket"),
    Case("numprocesses", {"name": "nope"}, "program nope not found"),
    Case("stats", {"name": "nope"}, "program nope not found"),
    Case("stats", {"name": "web", "process": 1}, "process '1' not found"),
    Case("stats", {"process": 1}, "needs 'name'"),
    Case("status", {"name": "nope"}, "program nope not found"),
    # reload / reloadconfig
    Case("reload", {"name": "nope"}, "program nope not found"),
    Case("reloadconfig", {}, "nomodule", config=BROKEN),
    Case("reloadconfig", {}, "numprocesses", config=BROKEN),
    # restart / start / stop
    Case("restart", {"name": "nope"}, "program nope not found"),
    Case("start", {"name": "nope"}, "program nope not found"),
    Case("start", {"name": "web", "match": "fuzzy"}, "unknown match method"),
    Case("stop", {"name": "nope"}, "program nope not found"),
    Case("stop", {"name": "[", "match": "regex"}, "invalid regex"),
    # rm
    Case("rm", {"name": "nope"}, "program nope not found"),
    # set
    Case("set", {"name": "nope", "options": {"numprocesses": 2}}, "program nope not found"),
    Case("set", {"name": "web", "options": {}}, "no option given"),
    Case("set", {"name": "web", "options": {"nokey": 1}}, "unknown watcher option"),
    Case("set", {"name": "web", "options": {"numprocesses": "many"}}, "numprocesses"),
    Case("set", {"name": "single", "options": {"numprocesses": 3}}, "singleton"),
    Case("set", {"name": "web", "options": {"hooks.after_start": "nomodule.nofunc"}}, "nomodule"),
    Case("set", {"name": "web", "options": {"stdout_stream.class": "nomodule.Stream"}}, "nomodule"),
    Case("set", {"name": "web", "options": {"copy_path": True}}, "copy_env"),
    # signal
    Case("signal", {"name": "nope", "signum": "HUP"}, "program nope not found"),
    Case("signal", {"name": "web", "signum": "NOSIG"}, "signal invalid"),
    Case("signal", {"name": "web", "signum": "HUP", "pid": 1}, "process '1' not found"),
    Case("signal", {"name": "web", "signum": "HUP", "childpid": 1}, "without pid", errno=5),
    Case(
        "signal",
        lambda d: {"name": "web", "signum": "HUP", "pid": _web_pid(d), "childpid": 1},
        "child '1' not found",
    ),
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    runtime = tmp_path_factory.mktemp("run")
    runtime.chmod(0o700)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_RUNTIME_DIR", str(runtime))
        d = support.Circusd(tmp_path_factory.mktemp("d"), CONFIG)
        try:
            d.start()
            support.wait_for(lambda: d.try_call("list", name="web").get("pids"), message="web")
            # one connection for the module's ~500 calls (a client per call costs more CPU
            # than the call; the replies are the same)
            client = d.client()

            def call(command: str, timeout: float = 10, **props) -> dict:
                return client.call({"command": command, "properties": props}, timeout=timeout)

            d.call = call  # type: ignore[method-assign]
            try:
                yield d
            finally:
                del d.call
                client.stop()
        finally:
            d.cleanup()


def _state(d: support.Circusd) -> dict[str, Any]:
    """What a refused command must not change."""
    return {
        "watchers": d.ok("list")["watchers"],
        "web": d.ok("options", name="web")["options"],
        "single": d.ok("options", name="single")["options"],
        "web pids": d.pids("web"),
        "statuses": d.ok("status")["statuses"],
    }


@pytest.mark.parametrize("waiting", [False, True], ids=["now", "waiting"])
@pytest.mark.parametrize("case", CASES, ids=[case.id() for case in CASES])
def test_refused_in_the_reply(daemon, case: Case, waiting: bool):
    before = _state(daemon)
    props = case.props(daemon) if callable(case.props) else dict(case.props)
    if case.config is not None:
        daemon.write_config(case.config)
    try:
        reply = daemon.call(case.command, **props, waiting=waiting)
    finally:
        if case.config is not None:
            daemon.write_config(CONFIG)
    assert reply["status"] == "error", reply
    assert case.needle in reply["reason"], reply
    assert reply["errno"] == case.errno, reply
    assert _state(daemon) == before
    assert "failed" not in _new_log_lines(daemon), "the error was (also) only logged"


_LOG_SEEN: dict[str, int] = {}


def _new_log_lines(d: support.Circusd) -> str:
    """circusd's log lines since the last call (a failure logged by a background operation
    shows up here)."""
    text = d.log()
    start = _LOG_SEEN.get(d.log_path, 0)
    _LOG_SEEN[d.log_path] = len(text)
    return text[start:]


def test_accepted_changes_are_taken_before_the_reply(daemon, worker_cmd):
    """Without waiting, the reply comes once the change is taken: the next command sees it.
    (The module's circusd: web is put back to one process and its graceful_timeout of 5.)"""
    d = daemon
    d.ok("add", name="gone", cmd=f"{worker_cmd} sleep", start=True, waiting=True)
    try:
        assert d.ok("set", name="web", options={"numprocesses": 3, "graceful_timeout": 2})
        assert d.ok("get", name="web", keys=["numprocesses", "graceful_timeout"])["options"] == {
            "numprocesses": 3,
            "graceful_timeout": 2.0,
        }
        d.ok("incr", name="web", nb=2)
        assert d.ok("get", name="web", keys=["numprocesses"])["options"]["numprocesses"] == 5
        d.ok("decr", name="web", nb=4)
        assert d.ok("get", name="web", keys=["numprocesses"])["options"]["numprocesses"] == 1
        d.ok("rm", name="gone")
        assert d.ok("list")["watchers"] == ["single", "web"]
        support.wait_for(lambda: len(d.pids("web")) == 1, message="web back to one process")
    finally:
        if "gone" in d.ok("list")["watchers"]:
            d.ok("rm", name="gone", waiting=True)
        d.ok("set", name="web", options={"numprocesses": 1, "graceful_timeout": 5}, waiting=True)
