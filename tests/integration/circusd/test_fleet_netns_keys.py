"""Fleet commands across real network namespaces (issue 14): an operator's key rotation. It
changes a host's keys and restarts its circusd, so it has a cluster of its own (one host,
tests/fleet_cluster.py); the tests that leave the hosts as they found them share one in
test_fleet_netns.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import fleet_cluster
import pytest
import support

pytestmark = pytest.mark.timeout(180)


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
