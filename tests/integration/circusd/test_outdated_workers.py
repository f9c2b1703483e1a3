"""Adopted workers that no longer match the configuration (an upgrade after ``circusctl quit``).

circusd records what each kernel-hosted worker was spawned from; a new circusd compares that
with its configuration, reports the outdated workers (log, ``status``/``list``, an event) and,
with ``reload_outdated`` (or ``circusd --reload-outdated``), replaces them one at a time without
downtime.
"""

import os
import re
import signal
import socket

import pytest
from circusctl_output import ORIGINAL_CIRCUSCTL, OURS, run
from support import Load, free_port, pid_alive, wait_for

from circus.events import EventSubscriber
from circus.hosts.kernel_protocol import PROMPT

pytestmark = pytest.mark.timeout(120)


def environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        items = [item.decode().partition("=") for item in f.read().split(b"\0") if item]
    return {name: value for name, _, value in items}


def kernel_records(d) -> dict[str, int]:
    """The spawn records papa-kernel holds: value name -> the pid it was recorded for."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(10)
        conn.connect(d.papa)
        data = b""
        for line in (None, b"list values circus.spawned.*\n"):
            if line:
                conn.sendall(line)
            while not data.endswith(PROMPT):
                data += conn.recv(65536)
            body, data = data, b""
    records = {}
    for line in body[: -len(PROMPT)].decode().splitlines():
        name, _, value = line.partition(" ")
        records[name] = int(re.search(r",pid=(\d+),", value).group(1))
    return records


#: A replacement (and a reload) waits min_uptime (1 s by default) for each new process to be
#: up; these sleepers never exit on their own, so 0.2 s says as much (a test of a replacement
#: that fails keeps the default: a crashing Python worker may take longer than 0.2 s to exit).
FAST_UP = "min_uptime = 0.2"


def sleeper_config(worker_cmd: str, version: int, extra: str = "") -> str:
    return f"""
        [watcher:web]
        cmd = {worker_cmd} sleep v{version}
        numprocesses = 2
        {FAST_UP}
        {extra}

        [env:web]
        VERSION = {version}

        [watcher:same]
        cmd = {worker_cmd} sleep
    """


# The event is published when start-up ends; two watchers and warmup_delay leave the test's
# subscriber time to (re)connect to the new circusd's PUB socket before that.
WARMUP = "warmup_delay = 0.5\n"


def quit_and_rewrite(d, body: str, circus_extra: str = WARMUP) -> None:
    d.ok("quit")
    d.proc.wait(timeout=20)
    d.write_config(body, circus_extra)


def outdated_event(events) -> dict:
    for topic, body in events:
        if topic == "watcher.web.outdated":
            return body
    raise AssertionError("no watcher.web.outdated event")


def test_outdated_workers_are_reported_and_kept(circusd, worker_cmd):
    """Outdated workers are reported (an event, the log, status, list, circusctl) and kept; a
    reload replaces them, even with ``send_hup = true`` (web's): SIGHUP cannot give a process
    a new command or environment."""
    d = circusd(sleeper_config(worker_cmd, 1, "send_hup = true"), WARMUP)
    web, same = sorted(d.pids("web")), d.pids("same")
    quit_and_rewrite(d, sleeper_config(worker_cmd, 2, "send_hup = true"))
    with EventSubscriber(d.pubsub, ["watcher.web.outdated"], timeout=20) as events:
        d.start()
        event = outdated_event(events)

    # kept running (no option): the same processes, still running the old command; the
    # watcher whose configuration did not change reports nothing (the original's reply)
    assert sorted(d.pids("web")) == web and d.pids("same") == same
    assert set(d.ok("status", name="same")) == {"status", "time", "id"}
    assert all(environ(pid)["VERSION"] == "1" for pid in web)
    # the event names every outdated process and what changed
    assert event["pids"] == web
    assert sorted(p["pid"] for p in event["processes"]) == web
    assert all({"argv", "env"} <= set(p["changed"]) for p in event["processes"])
    # the log: one warning per process, naming the watcher, the pid and the changed fields
    log = d.log()
    for pid in web:
        assert re.search(rf"WARNING.*web: process {pid} \(wid \d\) is outdated.*argv, env", log)
    assert not re.search(r"same: process \d+ .*is outdated", log)
    # status and list: an extra key, only where there is something to say
    assert d.ok("status", name="web")["outdated"] == web
    assert "outdated" not in d.ok("status", name="same")
    assert d.ok("status")["outdated"] == {"web": web}
    assert d.ok("list", name="web")["outdated"] == web
    assert "outdated" not in d.ok("list", name="same")
    # what circusctl prints: ours shows the outdated pids in status and keeps list parseable;
    # the original prints what it always printed (the extra key is ignored)
    listed = ",".join(map(str, d.pids("web"))) + "\n"
    outdated = ",".join(map(str, web))
    for client, status_web, status in [
        (OURS, f"active (outdated: {outdated})\n", f"web: active (outdated: {outdated})\n"),
        ([str(ORIGINAL_CIRCUSCTL)], "active\n", "web: active\n"),
    ]:
        if client != OURS and not ORIGINAL_CIRCUSCTL.exists():
            continue
        assert run(client, d.endpoint, "status", "web") == (0, status_web, "")
        assert run(client, d.endpoint, "status") == (0, "same: active\n" + status, "")
        assert run(client, d.endpoint, "list", "web") == (0, listed, "")

    # reload replaces them (not a SIGHUP) and the marker goes away
    info = d.ok("reload", name="web", waiting=True)["info"]
    assert sorted(info["stopped"]) == web and info["kept"] == []
    new = d.pids("web")
    assert len(new) == 2 and sorted(new) == sorted(info["started"]) and not set(new) & set(web)
    assert all(environ(pid)["VERSION"] == "2" for pid in new)
    assert "outdated" not in d.ok("status", name="web")
    assert "outdated" not in d.ok("status")


def test_reload_outdated_replaces_one_at_a_time_under_load(circusd, worker_cmd):
    port = free_port()

    def config(version: int, extra: str = "") -> str:
        return f"""
            [socket:web]
            host = 127.0.0.1
            port = {port}

            [watcher:web]
            cmd = {worker_cmd} http-graceful $(circus.sockets.web)
            use_sockets = true
            numprocesses = 3
            graceful_timeout = 10
            {FAST_UP}
            {extra}

            [env:web]
            VERSION = {version}
        """

    d = circusd(config(1))
    old = sorted(d.pids("web"))
    load = Load(port)
    load.start()
    try:
        wait_for(lambda: load.ok > 50, message="load running")
        quit_and_rewrite(d, config(2, "reload_outdated = true"), "")
        d.start()

        def replaced():
            pids = d.pids("web")
            status = d.ok("status", name="web")
            done = len(pids) == 3 and not set(pids) & set(old) and "outdated" not in status
            return done and pids

        new = wait_for(replaced, timeout=60, message="every outdated worker replaced")
        wait_for(lambda: not any(pid_alive(p) for p in old), message="old workers gone")
        served = load.ok
        wait_for(lambda: load.ok > served + 50, message="serving after the replacement")
    finally:
        load.stop()
    assert load.failures == []
    assert set(load.pids) >= set(new)  # the new ones serve
    assert all(environ(pid)["VERSION"] == "2" for pid in new)
    # one at a time: each old worker has exited before the next replacement starts
    log = d.log().splitlines()
    steps = [i for i, line in enumerate(log) if "replacing outdated process" in line]
    exits = {
        int(m.group(1)): i
        for i, line in enumerate(log)
        if (m := re.search(r"web: process (\d+) \(wid \d+\) exited", line))
    }
    assert len(steps) == 3
    replaced_pids = [int(re.search(r"outdated process (\d+)", log[i]).group(1)) for i in steps]
    assert sorted(replaced_pids) == old
    for step, pid, next_step in zip(steps, replaced_pids, [*steps[1:], len(log)], strict=True):
        assert step < exits[pid] < next_step


def test_circusd_flag_reload_outdated(circusd, worker_cmd):
    """``circusd --reload-outdated`` replaces the outdated workers (web); a replacement that
    does not come up (broken: its new command exits at once) keeps its outdated workers."""

    def config(version: int) -> str:
        broken = sleeper_config(worker_cmd, version).replace("web", "broken")
        broken = broken.replace(FAST_UP, "")  # its crash must come within min_uptime (1 s)
        broken = broken.replace("[watcher:same]", "[watcher:same2]")
        if version == 2:
            broken = broken.replace("sleep v2", "crash")  # exits 1 at once
        return sleeper_config(worker_cmd, version) + broken

    d = circusd(config(1))
    web, kept = sorted(d.pids("web")), sorted(d.pids("broken"))
    quit_and_rewrite(d, config(2), "")
    d.start("--reload-outdated")
    new = wait_for(
        lambda: (len(d.pids("web")) == 2 and not set(d.pids("web")) & set(web)) and d.pids("web"),
        timeout=30,
        message="outdated workers replaced",
    )
    assert all(environ(pid)["VERSION"] == "2" for pid in new)
    wait_for(lambda: "outdated" not in d.ok("status", name="web"), message="web up to date")
    wait_for(lambda: not any(pid_alive(p) for p in web), message="old workers gone")

    kept_line = r"broken: the replacement \d+ exited .* outdated processes kept"
    wait_for(lambda: re.search(kept_line, d.log()), message="the failed replacement")
    assert sorted(d.pids("broken")) == kept and all(pid_alive(p) for p in kept)
    assert d.ok("status", name="broken")["outdated"] == kept
    after = d.log().split("outdated processes kept")[1]
    assert not [line for line in after.splitlines() if "broken:" in line and "replaced" in line]


def test_records_follow_the_workers_and_go_with_them(circusd, worker_cmd):
    """One small record per live worker, for its current pid; none left once they are gone
    (so the kernel can become idle)."""
    d = circusd(f"""
        [watcher:w]
        cmd = {worker_cmd} sleep
        numprocesses = 3
    """)

    def by_wid():
        return {int(name.rsplit(".", 1)[1]): pid for name, pid in kernel_records(d).items()}

    pids = d.pids("w")
    assert sorted(by_wid().values()) == sorted(pids) and set(by_wid()) == {1, 2, 3}
    d.ok("decr", name="w", waiting=True)
    wait_for(
        lambda: len(by_wid()) == 2 and sorted(by_wid().values()) == sorted(d.pids("w")),
        message="the record of the stopped worker deleted",
    )
    victim = d.pids("w")[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(d.pids("w")) == 2 and victim not in d.pids("w"), message="respawned")
    wait_for(
        lambda: sorted(by_wid().values()) == sorted(d.pids("w")),
        message="the respawned worker's record",
    )
    d.ok("stop", name="w", waiting=True)
    wait_for(lambda: kernel_records(d) == {}, message="no record left")
