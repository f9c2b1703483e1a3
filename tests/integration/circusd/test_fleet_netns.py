"""Fleet commands across real network namespaces (issue 14).

Three circusds, each with its own papa-kernel and runtime dir, run inside their own network
namespace (tests/netns.py) and listen on a CURVE-protected TCP endpoint on that namespace's
address; the test drives them from the root namespace with circusctl's fleet mode and with
:func:`circus.client.fan_out`, the way an operator drives three machines.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import fleet_cluster
import pytest
import support
from fleet_cluster import Cluster

from circus.cli.hosts_file import load_hosts
from circus.client import Fleet, fan_out, make_message

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parents[3]
HOSTS = ("web0", "web1", "web2")


def _config(worker_cmd: str) -> str:
    # stubborn workers ignore SIGTERM: each restart takes graceful_timeout, long enough for
    # a status poll to see the host restarting
    return f"""
        [watcher:web]
        cmd = {worker_cmd} stubborn
        numprocesses = 2
        graceful_timeout = 0.6
        """


@pytest.fixture
def cluster(tmp_path, worker_cmd):
    """web0..web2: a circusd (and its kernel) inside each of three namespaces, CURVE keys
    for each and for the operator, and the operator's hosts file (tests/fleet_cluster.py);
    for the tests that cut a link."""
    with fleet_cluster.running(tmp_path, _config(worker_cmd)) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory):
    worker_cmd = support.WORKER_CMD
    with fleet_cluster.running(tmp_path_factory.mktemp("fleet"), _config(worker_cmd)) as cluster:
        yield cluster


@pytest.fixture
def shared_cluster(module_cluster):
    """Like ``cluster``, but shared by the tests that leave the hosts as they found them
    (watcher web active with two processes: a restart replaces them); the hosts file is
    written afresh for each."""
    module_cluster.hosts_file.write_text(module_cluster.hosts_text())
    for daemon in module_cluster.daemons:
        assert daemon.ok("status")["statuses"] == {"web": "active"}
        assert len(daemon.pids("web")) == 2
    return module_cluster


def _circusctl(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "circus.cli.circusctl", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def _blocks(cluster: Cluster, bodies: list[str]) -> str:
    return (
        "\n\n".join(
            f"== {name} ({cluster.endpoint(i)}) ==\n{body}"
            for i, (name, body) in enumerate(zip(HOSTS, bodies, strict=True))
        )
        + "\n"
    )


def test_fleet_status_from_the_root_namespace(shared_cluster):
    cluster = shared_cluster
    result = _circusctl("--hosts", str(cluster.hosts_file), "status")
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert result.stdout == _blocks(cluster, ["web: active"] * 3)
    # the same through the library
    hosts = load_hosts(str(cluster.hosts_file))
    results = asyncio.run(fan_out(hosts, make_message("status"), timeout=10))
    assert [r.host.name for r in results] == list(HOSTS)
    assert [r.reply["statuses"] for r in results] == [{"web": "active"}] * 3
    # each circusd really is inside its namespace: its kernel and workers too
    for index, daemon in enumerate(cluster.daemons):
        for pid in [daemon.proc.pid, daemon.kernel_pid(), *daemon.pids("web")]:
            assert _netns_of(pid) == cluster.ns[index].name, pid


def _netns_of(pid: int) -> str:
    return subprocess.run(
        ["ip", "netns", "identify", str(pid)], capture_output=True, text=True, timeout=20
    ).stdout.strip()


def test_wrong_server_key_on_one_host_has_its_own_message(shared_cluster):
    cluster = shared_cluster
    cluster.hosts_file.write_text(cluster.hosts_text(web1="web2.key"))
    started = time.monotonic()
    result = _circusctl("--hosts", str(cluster.hosts_file), "--timeout", "5", "status")
    assert time.monotonic() - started < 5 + 10
    assert result.returncode == 1
    blocks = result.stdout.split("\n\n")
    assert blocks[0] == f"== web0 ({cluster.endpoint(0)}) ==\nweb: active"
    assert blocks[1] == (
        f"== web1 ({cluster.endpoint(1)}) ==\nerror: the CURVE handshake with "
        f"{cluster.endpoint(1)} failed: --curve-server-key is not the public key of the "
        "circusd there"
    )
    assert blocks[2] == f"== web2 ({cluster.endpoint(2)}) ==\nweb: active\n"
    assert result.stderr == "circusctl: 1 of 3 hosts failed: web1\n"


def test_link_down_is_reported_while_the_others_answer_then_recovers(cluster):
    hosts = load_hosts(str(cluster.hosts_file))
    timeout = 6.0  # heartbeats drop a silent connection after 3 s (half of it), pings at 1.5 s

    async def scenario():
        async with Fleet(hosts, timeout) as fleet:
            first = await fleet.send_message("status")
            cluster.ns.link_down(1)
            started = time.monotonic()
            cut = await fleet.send_message("status")
            elapsed = time.monotonic() - started
            cluster.ns.link_up(1)
            deadline = time.monotonic() + 30
            while True:  # the same Fleet (and connections) recovers once the link is back
                again = await fleet.send_message("status")
                if all(r.ok for r in again) or time.monotonic() > deadline:
                    return first, cut, elapsed, again

    first, cut, elapsed, again = asyncio.run(scenario())
    assert [r.ok for r in first] == [True] * 3
    assert [r.ok for r in cut] == [True, False, True]
    assert elapsed < timeout + 2, elapsed
    assert cut[0].seconds < 2 and cut[2].seconds < 2  # the others did not wait for web1
    assert cut[1].error == (
        f"circusd at {cluster.endpoint(1)} became unreachable: the connection was lost and not "
        "made again (is the network or the host down, or did circusd stop?)"
    )
    assert [r.ok for r in again] == [True] * 3, [r.error for r in again]


class StatusPoller(threading.Thread):
    """Polls every host's status from the root namespace (one Fleet, all hosts at once)
    and keeps each snapshot: the statuses of web0..web2, None for a host without a reply."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(daemon=True)
        self.hosts = load_hosts(str(cluster.hosts_file))
        self.snapshots: list[tuple[str | None, ...]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        async def poll():
            async with Fleet(self.hosts, timeout=5) as fleet:
                while not self._halt.is_set():
                    results = await fleet.send_message("status")
                    self.snapshots.append(
                        tuple(r.reply["statuses"]["web"] if r.ok else None for r in results)
                    )
                    await asyncio.sleep(0.02)

        asyncio.run(poll())

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=20)


