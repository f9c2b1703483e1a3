"""Fleet commands: circusctl (and circus.client.fan_out) on several real circusds at once."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
import support

from circus.cli import circusctl
from circus.client import Fleet, Host, fan_out, make_message
from circus.errors import ConfigError

pytestmark = pytest.mark.timeout(150)


def _body(name: str, worker_cmd: str) -> str:
    return f"""
        [watcher:{name}]
        cmd = {worker_cmd} sleep
        numprocesses = 1
        """


def _start_all(daemons) -> None:
    """Start every circusd first, then wait for each: they boot in parallel."""
    for daemon in daemons:
        daemon.start(wait=False)
    for daemon in daemons:
        support.wait_for(daemon._ready, timeout=40, message=f"circusd at {daemon.endpoint} ready")


@pytest.fixture(scope="module")
def module_three(tmp_path_factory):
    """Three circusds: one on ipc, two on tcp (127.0.0.1), watchers app0, app1, app2; shared
    by the module's tests, which only read them (the rolling restart replaces the workers and
    leaves each watcher as it found it: active, one process)."""
    workdir = tmp_path_factory.mktemp("three")
    runtime = workdir / "run"
    runtime.mkdir(mode=0o700)
    worker_cmd = support.WORKER_CMD
    daemons = []
    try:
        for index in range(3):
            daemon = support.Circusd(workdir / f"d{index}", _body(f"app{index}", worker_cmd))
            daemon.env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
            if index:
                daemon.endpoint = f"tcp://127.0.0.1:{support.free_port()}"
                daemon.write_config(_body(f"app{index}", worker_cmd))
            daemons.append(daemon)
        _start_all(daemons)
        yield daemons
    finally:
        for daemon in daemons:
            daemon.cleanup()


@pytest.fixture
def three(module_three):
    """The module's three circusds, each with its watcher active and one process."""
    for index, daemon in enumerate(module_three):
        assert daemon.ok("status")["statuses"] == {f"app{index}": "active"}
        assert len(daemon.pids(f"app{index}")) == 1
    return module_three


def _circusctl(capsys, *args: str) -> tuple[int, str, str]:
    """circusctl in this process (no Python start-up: timings are circusctl's own)."""
    code = circusctl.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _endpoint_args(daemons) -> list[str]:
    return [word for daemon in daemons for word in ("--endpoint", daemon.endpoint)]


def test_status_on_three_hosts_one_block_each(three, capsys):
    """circusctl's main here (a fleet status as a process: test_fleet_netns.py)."""
    code, out, err = _circusctl(capsys, *_endpoint_args(three), "status")
    assert code == 0, err
    expected = "\n\n".join(f"== {d.endpoint} ==\napp{i}: active" for i, d in enumerate(three))
    assert out == expected + "\n"
    assert err == ""


def test_json_is_one_object_keyed_by_host(three, capsys):
    code, out, _ = _circusctl(capsys, *_endpoint_args(three), "--json", "status")
    assert code == 0
    replies = json.loads(out)
    assert list(replies) == [d.endpoint for d in three]
    for index, daemon in enumerate(three):
        assert replies[daemon.endpoint]["status"] == "ok"
        assert replies[daemon.endpoint]["statuses"] == {f"app{index}": "active"}


def test_rolling_restart_one_host_at_a_time(three, capsys):
    """The loop docs/remote.md shows: restart each host in turn, stop at the first failure."""
    before = [d.pids(f"app{i}") for i, d in enumerate(three)]
    for index, daemon in enumerate(three):
        code, out, err = _circusctl(capsys, "--endpoint", daemon.endpoint, "restart", "--waiting")
        assert (code, err) == (0, ""), out
        now = [d.pids(f"app{i}") for i, d in enumerate(three)]
        for other in range(3):  # restarted so far: new pids; the others untouched
            assert (now[other] != before[other]) == (other <= index), (index, before, now)
    code, out, _ = _circusctl(capsys, *_endpoint_args(three), "status")
    assert code == 0 and out.count(": active") == 3


