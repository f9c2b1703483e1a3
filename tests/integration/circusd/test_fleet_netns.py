"""Fleet commands across real network namespaces (issue 14), on one shared cluster: status,
a wrong server key, rolling and serial restarts, and a link cut under a Fleet and under
circusctl.

Three circusds, each with its own papa-kernel and runtime dir, run inside their own network
namespace (tests/netns.py) and listen on a CURVE-protected TCP endpoint on that namespace's
address; the test drives them from the root namespace with circusctl's fleet mode and with
:func:`circus.client.fan_out`, the way an operator drives three machines. The tests share one
cluster (tests/fleet_cluster.py; a cluster of three costs ~0.7 s of CPU to start and stop):
each finds the hosts as the cluster started (checked), and a link a test cut is put back up
after it. The key rotation changes a host's keys: it has a cluster of its own, in
test_fleet_netns_keys.py.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import fleet_cluster
import pytest
import support
from fleet_cluster import REPO, Cluster, circusctl, circusctl_here

from circus.cli.hosts_file import load_hosts
from circus.client import CircusClient, Fleet, fan_out, make_message
from circus.errors import CallError
from circus.util.netif import IFF_UP, interface_flags

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
    written afresh for each, and a link the test cut is put back up after it (also when the
    test failed during the cut)."""
    module_cluster.hosts_file.write_text(module_cluster.hosts_text())
    for daemon in module_cluster.daemons:
        assert daemon.ok("status")["statuses"] == {"web": "active"}
        assert len(daemon.pids("web")) == 2
    yield module_cluster
    for index, namespace in enumerate(module_cluster.ns):
        if not interface_flags(namespace.outer) & IFF_UP:  # (its root end: no process to ask)
            module_cluster.ns.link_up(index)


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


#: Seconds between two polls of StatusPoller: a host is down (stopping its stubborn workers)
#: for at least their graceful_timeout, 0.6 s, so each down time is seen several times, and two
#: hosts restarted together would be down together as long (a poll every 20 ms before: five
#: times the status calls, ~0.2 s of CPU more, for the same proof).
POLL_INTERVAL = 0.1


