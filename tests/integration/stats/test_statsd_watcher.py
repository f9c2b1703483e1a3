"""``statsd = true``: circusd runs circusd-stats as its support watcher ``circusd-stats``."""

from __future__ import annotations

import os

import pytest
from support import pid_alive, wait_for

pytestmark = pytest.mark.timeout(120)


def stats_config(worker_cmd: str, close_outputs: bool) -> tuple[str, str]:
    body = f"""
        [watcher:sleepy]
        cmd = {worker_cmd} sleep
        numprocesses = 2
    """
    circus = f"""
        statsd = true
        statsd_close_outputs = {str(close_outputs).lower()}
    """
    return body, circus


def stats_endpoint(daemon) -> str:
    return daemon.ok("globaloptions")["options"]["stats_endpoint"]


@pytest.mark.parametrize("close_outputs", [False, True])
def test_statsd_runs_circusd_stats_as_a_child_of_circusd(
    circusd, collector, worker_cmd, close_outputs
):
    d = circusd(*stats_config(worker_cmd, close_outputs))
    assert "circusd-stats" in d.ok("list")["watchers"]
    assert d.ok("status", name="circusd-stats")["status"] == "active"
    [stats_pid] = d.pids("circusd-stats")
    with open(f"/proc/{stats_pid}/stat") as f:
        assert int(f.read().rsplit(")", 1)[1].split()[1]) == d.proc.pid  # its parent: circusd
    outputs = {os.readlink(f"/proc/{stats_pid}/fd/{fd}") for fd in (1, 2)}
    assert (outputs == {"/dev/null"}) is close_outputs, outputs

    feed = collector(stats_endpoint(d))
    assert sorted(feed.pids_of("sleepy")) == sorted(d.pids("sleepy"))
    names = {}
    feed.until(
        lambda w, s, st: w == "circus" and s is not None and names.setdefault(st["name"], st["pid"])
        and len(names) == 2,
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

    d.write_config(body, circus)
    d.ok("reloadconfig", waiting=True)
    wait_for(lambda: d.try_call("list", name="circusd-stats").get("pids"), message="back")
    feed = collector(endpoint)
    assert sorted(feed.pids_of("sleepy")) == sorted(d.pids("sleepy"))
    assert "restart circusd to apply" not in d.log()