def test_unreachable_host_is_reported_and_blocks_no_one(three, capsys, tmp_path):
    nobody = f"tcp://127.0.0.1:{support.free_port()}"
    gone = f"ipc://{tmp_path}/gone.sock"
    timeout = 2.0
    started = time.monotonic()
    code, out, err = _circusctl(
        capsys,
        "--timeout",
        str(timeout),
        "--endpoint",
        three[0].endpoint,
        "--endpoint",
        nobody,
        "--endpoint",
        gone,
        "--endpoint",
        three[1].endpoint,
        "status",
    )
    elapsed = time.monotonic() - started
    assert code == circusctl.EXIT_CALL_ERROR
    assert elapsed < timeout + 3, elapsed  # concurrent: one timeout, not one per host
    blocks = out.split("\n\n")
    assert blocks[0] == f"== {three[0].endpoint} ==\napp0: active"
    assert blocks[1].startswith(f"== {nobody} ==\nerror: cannot reach circusd at {nobody}")
    assert blocks[2].startswith(f"== {gone} ==\nerror: circusd is not running at {gone}")
    assert blocks[3] == f"== {three[1].endpoint} ==\napp1: active\n"
    assert err == f"circusctl: 2 of 4 hosts failed: {nobody}, {gone}\n"


def test_error_reply_exit_3_unless_a_host_is_unreachable(three, capsys):
    code, out, _ = _circusctl(capsys, *_endpoint_args(three[:2]), "status", "app0")
    assert code == circusctl.EXIT_ERROR_REPLY  # app0 exists on the first host only
    assert out.startswith(
        f"== {three[0].endpoint} ==\nactive\n\n== {three[1].endpoint} ==\nerror: "
    )
    assert "error: error" not in out  # the command's own "error: " is not doubled
    nobody = f"tcp://127.0.0.1:{support.free_port()}"
    args = [*_endpoint_args(three[:2]), "--endpoint", nobody, "--timeout", "1", "status", "app0"]
    code, _, _ = _circusctl(capsys, *args)
    assert code == circusctl.EXIT_CALL_ERROR  # no reply at all outranks an error reply


# --- hosts file and CURVE ------------------------------------------------------------------------


@pytest.fixture
def curve_and_plain(circusd, worker_cmd, tmp_path, three):
    """A CURVE circusd (tcp) and a plain one (ipc: the module's first, watcher app0), and the
    key files for the hosts file."""
    keys = support.curve_keys(tmp_path, others=("intruder",))  # keys/, as the hosts file says
    secure = circusd(_body("secure", worker_cmd), start=False)
    secure.endpoint = f"tcp://127.0.0.1:{support.free_port()}"
    secure.write_config(_body("secure", worker_cmd), keys.circus)
    secure.client_keys = keys.client()  # its status polls and its cleanup's quit get through
    secure.start()
    return secure, three[0]


def test_hosts_file_with_curve_keys_for_one_host(curve_and_plain, tmp_path, capsys):
    secure, plain = curve_and_plain
    hosts = tmp_path / "fleet.ini"
    hosts.write_text(f"""
[secure]
endpoint = {secure.endpoint}
curve_secret_key = keys/client.key_secret   ; relative to this file
curve_server_key = keys/server.key

[plain]
endpoint = {plain.endpoint}

[intruder]
endpoint = {secure.endpoint}
curve_secret_key = keys/intruder.key_secret
curve_server_key = keys/server.key
""")
    code, out, err = _circusctl(capsys, "--hosts", str(hosts), "--timeout", "3", "--json", "status")
    replies = json.loads(out)
    assert list(replies) == ["secure", "plain", "intruder"]
    assert replies["secure"]["statuses"] == {"secure": "active"}
    assert replies["plain"]["statuses"] == {"app0": "active"}
    assert replies["intruder"]["status"] == "error"
    assert replies["intruder"]["call_failed"] is True
    assert "refused this client's CURVE key" in replies["intruder"]["reason"]
    assert code == circusctl.EXIT_CALL_ERROR
    assert err == "circusctl: 1 of 3 hosts failed: intruder\n"
    # text blocks name the host and its endpoint
    code, out, _ = _circusctl(capsys, "--hosts", str(hosts), "--timeout", "3", "status")
    assert out.startswith(f"== secure ({secure.endpoint}) ==\nsecure: active\n\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "names no host"),
        ("[a]\nendpoint = ipc:///x\nport = 3\n", r"\[a\]: unknown option 'port'"),
        ("[a]\ncurve_server_key = k\n", r"\[a\]: no endpoint"),
        ("[a]\nendpoint = somewhere\n", r"\[a\]: endpoint 'somewhere' is not a ZeroMQ address"),
        ("[a]\nendpoint = ipc:///x\ncurve_server_key = nokey\n", r"curve_server_key 'nokey'"),
        ("[a]\nendpoint = ipc:///x\n[a]\nendpoint = ipc:///y\n", "section 'a' already exists"),
    ],
)
def test_bad_hosts_file_is_a_usage_error(tmp_path, capsys, text, message):
    import re

    hosts = tmp_path / "hosts.ini"
    hosts.write_text(text)
    code, out, err = _circusctl(capsys, "--hosts", str(hosts), "status")
    assert (code, out) == (circusctl.EXIT_USAGE, "")
    assert err.startswith(f"error: hosts file {hosts}") or "already exists" in err, err
    assert re.search(message, err), err