class StatusPoller(threading.Thread):
    """Polls every host's status from the root namespace (one Fleet, all hosts at once) and
    keeps each host's answers as ``(status, sent, answered)`` (``time.monotonic()``): the host
    had that status at some moment between the two. One poll's answers are not one moment: a
    host the machine's load holds up answers later, maybe after a restart sent meanwhile."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(daemon=True)
        self.hosts = load_hosts(str(cluster.hosts_file))
        self.answers: list[list[tuple[str, float, float]]] = [[] for _ in self.hosts]
        self._halt = threading.Event()

    def run(self) -> None:
        async def poll():
            async with Fleet(self.hosts, timeout=5) as fleet:
                while not self._halt.is_set():
                    sent = time.monotonic()
                    for index, result in enumerate(await fleet.send_message("status")):
                        if result.ok:  # no answer (a loaded machine) proves nothing
                            status = result.reply["statuses"]["web"]
                            self.answers[index].append((status, sent, sent + result.seconds))
                    await asyncio.sleep(POLL_INTERVAL)

        asyncio.run(poll())

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=20)

    def surely_down(self, host: int) -> tuple[float, float] | None:
        """A span during which ``host`` was down for sure: from the latest moment of its first
        answer that was not ``active`` to the earliest of its last (it is down once, in one
        stretch). None if that is not a span (fewer than two such answers, or they overlap)."""
        down = [
            (sent, answered) for status, sent, answered in self.answers[host] if status != "active"
        ]
        if len(down) < 2 or down[0][1] > down[-1][0]:
            return None
        return down[0][1], down[-1][0]


def test_rolling_restart_one_host_at_a_time(shared_cluster, capsys):
    cluster = shared_cluster
    before = [d.pids("web") for d in cluster.daemons]
    poller = StatusPoller(cluster)
    poller.start()
    support.wait_for(
        lambda: all(poller.answers), timeout=20, message="a first answer from each host"
    )
    try:
        args = ("--hosts", str(cluster.hosts_file), "--serial", "restart", "--waiting")
        result = circusctl_here(capsys, *args)
    finally:
        poller.stop()
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert result.stdout == cluster.blocks(["ok"] * 3)
    after = [d.pids("web") for d in cluster.daemons]
    assert all(not set(b) & set(a) for b, a in zip(before, after, strict=True)), (before, after)
    # never two hosts down at once, and they went down in order: each host was surely down
    # for a span (seen down twice at least), the spans come in host order, and no other host
    # answered "down" from within a host's span
    spans = [poller.surely_down(host) for host in range(3)]
    assert None not in spans, (spans, poller.answers)
    assert spans[0][1] < spans[1][0] and spans[1][1] < spans[2][0], (spans, poller.answers)
    for host, (start, end) in enumerate(spans):
        for other in set(range(3)) - {host}:
            inside = [
                (status, sent - start, answered - start)
                for status, sent, answered in poller.answers[other]
                if status != "active" and start <= sent and answered <= end
            ]
            assert not inside, (host, other, inside, spans, poller.answers)


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


#: The calls' time-out in the link-cut tests: a connection silent for half of it (2 s, the
#: least circus.wire.diagnose allows) is dropped by the heartbeats as unreachable, 2.5 s after
#: the last request (a ping after 0.5 s without traffic, then 2 s without an answer), and the
#: call ends half a second later (the refused grace: no new connection), not at its timeout.
TIMEOUT = 4.0


def test_link_down_is_reported_while_the_others_answer_then_recovers(shared_cluster):
    """A Fleet (asyncio clients) and, meanwhile, a blocking client of web1 connected before
    the cut: both report web1 unreachable before their timeout."""
    cluster = shared_cluster
    hosts = load_hosts(str(cluster.hosts_file))
    timeout = TIMEOUT
    blocking = CircusClient(
        endpoint=cluster.endpoint(1), timeout=timeout, **cluster.daemons[1].client_keys
    )
    blocked: dict[str, object] = {}

    def blocking_call() -> None:
        started = time.monotonic()
        try:
            blocking.send_message("status")
        except CallError as exc:
            blocked["error"] = str(exc)
        blocked["elapsed"] = time.monotonic() - started

    async def scenario():
        async with Fleet(hosts, timeout) as fleet:
            first = await fleet.send_message("status")
            assert blocking.send_message("status")["status"] == "ok"
            cluster.ns.link_down(1)
            started = time.monotonic()
            other = threading.Thread(target=blocking_call)
            other.start()
            cut = await fleet.send_message("status")
            elapsed = time.monotonic() - started
            other.join(timeout + 10)
            cluster.ns.link_up(1)
            deadline = time.monotonic() + 30
            while True:  # the same Fleet (and connections) recovers once the link is back
                again = await fleet.send_message("status")
                if all(r.ok for r in again) or time.monotonic() > deadline:
                    return first, cut, elapsed, again

    try:
        first, cut, elapsed, again = asyncio.run(scenario())
    finally:
        blocking.stop()
    unreachable = (
        f"circusd at {cluster.endpoint(1)} became unreachable: the connection was lost and not "
        "made again (is the network or the host down, or did circusd stop?)"
    )
    assert [r.ok for r in first] == [True] * 3
    assert [r.ok for r in cut] == [True, False, True]
    assert elapsed < timeout + 2, elapsed
    assert cut[0].seconds < 2 and cut[2].seconds < 2  # the others did not wait for web1
    assert cut[1].error == unreachable
    assert cut[1].seconds < timeout, cut[1].seconds  # the drop, not the timeout, ended it
    assert blocked == {"error": unreachable, "elapsed": blocked["elapsed"]}, blocked
    assert blocked["elapsed"] < timeout, blocked
    assert [r.ok for r in again] == [True] * 3, [r.error for r in again]


def test_link_cut_during_a_circusctl_command(shared_cluster, capsys):
    """circusctl restarts every host at once; web1's link goes down while its restart runs:
    web1 is reported unreachable within the timeout, web0 and web2 answer; once the link is
    back, the next command reaches all three (circusctl's main here: the process that lived
    through the cut is the restart's)."""
    cluster = shared_cluster
    timeout = TIMEOUT
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

    def answering() -> subprocess.CompletedProcess | None:
        result = circusctl_here(capsys, "--hosts", str(cluster.hosts_file), "status")
        return result if result.returncode == 0 else None

    result = support.wait_for(
        answering, timeout=60, interval=0.5, message="the fleet answering again"
    )
    assert result.stdout == cluster.blocks(["web: active"] * 3)