def test_rolling_restart_one_host_at_a_time(shared_cluster):
    cluster = shared_cluster
    before = [d.pids("web") for d in cluster.daemons]
    poller = StatusPoller(cluster)
    poller.start()
    support.wait_for(lambda: poller.snapshots, timeout=20, message="a first status snapshot")
    try:
        result = _circusctl("--hosts", str(cluster.hosts_file), "--serial", "restart", "--waiting")
    finally:
        poller.stop()
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert result.stdout == _blocks(cluster, ["ok"] * 3)
    after = [d.pids("web") for d in cluster.daemons]
    assert all(not set(b) & set(a) for b, a in zip(before, after, strict=True)), (before, after)
    # never two hosts down at once, and they went down in order, each once
    down_runs: list[int] = []
    for snapshot in poller.snapshots:
        # (None: no answer to that poll, on a loaded machine; it proves nothing either way)
        down = [i for i, status in enumerate(snapshot) if status not in ("active", None)]
        assert len(down) <= 1, poller.snapshots
        if down and (not down_runs or down_runs[-1] != down[0]):
            down_runs.append(down[0])
    assert down_runs == [0, 1, 2], poller.snapshots


def test_serial_stops_at_the_first_failing_host(shared_cluster):
    """A wrong server key for web1: web0 restarts, web1 fails, web2 is not touched."""
    cluster = shared_cluster
    cluster.hosts_file.write_text(cluster.hosts_text(web1="web2.key"))
    before = [d.pids("web") for d in cluster.daemons]
    result = _circusctl(
        "--hosts", str(cluster.hosts_file), "--timeout", "10", "--serial", "restart", "--waiting"
    )
    assert result.returncode == 1
    blocks = result.stdout.split("\n\n")
    assert blocks[0] == f"== web0 ({cluster.endpoint(0)}) ==\nok"
    assert blocks[1].startswith(f"== web1 ({cluster.endpoint(1)}) ==\nerror: the CURVE handshake")
    assert blocks[2] == (
        f"== web2 ({cluster.endpoint(2)}) ==\n"
        "not run: web1 failed before it (--serial stops at the first failure)\n"
    )
    assert result.stderr == "circusctl: 1 of 3 hosts failed: web1; not run on: web2\n"
    after = [d.pids("web") for d in cluster.daemons]
    assert set(after[0]).isdisjoint(before[0])
    assert (after[1], after[2]) == (before[1], before[2])