def test_half_curve_in_hosts_file(tmp_path, capsys):
    (tmp_path / "k").write_text("")
    hosts = tmp_path / "hosts.ini"
    hosts.write_text("[a]\nendpoint = ipc:///x\ncurve_server_key = k\n")
    code, _, err = _circusctl(capsys, "--hosts", str(hosts), "status")
    assert code == circusctl.EXIT_USAGE
    assert "[a]: CURVE needs both curve_secret_key and curve_server_key" in err


def test_shell_and_listen_stay_single_host(capsys):
    args = ["--endpoint", "ipc:///a.sock", "--endpoint", "ipc:///b.sock"]
    code, _, err = _circusctl(capsys, *args)
    assert code == circusctl.EXIT_USAGE and "interactive shell drives one circusd" in err
    code, _, err = _circusctl(capsys, *args, "listen")
    assert code == circusctl.EXIT_USAGE and "listen follows one circusd" in err
    code, _, err = _circusctl(capsys, *args, "--endpoint", "ipc:///a.sock", "list")
    assert code == circusctl.EXIT_USAGE and "'ipc:///a.sock' given more than once" in err


# --- the library helper --------------------------------------------------------------------------


def test_fan_out_helper_directly(three):
    nobody = f"tcp://127.0.0.1:{support.free_port()}"
    hosts = [three[0].endpoint, Host("second", three[1].endpoint), nobody]

    async def scenario():
        started = time.monotonic()
        results = await fan_out(hosts, make_message("status"), timeout=1.5)
        return results, time.monotonic() - started

    results, elapsed = asyncio.run(scenario())
    assert [r.host.name for r in results] == [three[0].endpoint, "second", nobody]
    assert [r.ok for r in results] == [True, True, False]
    assert results[1].reply["statuses"] == {"app1": "active"}
    assert results[2].reply is None and "cannot reach circusd" in results[2].error
    assert elapsed < 1.5 + 3, elapsed

    async def reuse():  # a Fleet keeps one client per host across calls
        async with Fleet([d.endpoint for d in three], timeout=10) as f:
            first = await f.send_message("numwatchers")
            second = await f.send_message("list")
            return first, second

    first, second = asyncio.run(reuse())
    assert [r.reply["numwatchers"] for r in first] == [1, 1, 1]
    assert [r.reply["watchers"] for r in second] == [["app0"], ["app1"], ["app2"]]
    with pytest.raises(ConfigError, match="host named more than once: x"):
        Fleet([Host("x", "ipc:///a"), Host("x", "ipc:///b")])


def test_dead_and_silent_hosts_overlap(runtime_dir):
    """Four hosts that never answer (two where nothing listens, two that accept and stay
    silent, like a hung circusd) cost one timeout together, not four in a row."""
    import zmq

    context = zmq.Context.instance()
    silent = [context.socket(zmq.ROUTER) for _ in range(2)]
    try:
        hung = [f"tcp://127.0.0.1:{s.bind_to_random_port('tcp://127.0.0.1')}" for s in silent]
        nobody = [f"tcp://127.0.0.1:{support.free_port()}" for _ in range(2)]
        timeout = 1.0
        started = time.monotonic()
        results = asyncio.run(fan_out([*hung, *nobody], make_message("status"), timeout))
        elapsed = time.monotonic() - started
    finally:
        for socket in silent:
            socket.close(linger=0)
    assert elapsed < 2 * timeout, elapsed  # in a row, the two silent ones alone: 2 timeouts
    assert [r.ok for r in results] == [False] * 4
    for result in results[:2]:
        assert result.error.startswith(f"Timed out. (connected to {result.host.endpoint}")
    for result in results[2:]:
        assert result.error.startswith(f"cannot reach circusd at {result.host.endpoint}")
