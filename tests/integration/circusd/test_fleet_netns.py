"""Fleet commands across real network namespaces (issue 14): the tests that share one cluster.

Three circusds, each with its own papa-kernel and runtime dir, run inside their own network
namespace (tests/netns.py) and listen on a CURVE-protected TCP endpoint on that namespace's
address; the test drives them from the root namespace with circusctl's fleet mode and with
:func:`circus.client.fan_out`, the way an operator drives three machines. These tests leave the
hosts as they found them, so they share one cluster (tests/fleet_cluster.py); those that cut a
link or change a host's keys have their own, in test_fleet_netns_links.py.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time

import fleet_cluster
import pytest
import support
from fleet_cluster import Cluster, circusctl, circusctl_here

from circus.cli.hosts_file import load_hosts
from circus.client import Fleet, fan_out, make_message

pytestmark = pytest.mark.timeout(180)

HOSTS = ("web0", "web1", "web2")


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory):
    config = fleet_cluster.stubborn_config(support.WORKER_CMD)
    with fleet_cluster.running(tmp_path_factory.mktemp("fleet"), config) as cluster:
        yield cluster


@pytest.fixture
def shared_cluster(module_cluster):
    """The module's cluster, shared by the tests, which leave the hosts as they found them
    (watcher web active with two processes: a restart replaces them); the hosts file is
    written afresh for each."""
    module_cluster.hosts_file.write_text(module_cluster.hosts_text())
    for daemon in module_cluster.daemons:
        assert daemon.ok("status")["statuses"] == {"web": "active"}
        assert len(daemon.pids("web")) == 2
    return module_cluster


def test_fleet_status_from_the_root_namespace(shared_cluster):
    cluster = shared_cluster
    result = circusctl("--hosts", str(cluster.hosts_file), "status")
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert result.stdout == cluster.blocks(["web: active"] * 3)
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


def test_wrong_server_key_on_one_host_has_its_own_message(shared_cluster, capsys):
    cluster = shared_cluster
    cluster.hosts_file.write_text(cluster.hosts_text(web1="web2.key"))
    started = time.monotonic()
    # web1's handshakes fail: told after half a second of that (HANDSHAKE_GRACE)
    result = circusctl_here(capsys, "--hosts", str(cluster.hosts_file), "--timeout", "3", "status")
    assert time.monotonic() - started < 3
    assert result.returncode == 1
    blocks = result.stdout.split("\n\n")
    assert blocks[0] == f"== web0 ({cluster.endpoint(0)}) ==\nweb: active"
    assert blocks[1] == (
        f"== web1 ({cluster.endpoint(1)}) ==\nerror: the CURVE handshake with "
        f"{cluster.endpoint(1)} failed: --curve-server-key is not the public key of the "
        "circusd there, or circusd there does not use CURVE"
    )
    assert blocks[2] == f"== web2 ({cluster.endpoint(2)}) ==\nweb: active\n"
    assert result.stderr == "circusctl: 1 of 3 hosts failed: web1\n"


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


def test_rolling_restart_one_host_at_a_time(shared_cluster, capsys):
    cluster = shared_cluster
    before = [d.pids("web") for d in cluster.daemons]
    poller = StatusPoller(cluster)
    poller.start()
    support.wait_for(lambda: poller.snapshots, timeout=20, message="a first status snapshot")
    try:
        args = ("--hosts", str(cluster.hosts_file), "--serial", "restart", "--waiting")
        result = circusctl_here(capsys, *args)
    finally:
        poller.stop()
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert result.stdout == cluster.blocks(["ok"] * 3)
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


def test_serial_stops_at_the_first_failing_host(shared_cluster, capsys):
    """A wrong server key for web1: web0 restarts, web1 fails, web2 is not touched."""
    cluster = shared_cluster
    cluster.hosts_file.write_text(cluster.hosts_text(web1="web2.key"))
    before = [d.pids("web") for d in cluster.daemons]
    # --timeout 4: web0's restart takes ~1 s (graceful_timeout 0.6)
    args = ("--hosts", str(cluster.hosts_file), "--timeout", "4", "--serial", "restart")
    result = circusctl_here(capsys, *args, "--waiting")
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
