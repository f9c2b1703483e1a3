"""``--ssh`` / ``--ssh_keyfile``: the client tools and the Python client reach circusd through a
real OpenSSH server (tests/sshd.py: Debian's sshd on a loopback port, throwaway keys), and each
failure has its own message naming the ssh host. No ssh process outlives its tool."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import sshd as sshd_support
import support

from circus.client import AsyncCircusClient, CircusClient
from circus.errors import CallError
from circus.wire.ssh import SshTunnel, TunnelError

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(bool(sshd_support.unavailable()), reason=str(sshd_support.unavailable())),
]

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    server = sshd_support.Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ssh_env(sshd, monkeypatch):
    """This process' ssh client reads the test's config (never ~/.ssh); after the test, no ssh
    client of the test server is left."""
    for key, value in sshd.client_env().items():
        monkeypatch.setenv(key, value)
    yield sshd
    SshTunnel.close_all()
    leaked = sshd_support.ssh_clients_of(sshd.port)
    for proc in leaked:
        proc.kill()
    assert not leaked, f"ssh processes left: {[p.cmdline() for p in leaked]}"


APP = f"""
    [watcher:app]
    cmd = {support.WORKER_CMD} sleep
    numprocesses = 2
    """


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory):
    with support.module_circusd(tmp_path_factory.mktemp("daemon"), APP) as daemon:
        yield daemon


@pytest.fixture
def daemon(module_daemon):
    """The module's circusd, watcher app with 2 processes, as every test finds it (the tests
    only add processes, and they are taken away after)."""
    assert module_daemon.ok("status")["statuses"] == {"app": "active"}
    assert len(module_daemon.pids("app")) == 2
    yield module_daemon
    support.restore_numprocesses(module_daemon, "app", 2)


def _ssh_args(sshd, *, key: Path | None = None) -> list[str]:
    return ["--ssh", sshd.server, "--ssh_keyfile", str(key or sshd.client_key)]


def _tool(module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60):
    argv = [sys.executable, "-m", module, *args]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def _circusctl(*args: str, env=None, timeout: float = 60):
    return _tool("circus.cli.circusctl", *args, env=env, timeout=timeout)


@pytest.fixture
def circusctl_here(monkeypatch, capsys):
    """circusctl's main in this process, as ``_circusctl`` gives it (returncode, stdout, stderr):
    for the tests about what circusctl says, not about its process (those run ``_circusctl``;
    the ssh client is a real process either way). ``env`` is set for the call."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        from circus.cli import circusctl

        with monkeypatch.context() as patch:
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            capsys.readouterr()
            code = circusctl.main(list(args))
            out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["circusctl", *args], code, out, err)

    return run


# --- what works -----------------------------------------------------------------------------------


def test_python_client_through_ssh(ssh_env, daemon):
    with CircusClient(
        endpoint=daemon.endpoint, ssh_server=ssh_env.server, ssh_keyfile=str(ssh_env.client_key)
    ) as client:
        assert client.tunnel is not None and client.tunnel.alive()
        master = client.tunnel._process.pid
        # the local end: a unix socket only this user can use, in a directory of its own
        local = client.tunnel.forward(daemon.endpoint)[len("ipc://") :]
        assert stat.S_ISSOCK(os.stat(local).st_mode)
        assert stat.S_IMODE(os.stat(local).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(local)).st_mode) == 0o700
        directory = os.path.dirname(local)
        reply = client.send_message("status")
        assert reply["status"] == "ok" and reply["statuses"] == {"app": "active"}
        assert client.send_message("numprocesses", name="app")["numprocesses"] == 2
    assert not support.pid_alive(master), "the ssh master outlived the client"
    assert not os.path.exists(directory)


def test_original_positional_signature(ssh_env, daemon):
    """CircusClient(context, endpoint, timeout, ssh_server, ssh_keyfile), as circus 0.19."""
    client = CircusClient(None, daemon.endpoint, 10, ssh_env.server, str(ssh_env.client_key))
    try:
        assert client.send_message("list")["watchers"] == ["app"]
    finally:
        client.stop()


