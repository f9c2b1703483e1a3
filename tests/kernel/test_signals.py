"""The signal command, both reapers (pidfd and the SIGCHLD fallback), and kernel SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest
import support
from kernel_helpers import processes, start_kernel, wait_exited

# the tests that use only ``client`` share one kernel (tests/kernel/conftest.py)
pytestmark = pytest.mark.shared_kernel


def test_signal_by_name_number_and_pattern(client):
    client.cmd("make process s.1 sleep 30")
    client.cmd("make process s.2 sleep 30")
    client.cmd("make process other sleep 30")
    pids = {name: info["pid"] for name, info in processes(client).items()}
    assert client.cmd("signal TERM s.*") == f"s.1 pid={pids['s.1']}\ns.2 pid={pids['s.2']}"
    assert wait_exited(client, "s.1")["exit_code"] == "-15"
    assert wait_exited(client, "s.2")["exit_code"] == "-15"
    assert client.cmd("signal TERM s.*") == ""  # exited ones are skipped
    assert processes(client)["other"]["running"] == "True"
    for spelling in ("sigusr1", "USR1", "SIGUSR1", "10"):
        assert signal.Signals.SIGUSR1 == 10
        client.cmd(f"make process u{spelling} sleep 30")
        client.cmd(f"signal {spelling} u{spelling}")
        assert wait_exited(client, f"u{spelling}")["exit_code"] == "-10"
    client.cmd("si KILL other")
    wait_exited(client, "other")


def test_signal_errors(client):
    client.cmd("make process t sleep 30")
    assert "Unknown signal" in client.error("signal BOGUS t")
    assert "Unknown signal number" in client.error("signal 999 t")
    assert "nothere not found" in client.error("signal TERM nothere")
    assert "at least one process" in client.error("signal TERM")
    assert "Unknown signal option" in client.error("signal color=red TERM t")
    assert processes(client)["t"]["running"] == "True"


def test_signal_group_reaches_grandchildren(client, scratch):
    marker = os.path.join(scratch, "grandchild")
    client.cmd(rf"make process grp sh -c sleep\ 30\ &\ echo\ $!\ >{marker};\ wait")
    grandchild = int(support.wait_for(lambda: _read(marker), message="grandchild pid"))
    assert support.pid_alive(grandchild)
    client.cmd("signal group=1 TERM grp")
    wait_exited(client, "grp")
    support.wait_for(lambda: not support.pid_alive(grandchild), message="grandchild to die")


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""


def test_sigchld_reaper_fallback(kdir):
    kernel = start_kernel(kdir, "--reaper", "sigchld")
    try:
        client = kernel.client()
        for index in range(20):
            client.cmd(rf"make process f{index} sh -c exit\ {index}")
        client.cmd("make process slow sleep 30")
        client.cmd("signal KILL slow")
        for index in range(20):
            assert wait_exited(client, f"f{index}")["exit_code"] == str(index)
        assert wait_exited(client, "slow")["exit_code"] == "-9"
        client.watch("w p f1")
        assert client.collect({"f1"})["f1"]["closed"] == 1
    finally:
        kernel.stop()


def test_sigterm_refused_while_hosting(kernel, client):
    client.cmd("make process keep sleep 30")
    kernel.proc.send_signal(signal.SIGTERM)
    log = os.path.join(os.path.dirname(kernel.path), "kernel.log")
    support.wait_for(
        lambda: "SIGTERM ignored: 1 hosted processes are running" in _read(log),
        message="the refusal to be logged",
    )
    assert client.cmd("version").startswith("papa-kernel")  # still serving after the signal
    client.cmd("signal KILL keep")
    wait_exited(client, "keep")
    kernel.proc.send_signal(signal.SIGTERM)  # an exited process is not a running one
    assert kernel.proc.wait(timeout=10) == 0
    assert not os.path.exists(kernel.path)


def test_sigterm_with_force_exits_and_leaves_workers_running(kdir):
    kernel = start_kernel(kdir, "--force")
    pid = None
    try:
        client = kernel.client()
        pid = int(client.cmd("make process w sleep 30").split(" ")[1].split("=")[1])
        kernel.proc.send_signal(signal.SIGTERM)
        assert kernel.proc.wait(timeout=10) == 0
        assert support.pid_alive(pid)  # the kernel's exit does not kill its workers
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        kernel.stop()
