"""``statsd = true``: circusd runs circusd-stats as its support watcher ``circusd-stats``."""

from __future__ import annotations

import os

import psutil
import pytest
from support import pid_alive, wait_for

pytestmark = pytest.mark.timeout(120)

#: circusd-stats samples every 0.25 s instead of every second (the default): the tests wait for
#: its rounds. ``statsd_interval`` is passed as its ``--interval`` (checked below).
FAST = "statsd_interval = 0.25\n"


def stats_config(worker_cmd: str, close_outputs: bool) -> tuple[str, str]:
    body = f"""
        [watcher:sleepy]
        cmd = {worker_cmd} sleep
        numprocesses = 2
    """
    circus = f"""
        statsd = true
        statsd_close_outputs = {str(close_outputs).lower()}
        {FAST}
    """
    return body, circus


def runs_with(pid: int, interval: str) -> bool:
    """True once ``pid`` runs with ``--interval INTERVAL`` (a pid circusd lists may not have
    exec'ed yet: its command line is still circusd's)."""
    return f" --interval {interval} " in " ".join(psutil.Process(pid).cmdline()) + " "


def stats_endpoint(daemon) -> str:
    return daemon.ok("globaloptions")["options"]["stats_endpoint"]


def outputs(pid: int) -> set[str]:
    """What the process's stdout and stderr are."""
    return {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in (1, 2)}


def test_statsd_runs_circusd_stats_as_a_child_of_circusd(circusd, collector, worker_cmd):
    """(``statsd_close_outputs = true`` is checked by the killed-circusd test below.)"""
    d = circusd(*stats_config(worker_cmd, close_outputs=False))
    assert "circusd-stats" in d.ok("list")["watchers"]
    assert d.ok("status", name="circusd-stats")["status"] == "active"
    [stats_pid] = d.pids("circusd-stats")
    with open(f"/proc/{stats_pid}/stat") as f:
        assert int(f.read().rsplit(")", 1)[1].split()[1]) == d.proc.pid  # its parent: circusd
    wait_for(lambda: runs_with(stats_pid, "0.25"), message="circusd-stats with statsd_interval")
    assert outputs(stats_pid) != {"/dev/null"}

    feed = collector(stats_endpoint(d))
    assert sorted(feed.pids_of("sleepy")) == sorted(d.pids("sleepy"))
    names = {}
    feed.until(
        lambda w, s, st: (
            w == "circus"
            and s is not None
            and names.setdefault(st["name"], st["pid"])
            and len(names) == 2
        ),
        what="circusd and circusd-stats in the circus group",
    )
    assert names == {"circusd": d.proc.pid, "circusd-stats": stats_pid}
    assert not [m for m in feed.seen if m[0] == "circusd-stats"]  # not shown as a watcher
    assert "not supported yet" not in d.log()

    d.ok("quit")
    d.proc.wait(timeout=30)
    wait_for(lambda: not pid_alive(stats_pid), message="circusd-stats ends with circusd")


def test_reloadconfig_turns_statsd_off_and_on(circusd, collector, worker_cmd):
    body, circus = stats_config(worker_cmd, close_outputs=False)
    d = circusd(body, circus)
    [stats_pid] = d.pids("circusd-stats")
    endpoint = stats_endpoint(d)
    wait_for(lambda: os.path.exists(endpoint[len("ipc://") :]), message="the stats endpoint")

    d.write_config(body, "statsd = false\n")
    d.ok("reloadconfig", waiting=True)
    wait_for(lambda: "circusd-stats" not in d.ok("list")["watchers"], message="watcher removed")
    wait_for(lambda: not pid_alive(stats_pid), message="circusd-stats stopped")
    assert not os.path.exists(endpoint[len("ipc://") :])

    # back, with another interval: applied without a circusd restart
    d.write_config(body, circus.replace(FAST, "statsd_interval = 0.3\n"))
    d.ok("reloadconfig", waiting=True)
    [stats_pid] = wait_for(lambda: d.try_call("list", name="circusd-stats").get("pids"),
                           message="back")  # fmt: skip
    wait_for(lambda: runs_with(stats_pid, "0.3"), message="circusd-stats with the new interval")
    feed = collector(endpoint)
    assert sorted(feed.pids_of("sleepy")) == sorted(d.pids("sleepy"))
    assert "restart circusd to apply" not in d.log()