def test_original_get_connection(ssh_env, daemon):
    """circus.util.get_connection(socket, endpoint, ssh_server, ssh_keyfile), as 0.19's."""
    import json

    import zmq

    from circus.util import get_connection

    socket = zmq.Context.instance().socket(zmq.DEALER)
    try:
        get_connection(socket, daemon.endpoint, ssh_env.server, str(ssh_env.client_key))
        socket.send(json.dumps({"id": "1", "command": "list", "properties": {}}).encode())
        assert socket.poll(10_000), "no reply through the tunnel"
        assert json.loads(socket.recv())["watchers"] == ["app"]
    finally:
        socket.close(linger=0)


def test_async_client_through_ssh(ssh_env, daemon):
    import asyncio

    async def run():
        async with AsyncCircusClient(
            endpoint=daemon.endpoint, ssh_server=ssh_env.server, ssh_keyfile=str(ssh_env.client_key)
        ) as client:
            return await client.send_message("status")

    assert asyncio.run(run())["statuses"] == {"app": "active"}


def test_circusctl_status_and_commands_through_ssh(ssh_env, daemon, circusctl_here):
    """A circusctl process, then its main here for the other commands."""
    env = ssh_env.client_env()
    base = ["--endpoint", daemon.endpoint, *_ssh_args(ssh_env)]
    result = _circusctl(*base, "status", env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "app: active\n", "")
    result = circusctl_here(*base, "incr", "app")
    assert result.returncode == 0, result.stderr
    _wait_for_three(daemon)
    result = circusctl_here(*base, "--json", "numprocesses", "app")
    assert result.returncode == 0 and '"numprocesses": 3' in result.stdout
    assert not sshd_support.ssh_clients_of(ssh_env.port)


