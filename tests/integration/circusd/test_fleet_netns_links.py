"""Fleet commands across real network namespaces (issue 14): a link cut under a Fleet and
under circusctl, and an operator's key rotation. Each test has a cluster of its own
(tests/fleet_cluster.py: circusds in their own network namespaces, CURVE-protected TCP
endpoints), so tests/schedule.py may run them on different workers; the tests that share one
cluster are in test_fleet_netns.py.
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
from fleet_cluster import REPO, circusctl

from circus.cli.hosts_file import load_hosts
from circus.client import CircusClient, Fleet
from circus.errors import CallError

pytestmark = pytest.mark.timeout(180)

#: The calls' time-out in the link-cut tests: a connection silent for half of it (2 s, the
#: least circus.wire.diagnose allows) is dropped by the heartbeats as unreachable, 2.5 s after
#: the last request (a ping after 0.5 s without traffic, then 2 s without an answer), and the
#: call ends half a second later (the refused grace: no new connection), not at its timeout.
TIMEOUT = 4.0


@pytest.fixture
def cluster(tmp_path, worker_cmd):
    """web0..web2: a circusd (and its kernel) inside each of three namespaces, CURVE keys
    for each and for the operator, and the operator's hosts file."""
    with fleet_cluster.running(tmp_path, fleet_cluster.stubborn_config(worker_cmd)) as cluster:
        yield cluster


def test_link_down_is_reported_while_the_others_answer_then_recovers(cluster):
    """A Fleet (asyncio clients) and, meanwhile, a blocking client of web1 connected before
    the cut: both report web1 unreachable before their timeout."""
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


def test_link_cut_during_a_circusctl_command(cluster):
    """circusctl restarts every host at once; web1's link goes down while its restart runs:
    web1 is reported unreachable within the timeout, web0 and web2 answer; once the link is
    back, the next command reaches all three."""
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
    result = support.wait_for(
        lambda: (
            (r := circusctl("--hosts", str(cluster.hosts_file), "status")).returncode == 0 and r
        ),
        timeout=60,
        interval=0.5,
        message="the fleet answering again",
    )
    assert result.stdout == cluster.blocks(["web: active"] * 3)


def test_operator_key_rotation_keeps_the_workers(tmp_path, worker_cmd, capsys):
    """docs/remote.md, rotating an operator's key: the new public key goes beside the old
    one, circusd restarts (its workers run on), the hosts file switches, the old key is
    removed and circusd restarts again: the old key is refused, the workers never stopped."""
    import zmq.auth

    config = fleet_cluster.stubborn_config(worker_cmd)
    with fleet_cluster.running(tmp_path, config, count=1) as cluster:
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

        def status(hosts_file: Path, timeout: float = 10) -> subprocess.CompletedProcess:
            args = ("--hosts", str(hosts_file), "--timeout", str(timeout), "status")
            return fleet_cluster.circusctl_here(capsys, *args)

        # A refused key is told by the handshake, within milliseconds: a short timeout anyway
        refused_timeout = 3

        def restart_circusd() -> None:  # as `systemctl restart circusd` would; workers stay
            web0.stop()
            web0.start()
            support.wait_for(
                lambda: web0.try_call("status").get("statuses") == {"web": "active"},
                timeout=30,
                message="web0 adopted its workers",
            )

        refused = f"error: circusd at {cluster.endpoint(0)} refused this client's CURVE key"
        assert refused in status(new_file, refused_timeout).stdout  # read at start-up only
        restart_circusd()
        assert status(new_file).stdout == f"== web0 ({cluster.endpoint(0)}) ==\nweb: active\n"
        assert status(old_file).returncode == 0  # both keys work during the change-over
        (authorized / "operator.key").unlink()
        web0.client_keys["curve_secret_key"] = str(cluster.keys / "operator2.key_secret")
        restart_circusd()
        assert status(new_file).returncode == 0
        old = status(old_file, refused_timeout)
        assert old.returncode == 1 and refused in old.stdout
        assert web0.pids("web") == pids  # two circusd restarts, the same workers