def test_link_cut_during_a_circusctl_command(cluster):
    """circusctl restarts every host at once; web1's link goes down while its restart runs:
    web1 is reported unreachable within the timeout, web0 and web2 answer; once the link is
    back, the next command reaches all three."""
    timeout = 6.0
    started = time.monotonic()
    argv = [sys.executable, "-m", "circus.cli.circusctl", "--hosts", str(cluster.hosts_file)]
    with support.running(
        [*argv, "--timeout", str(timeout), "restart", "--waiting"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    ) as proc:
        web1 = cluster.daemons[1]
        support.wait_for(
            lambda: web1.try_call("status").get("statuses", {}).get("web") == "stopping",
            timeout=30,
            interval=0.02,
            message="web1 restarting",
        )
        cluster.ns.link_down(1)
        out, err = proc.communicate(timeout=timeout + 30)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, (out, err)
    assert elapsed < timeout + 10, elapsed  # python start-up + the timeout, not more
    blocks = out.split("\n\n")
    assert blocks[0] == f"== web0 ({cluster.endpoint(0)}) ==\nok"
    assert blocks[1] == (
        f"== web1 ({cluster.endpoint(1)}) ==\nerror: circusd at {cluster.endpoint(1)} became "
        "unreachable: the connection was lost and not made again (is the network or the host "
        "down, or did circusd stop?)"
    )
    assert blocks[2] == f"== web2 ({cluster.endpoint(2)}) ==\nok\n"
    assert err == "circusctl: 1 of 3 hosts failed: web1\n"
    cluster.ns.link_up(1)
    result = support.wait_for(
        lambda: (
            (r := _circusctl("--hosts", str(cluster.hosts_file), "status")).returncode == 0 and r
        ),
        timeout=60,
        interval=0.5,
        message="the fleet answering again",
    )
    assert result.stdout == _blocks(cluster, ["web: active"] * 3)


def test_operator_key_rotation_keeps_the_workers(tmp_path, worker_cmd):
    """docs/remote.md, rotating an operator's key: the new public key goes beside the old
    one, circusd restarts (its workers run on), the hosts file switches, the old key is
    removed and circusd restarts again: the old key is refused, the workers never stopped."""
    import zmq.auth

    with fleet_cluster.running(tmp_path, _config(worker_cmd), count=1) as cluster:
        web0 = cluster.daemons[0]
        pids = web0.pids("web")
        zmq.auth.create_certificates(str(cluster.keys), "operator2")
        authorized = Path(web0.workdir) / "authorized_keys"
        (authorized / "operator2.key").write_bytes((cluster.keys / "operator2.key").read_bytes())
        old_file = cluster.hosts_file
        new_file = tmp_path / "fleet2.ini"
        new_file.write_text(
            cluster.hosts_text().replace("operator.key_secret", "operator2.key_secret")
        )

        def status(hosts_file: Path) -> subprocess.CompletedProcess:
            return _circusctl("--hosts", str(hosts_file), "--timeout", "10", "status")

        def restart_circusd() -> None:  # as `systemctl restart circusd` would; workers stay
            web0.stop()
            web0.start()
            support.wait_for(
                lambda: web0.try_call("status").get("statuses") == {"web": "active"},
                timeout=30,
                message="web0 adopted its workers",
            )

        refused = f"error: circusd at {cluster.endpoint(0)} refused this client's CURVE key"
        assert refused in status(new_file).stdout  # read at start-up only: not yet
        restart_circusd()
        assert status(new_file).stdout == f"== web0 ({cluster.endpoint(0)}) ==\nweb: active\n"
        assert status(old_file).returncode == 0  # both keys work during the change-over
        (authorized / "operator.key").unlink()
        web0.client_keys["curve_secret_key"] = str(cluster.keys / "operator2.key_secret")
        restart_circusd()
        assert status(new_file).returncode == 0
        old = status(old_file)
        assert old.returncode == 1 and refused in old.stdout
        assert web0.pids("web") == pids  # two circusd restarts, the same workers