def test_interactive_shell_through_ssh(ssh_env, daemon, circusctl_here, monkeypatch):
    """The shell reads its commands from stdin (circusctl's main here: what it says)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("list\nincr app\nexit\n"))
    result = circusctl_here("--endpoint", daemon.endpoint, *_ssh_args(ssh_env))
    assert result.returncode == 0, result.stderr
    assert "app: active\n(circusctl) app\n(circusctl) ok\n" in result.stdout
    _wait_for_three(daemon)


def _wait_for_three(daemon) -> None:
    """incr without --waiting replies before the process is spawned (under load, the test's
    next 'list' came first: 2 pids, seen once in a full run)."""
    support.wait_for(lambda: len(daemon.pids("app")) == 3, message="the third app process")


def test_default_endpoint_is_circusds_default_on_the_ssh_host(ssh_env, daemon, circusctl_here):
    """Without --endpoint: the ssh user's runtime dir there ($XDG_RUNTIME_DIR of the session,
    set by the test's sshd_config) holds circusd's default socket; a key restricted to
    forwarding (restrict,port-forwarding) is enough."""
    default = ssh_env.runtime_dir / "circus" / "circus.sock"
    default.parent.mkdir(mode=0o700, exist_ok=True)
    default.unlink(missing_ok=True)
    default.symlink_to(daemon.endpoint[len("ipc://") :])
    env = {**ssh_env.client_env(), "CIRCUSCTL_ENDPOINT": ""}
    result = circusctl_here(*_ssh_args(ssh_env, key=ssh_env.restricted_key), "status", env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "app: active\n", "")
    default.unlink()
    result = circusctl_here("--timeout", "3", *_ssh_args(ssh_env), "status", env=env)
    assert result.returncode == 1
    assert f"nothing answers at ipc://{default} on 127.0.0.1" in result.stderr


def _interruptible() -> None:
    """In the child: SIGINT as a terminal gives it, whatever a test before left in the worker
    (an ignored or blocked SIGINT is inherited across exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _signal_masks(pid: int) -> str:
    with open(f"/proc/{pid}/status") as status:
        return " ".join(
            line.strip() for line in status if line.startswith(("SigBlk", "SigIgn", "SigCgt"))
        )


def test_circusctl_listen_through_ssh_and_ctrl_c(ssh_env, daemon):
    """listen asks circusd for its pub/sub endpoint, forwards it through the same tunnel and
    prints events; Ctrl-C (SIGINT) ends it and its ssh."""
    argv = [sys.executable, "-m", "circus.cli.circusctl", *_ssh_args(ssh_env), "listen"]
    env = {**os.environ, **ssh_env.client_env(), "CIRCUSCTL_ENDPOINT": daemon.endpoint}
    env["PYTHONFAULTHANDLER"] = "1"  # a hang after Ctrl-C shows where it is (SIGABRT below)
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
        preexec_fn=_interruptible,
    ) as listener:  # fmt: skip
        try:
            support.wait_for(
                lambda: sshd_support.ssh_clients_of(ssh_env.port), timeout=30, message="the tunnel"
            )
            # the subscription is live once an event arrives: send events until one does
            lines: list[str] = []

            def got_event() -> bool:
                daemon.ok("incr", name="app")
                import select

                if select.select([listener.stdout], [], [], 0.5)[0]:
                    lines.append(listener.stdout.readline())
                return any(line.startswith("watcher.app.") for line in lines)

            support.wait_for(got_event, timeout=30, interval=0, message="an event through ssh")
            listener.send_signal(signal.SIGINT)
            try:
                code = listener.wait(timeout=20)
            except subprocess.TimeoutExpired:
                masks = _signal_masks(listener.pid)
                listener.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
                listener.wait(timeout=10)
                pytest.fail(f"listen did not end on Ctrl-C ({masks}):\n" + listener.stderr.read())
            assert code == 0, listener.stderr.read()
        finally:
            if listener.poll() is None:
                listener.kill()
    support.wait_for(
        lambda: not sshd_support.ssh_clients_of(ssh_env.port), timeout=10, message="ssh gone"
    )


def test_ctrl_c_in_a_terminal_ends_the_tool_and_its_ssh(ssh_env, daemon, tmp_path):
    """Ctrl-C in a real terminal reaches the whole foreground group (circusctl and its ssh)."""
    argv = [sys.executable, "-m", "circus.cli.circusctl", *_ssh_args(ssh_env)]
    argv += ["--endpoint", daemon.endpoint, "listen", daemon.pubsub]
    terminal = support.Tmux(tmp_path, argv)
    try:

        def listening() -> bool:  # an event came through: the tunnel and the listener are up
            daemon.ok("incr", name="app")
            return "watcher.app." in terminal.screen()

        support.wait_for(listening, timeout=30, interval=0.3, message="events on the screen")
        terminal.keys("C-c")
        terminal.wait_screen(lambda s: "EXITED 0" in s)
        support.wait_for(
            lambda: not sshd_support.ssh_clients_of(ssh_env.port), timeout=10, message="no ssh"
        )
        assert "Traceback" not in terminal.screen()
    finally:
        terminal.close()