def test_counts_hits_of_circusd_own_sockets_and_lets_them_go(circusd, collector, worker_cmd):
    """use_papa = false sockets live in circusd: circusd-stats inherits them (not the
    so_reuseport ones, whose copies would take connections)."""
    import socket

    from support import free_port

    port, spare = free_port(), free_port()
    web = f"""
        [watcher:web]
        cmd = {worker_cmd} http $(circus.sockets.web)
        use_sockets = true
        use_papa = false

        [socket:web]
        host = 127.0.0.1
        port = {port}
        use_papa = false
    """
    spread = f"""
        [socket:spread]
        host = 127.0.0.1
        port = {spare}
        use_papa = false
        so_reuseport = true
    """
    d = circusd(web + spread, "statsd = true\n" + FAST)
    feed = collector(stats_endpoint(d))
    [listed] = [s for s in d.ok("listsockets")["sockets"] if s["name"] == "web"]

    def hit(watcher, subtopic, stat):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            conn.recv(100)
        return watcher == "sockets" and subtopic is not None and stat["reads"] > 0

    _, _, stat = feed.until(hit, what="hits of circusd's own socket")
    assert stat["fd"] == listed["fd"] and stat["address"] == f"127.0.0.1:{port}"
    _, _, total = feed.until(lambda w, s, _: w == "sockets" and s is None)
    assert total["addresses"] == [f"127.0.0.1:{port}"]  # not the so_reuseport one
    [stats_pid] = d.pids("circusd-stats")
    listening = {
        conn.laddr.port
        for conn in psutil.Process(stats_pid).net_connections()
        if conn.status == psutil.CONN_LISTEN
    }
    assert spare not in listening  # no listening copy of the so_reuseport socket

    d.write_config(f"[watcher:sleepy]\ncmd = {worker_cmd} sleep\n", "statsd = true\n" + FAST)
    d.ok("reloadconfig", waiting=True)

    def port_free() -> bool:
        with socket.socket() as probe:
            try:
                probe.connect(("127.0.0.1", port))
            except ConnectionRefusedError:
                return True
        return False

    wait_for(port_free, timeout=15, message="nobody listening on the removed socket's port")


def test_circusd_stats_ends_with_a_killed_circusd(circusd, worker_cmd):
    """circusd-stats ends with a killed circusd; with ``statsd_close_outputs = true`` (this
    test's config) its stdout and stderr are /dev/null."""
    from support import subreaper

    with subreaper():  # circusd-stats, orphaned, comes back to us (and is reaped)
        d = circusd(*stats_config(worker_cmd, close_outputs=True))
        [stats_pid] = d.pids("circusd-stats")
        wait_for(lambda: runs_with(stats_pid, "0.25"), message="circusd-stats started")
        assert outputs(stats_pid) == {"/dev/null"}
        endpoint = stats_endpoint(d)[len("ipc://") :]
        wait_for(lambda: os.path.exists(endpoint), message="circusd-stats running")
        d.kill9()
        wait_for(lambda: not pid_alive(stats_pid), message="circusd-stats ends with circusd")


def test_statsd_with_a_curve_circusd(tmp_path, runtime_dir, collector, worker_cmd):
    """circusd-stats authenticates with circusd's own certificate, which must then be among
    the authorised keys (as for a plugin without a curve_secret_key of its own)."""
    import contextlib
    from pathlib import Path

    import support
    import zmq.auth

    from circus.client import CircusClient

    keys, authorized = tmp_path / "keys", tmp_path / "authorized"
    keys.mkdir()
    authorized.mkdir()
    server_public, server_secret = zmq.auth.create_certificates(str(keys), "server")
    (authorized / "server.key").write_bytes(Path(server_public).read_bytes())
    d = support.Circusd(tmp_path / "d")
    d.endpoint = f"tcp://127.0.0.1:{support.free_port()}"
    d.pubsub = f"tcp://127.0.0.1:{support.free_port()}"
    d.write_config(
        f"[watcher:sleepy]\ncmd = {worker_cmd} sleep\nnumprocesses = 2\n",
        f"statsd = true\n{FAST}curve_secret_key = {server_secret}\n"
        f"curve_public_keys = {authorized}\n",
    )
    client = CircusClient(
        endpoint=d.endpoint, timeout=5, curve_secret_key=server_secret,
        curve_server_key=server_public,
    )  # fmt: skip
    try:
        d.start(wait=False)

        def pids() -> list[int]:
            with contextlib.suppress(Exception):
                reply = client.call({"command": "list", "properties": {"name": "sleepy"}})
                return [int(p) for p in reply.get("pids", [])]
            return []

        expected = sorted(wait_for(lambda: len(pids()) == 2 and pids(), timeout=30))
        feed = collector(f"ipc://{runtime_dir}/circus/stats.sock")
        assert sorted(feed.pids_of("sleepy", timeout=30)) == expected
    finally:
        with contextlib.suppress(Exception):
            client.call({"command": "quit", "properties": {"stop_workers": True}})
        client.stop()
        d.cleanup()