@pytest.fixture
def private_tmp(monkeypatch):
    """A temporary directory of the test's own (short: ssh's socket paths must fit 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="ssht-") as directory:
        monkeypatch.setattr(tempfile, "tempdir", directory)
        yield Path(directory)


def test_killed_tool_takes_its_ssh_with_it(ssh_env, daemon, private_tmp):
    """SIGKILL leaves no time to clean up: the kernel ends the ssh master (PR_SET_PDEATHSIG)."""
    # private_tmp: a tunnel opened meanwhile by a test running in parallel would clean the
    # killed tool's directory up before this test looks for it
    argv = [sys.executable, "-m", "circus.cli.circusctl", *_ssh_args(ssh_env)]
    argv += ["--endpoint", daemon.endpoint, "listen", daemon.pubsub]
    env = {**os.environ, **ssh_env.client_env(), "TMPDIR": str(private_tmp)}
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=env, cwd=REPO) as listener:
        masters = support.wait_for(
            lambda: sshd_support.ssh_clients_of(ssh_env.port), timeout=30, message="the tunnel"
        )
        listener.kill()
        listener.wait(timeout=10)
    # gone or a zombie: an orphan waits for pid 1 to reap it (seconds on some machines)
    support.wait_dead([master.pid for master in masters], timeout=10)
    # its directory stays behind; the next tunnel of this user removes it
    leftover = [
        path
        for path in Path(tempfile.gettempdir()).glob("circus-ssh-*")
        if (path / "owner.pid").is_file() and (path / "owner.pid").read_text() == str(listener.pid)
    ]
    assert len(leftover) == 1
    with CircusClient(
        endpoint=daemon.endpoint, ssh_server=ssh_env.server, ssh_keyfile=str(ssh_env.client_key)
    ) as client:
        assert client.send_message("status")["status"] == "ok"
    assert not leftover[0].exists()


# --- errors: each its own message, naming the ssh host ------------------------------------------


def _failing_status(
    sshd,
    daemon,
    *extra: str,
    env=None,
    endpoint: str | None = None,
    run=None,
    timeout: float = 3,
):
    """``circusctl status`` that fails: a circusctl process, or ``run`` (``circusctl_here``)."""
    started = time.monotonic()
    result = (run or _circusctl)(
        "--timeout", str(timeout), "--endpoint", endpoint or daemon.endpoint, *extra, "status",
        env=env or sshd.client_env(),
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert "Timed out" not in result.stderr
    return result.stderr, elapsed


def test_refused_login(ssh_env, daemon, circusctl_here):
    err, elapsed = _failing_status(
        ssh_env, daemon, *_ssh_args(ssh_env, key=ssh_env.other_key), run=circusctl_here
    )
    assert f"the ssh server {ssh_env.server} refused the login" in err
    assert "Permission denied (publickey)" in err
    assert elapsed < 15


def test_unknown_host_key(ssh_env, daemon, tmp_path, circusctl_here):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    config = ssh_env.write_client_config("ssh_config_unknown", empty)
    err, _ = _failing_status(
        ssh_env, daemon, *_ssh_args(ssh_env), env=ssh_env.client_env(config), run=circusctl_here
    )
    assert f"the host key of the ssh server {ssh_env.server} is unknown" in err


def test_changed_host_key(ssh_env, daemon, tmp_path, circusctl_here):
    wrong = tmp_path / "known_hosts"
    wrong.write_text(ssh_env.known_line(Path(f"{ssh_env.other_key}.pub")))
    config = ssh_env.write_client_config("ssh_config_changed", wrong)
    err, _ = _failing_status(
        ssh_env, daemon, *_ssh_args(ssh_env), env=ssh_env.client_env(config), run=circusctl_here
    )
    assert f"the host key of the ssh server {ssh_env.server} has CHANGED" in err
    assert str(wrong) in err


def test_unreachable_ssh_host(ssh_env, daemon, circusctl_here):
    server = f"root@127.0.0.1:{support.free_port()}"  # nothing listens there
    err, elapsed = _failing_status(
        ssh_env, daemon, "--ssh", server, "--ssh_keyfile", str(ssh_env.client_key),
        run=circusctl_here,
    )  # fmt: skip
    assert f"cannot reach the ssh server {server}" in err and "Connection refused" in err
    assert elapsed < 15


def test_tunnel_up_but_no_circusd_behind_it(ssh_env, daemon, tmp_path, circusctl_here):
    """ssh closes each connection to its forward ("open failed: connect failed"): the call ends
    after half a second of that (the refused grace), not after its 10 s timeout; the elapsed
    time includes the ssh login."""
    nowhere = f"ipc://{tmp_path}/nobody.sock"
    err, elapsed = _failing_status(
        ssh_env, daemon, *_ssh_args(ssh_env), endpoint=nowhere, run=circusctl_here, timeout=10
    )
    assert f"the ssh tunnel to {ssh_env.server} is up, but nothing answers at {nowhere}" in err
    assert elapsed < 6
    port = support.free_port()
    err, elapsed = _failing_status(
        ssh_env, daemon, *_ssh_args(ssh_env), endpoint=f"tcp://127.0.0.1:{port}",
        run=circusctl_here, timeout=10,
    )  # fmt: skip
    assert f"nothing answers at tcp://127.0.0.1:{port}" in err and "Connection refused" in err
    assert elapsed < 6


def test_ssh_binary_missing(ssh_env, daemon, tmp_path, circusctl_here):
    env = {**ssh_env.client_env(), "PATH": str(tmp_path)}  # no ssh on this PATH
    err, _ = _failing_status(ssh_env, daemon, *_ssh_args(ssh_env), env=env, run=circusctl_here)
    assert (
        f"cannot open an ssh tunnel to {ssh_env.server}: the ssh client 'ssh' is not installed"
        in err
    )


def test_python_client_errors_are_call_errors(ssh_env, daemon):
    with pytest.raises(TunnelError, match="refused the login"):
        CircusClient(
            endpoint=daemon.endpoint, ssh_server=ssh_env.server, ssh_keyfile=str(ssh_env.other_key)
        )
    with pytest.raises(CallError, match="no such file"):
        CircusClient(endpoint=daemon.endpoint, ssh_server=ssh_env.server, ssh_keyfile="/nope")
    with pytest.raises(CallError, match="expected user@host"):
        CircusClient(endpoint=daemon.endpoint, ssh_server="a@b:c:d")


# --- the other client tools ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def stats_daemon(tmp_path_factory):
    """A circusd running its circusd-stats (statsd = true), stats on an ipc endpoint; shared
    by the tests of the module, which only read it."""
    workdir = tmp_path_factory.mktemp("stats")
    stats = f"ipc://{workdir}/stats.sock"
    extra = f"statsd = true\nstats_endpoint = {stats}\n"
    with support.module_circusd(workdir, APP, circus_extra=extra) as daemon:
        daemon.stats = stats
        yield daemon


def test_circus_top_through_ssh(ssh_env, stats_daemon, tmp_path):
    """circus-top in a real terminal reads circusd-stats' stream through the tunnel; q quits
    and ends the ssh master."""
    argv = [sys.executable, "-m", "circus.cli.circus_top", "--endpoint", stats_daemon.stats]
    top = support.Tmux(tmp_path, [*argv, *_ssh_args(ssh_env)])
    try:
        pids = stats_daemon.pids("app")
        top.wait_screen(lambda s: all(str(p) in s for p in pids), timeout=40)
        assert sshd_support.ssh_clients_of(ssh_env.port)
        top.keys("q")
        top.wait_screen(lambda s: "EXITED 0" in s)
    finally:
        top.close()


def test_stats_client_through_ssh(ssh_env, stats_daemon):
    from circus.stats.client import StatsClient

    with StatsClient(
        stats_daemon.stats, ssh_env.server, ssh_keyfile=str(ssh_env.client_key), timeout=1
    ) as client:
        deadline = time.monotonic() + 30
        message = None
        while message is None or message[0] != "app":
            assert time.monotonic() < deadline, "no stat of app through ssh"
            message = client.next_stat()


ECHO_PLUGIN = """
from circus.plugins import CircusPlugin

class Echo(CircusPlugin):
    def handle_recv(self, data):
        watcher, action, msg = self.split_data(data)
        count = self.call("numprocesses", name=watcher)["numprocesses"]
        with open(self.config["out"], "a") as f:
            f.write(f"{action} {watcher} {count}\\n")
"""


def test_circus_plugin_through_ssh(ssh_env, daemon, tmp_path):
    """The plugin's events (pub/sub) and its calls (control) both go through one tunnel."""
    (tmp_path / "echoplugin.py").write_text(ECHO_PLUGIN)
    out = tmp_path / "events.txt"
    argv = [sys.executable, "-m", "circus.cli.plugin", *_ssh_args(ssh_env)]
    argv += ["--endpoint", daemon.endpoint, "--pubsub", daemon.pubsub]
    argv += ["--config", f"out:{out}", "echoplugin.Echo"]
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, cwd=REPO) as plugin:
        try:

            def echoed() -> bool:
                daemon.ok("incr", name="app")
                time.sleep(0.3)  # pace the incr: each is one more process
                return out.exists() and "spawn app" in out.read_text()

            support.wait_for(echoed, timeout=40, interval=0, message="an event echoed")
            assert plugin.poll() is None
            plugin.send_signal(signal.SIGTERM)
            assert plugin.wait(timeout=20) == 0
        finally:
            if plugin.poll() is None:
                plugin.kill()
    line = next(line for line in out.read_text().splitlines() if line.startswith("spawn app"))
    assert int(line.split()[2]) >= 3  # the call's answer: incr'ed from 2


def test_circushttpd_through_ssh_and_logs_in_again_when_its_ssh_ends(
    ssh_env, stats_daemon, tmp_path
):
    """The console's control calls, events and stats all go through the tunnel; when its ssh
    master ends, circushttpd logs in again and its calls go through the new login. (One
    circushttpd for both: a start costs ~0.3 s of CPU. The incr is taken back after.)"""
    sys.path.insert(0, str(REPO / "tests" / "integration" / "web"))
    from web_clients import Httpd

    httpd = Httpd(tmp_path, stats_daemon.endpoint, *_ssh_args(ssh_env))
    try:
        client = httpd.client()

        def linked() -> dict | None:
            status = client.get("/api/status").json()
            return status if status["connected"] and status["stats"]["connected"] else None

        status = support.wait_for(linked, timeout=40, interval=0.5, message="circusd and stats")
        assert status["circusd"]["pid"] == stats_daemon.proc.pid
        watchers = client.get("/api/watchers").json()["watchers"]
        (app,) = [watcher for watcher in watchers if watcher["name"] == "app"]
        assert app["numprocesses"] == 2

        def connected() -> bool:
            return client.get("/api/status").json()["connected"]

        (master,) = sshd_support.ssh_clients_of(ssh_env.port)
        master.kill()
        master.wait(timeout=10)  # circushttpd reaps it when it notices
        support.wait_for(
            lambda: [p for p in sshd_support.ssh_clients_of(ssh_env.port) if p.pid != master.pid],
            timeout=30,
            message="a new ssh login",
        )
        support.wait_for(connected, timeout=30, interval=0.5, message="circusd again")
        assert client.post("/api/watchers/app/incr", {}).json()["numprocesses"] == 3
    finally:
        httpd.stop()
        support.restore_numprocesses(stats_daemon, "app", 2)


def test_circusd_stats_refuses_ssh_saying_why(capsys):
    """Its main here: a usage error, before anything starts."""
    from circus.cli import circusd_stats

    with pytest.raises(SystemExit) as exit:
        circusd_stats.main(["--ssh", "me@host"])
    assert exit.value.code == 2
    assert "must run on circusd's host" in capsys.readouterr().err


def test_fleet_hosts_file_with_ssh(ssh_env, daemon, stats_daemon, tmp_path, circusctl_here):
    """Hosts of a hosts file reached through ssh (one login for both: same server and key), a
    direct one, and one whose ssh login is refused: reported in its block, the others answer.
    (The module's two circusds: web2 is the one running circusd-stats.)"""
    hosts = tmp_path / "fleet.ini"
    hosts.write_text(
        f"""
[DEFAULT]
ssh = {ssh_env.server}
ssh_keyfile = {ssh_env.client_key}

[web1]
endpoint = {daemon.endpoint}

[web2]
endpoint = {stats_daemon.endpoint}

[local]
endpoint = {daemon.endpoint}
ssh =
ssh_keyfile =

[intruder]
endpoint = {daemon.endpoint}
ssh_keyfile = {ssh_env.other_key}
"""
    )
    result = circusctl_here(
        "--timeout", "5", "--json", "--hosts", str(hosts), "dstats", env=ssh_env.client_env()
    )  # fmt: skip
    assert result.returncode == 1, result
    replies = json.loads(result.stdout)  # each host's reply is its own circusd's
    assert list(replies) == ["web1", "web2", "local", "intruder"]
    pids = [replies[host]["info"]["pid"] for host in ("web1", "web2", "local")]
    assert pids == [daemon.proc.pid, stats_daemon.proc.pid, daemon.proc.pid]
    assert replies["intruder"]["call_failed"] is True
    assert "the ssh server" in replies["intruder"]["reason"], replies["intruder"]
    assert "refused the login" in replies["intruder"]["reason"]
    assert result.stderr.strip() == "circusctl: 1 of 4 hosts failed: intruder"


def test_bad_ssh_in_hosts_file_is_a_usage_error(tmp_path, circusctl_here):
    hosts = tmp_path / "fleet.ini"
    hosts.write_text("[web1]\nendpoint = ipc:///x.sock\nssh = a@b:notaport\n")
    result = circusctl_here("--hosts", str(hosts), "status")
    assert result.returncode == 2
    assert f"hosts file {hosts}, [web1]: ssh 'a@b:notaport'" in result.stderr
    hosts.write_text("[web1]\nendpoint = ipc:///x.sock\nssh_keyfile = /etc/hostname\n")
    result = circusctl_here("--hosts", str(hosts), "status")
    assert result.returncode == 2 and "ssh_keyfile without ssh" in result.stderr


def test_silent_ssh_hosts_cost_one_timeout_together(
    ssh_env, daemon, tmp_path, circusctl_here, monkeypatch
):
    """Servers that accept the TCP connection and never speak (no ssh banner): each login gives
    up within the timeout, saying so, and the logins of a fleet overlap. (circusctl's main here:
    the time is the fleet's, without a Python start-up; and a login's floor of 5 s, which is
    not what the test is about, is lowered to the call timeout.)"""
    from circus.client import fleet
    from circus.wire.ssh import SSH_SHARE_OF_TIMEOUT

    timeout = 2.5
    monkeypatch.setattr(fleet, "MIN_SSH_TIMEOUT", timeout)
    banner_wait = max(1, int(timeout * SSH_SHARE_OF_TIMEOUT))  # ssh's ConnectTimeout: 2 s
    silent = []
    for _ in range(2):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        silent.append(listener)
    try:
        servers = [f"root@127.0.0.1:{s.getsockname()[1]}" for s in silent]
        hosts = tmp_path / "fleet.ini"
        hosts.write_text(
            "".join(
                f"[silent{i}]\nendpoint = {daemon.endpoint}\nssh = {server}\n"
                for i, server in enumerate(servers)
            )
            + f"[direct]\nendpoint = {daemon.endpoint}\n"
        )
        started = time.monotonic()
        result = circusctl_here("--timeout", str(timeout), "--hosts", str(hosts), "status")
        elapsed = time.monotonic() - started
        assert result.returncode == 1, result
        blocks = result.stdout.split("\n\n")
        for block, server in zip(blocks, servers, strict=False):
            assert f"error: cannot reach the ssh server {server}: " in block, block
            assert "banner exchange" in block, block
        assert blocks[2].endswith("app: active\n")
        assert elapsed >= banner_wait  # ssh's own verdict, at its ConnectTimeout
        assert elapsed < 2 * banner_wait, f"two silent ssh servers took {elapsed:.1f} s: in turn"
    finally:
        for listener in silent:
            listener.close()
