"""The pair of units of deploy/ played by hand with the real protocols: papa-kernel
socket-activated by ``systemd-socket-activate`` (its endpoint and a web socket), circusd with
``--no-start-kernel`` taking ``[socket:web] systemd = true``, both reporting to test
NOTIFY_SOCKETs. Then ``systemctl reload circusd`` (SIGHUP) and ``circusctl reloadconfig``,
``systemctl restart circusd`` under load (no worker touched), and ``systemctl stop
papa-kernel`` (circusd first, then the kernel stops every worker and exits 0)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import support
from support import Load, NotifyListener, free_port, pid_alive, wait_for

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        shutil.which("systemd-socket-activate") is None,
        reason="systemd-socket-activate is not installed (Debian package systemd)",
    ),
]


def test_socket_activated_notify_ready_pair(circusd, worker_cmd, tmp_path, monkeypatch):
    port = free_port()
    kernel_notify = NotifyListener(str(tmp_path / "kn"))
    circusd_notify = NotifyListener(str(tmp_path / "cn"))
    d = circusd(
        f"""
        [socket:web]
        systemd = true

        [watcher:web]
        cmd = {worker_cmd} http $(circus.sockets.web)
        use_sockets = true
        numprocesses = 2
        """,
        start=False,
    )
    kernel_argv = [
        *("systemd-socket-activate", "-l", d.papa, "-l", f"127.0.0.1:{port}"),
        *("-E", f"NOTIFY_SOCKET={tmp_path / 'kn'}"),  # it passes only the variables named
        *("--fdname=control:web", sys.executable, "-m", "papa_kernel.cli", "--socket", d.papa),
        *("--graceful-stop", "10", "--pid-file", d.papa + ".pid"),
        *("--log-file", str(tmp_path / "kernel.log"), "--log-level", "debug"),
    ]
    with support.subreaper():
        kernel = subprocess.Popen(
            kernel_argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for(lambda: os.path.exists(d.papa), message="the kernel's socket unit")
            monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "cn"))
            monkeypatch.setenv("WATCHDOG_USEC", "1000000")
            launched = time.monotonic()
            d.start("--no-start-kernel", wait=False)  # its connection starts the kernel
            ready = circusd_notify.next(timeout=30).splitlines()
            ready_after = time.monotonic() - launched
            assert ready == ["READY=1", "STATUS=1 watcher (1 active), 2 processes"]
            print(f"circusd READY=1 {ready_after * 1000:.0f} ms after launch")
            assert kernel_notify.next().startswith("READY=1\nSTATUS=serving ")
            pids = sorted(d.pids("web"))
            assert d.call("listsockets")["sockets"][0]["port"] == port
            load = Load(port)
            load.start()
            wait_for(lambda: load.served_by(pids), message="workers serve the passed socket")

            d.proc.send_signal(signal.SIGHUP)  # systemctl reload circusd
            assert circusd_notify.until("READY=1")[-2:] == [
                circusd_notify.messages[-2][1],
                "READY=1\nSTATUS=1 watcher (1 active), 2 processes",
            ]
            assert circusd_notify.messages[-2][1].startswith("RELOADING=1\nMONOTONIC_USEC=")
            d.ok("reloadconfig")
            got = circusd_notify.until("READY=1")
            assert [m.split("\n")[0] for m in got if m != "WATCHDOG=1"] == [
                "RELOADING=1",
                "READY=1",
            ]
            pinged = any(m == "WATCHDOG=1" for _t, m in circusd_notify.messages)
            wait_for(lambda: pinged or circusd_notify.next() == "WATCHDOG=1", message="a ping")

            # systemctl restart circusd: SIGTERM, STOPPING=1, then a new circusd adopts.
            d.stop()
            assert "STOPPING=1" in circusd_notify.until("STOPPING=1")[-1]
            wait_for(lambda: load.ok > 20, message="serving while circusd is away")
            d.start("--no-start-kernel", wait=False)
            assert circusd_notify.until("READY=1")[-1].startswith("READY=1")
            assert sorted(d.pids("web")) == pids  # adopted, not restarted
            load.stop()
            assert not load.failures, load.failures[:5]

            # systemctl stop papa-kernel: circusd stops first (ordered after the kernel)...
            d.stop()
            assert all(pid_alive(pid) for pid in pids)
            started = time.monotonic()
            kernel.send_signal(signal.SIGTERM)  # ...then the kernel stops every worker
            assert "STOPPING=1" in kernel_notify.until("STOPPING=1")[-1]
            assert kernel.wait(timeout=20) == 0
            print(f"papa-kernel stopped everything in {time.monotonic() - started:.2f} s")
            assert not any(pid_alive(pid) for pid in pids)
        finally:
            kernel_notify.close()
            circusd_notify.close()
            if kernel.poll() is None:
                kernel.kill()
                kernel.wait(timeout=10)


def test_no_start_kernel_refuses_clearly_when_nobody_answers(circusd, worker_cmd):
    d = circusd(f"[watcher:w]\ncmd = {worker_cmd} sleep\n", start=False)
    d.start("--no-start-kernel", wait=False)
    assert d.proc.wait(timeout=30) != 0
    assert "--no-start-kernel" in d.log() and "papa-kernel" in d.log()
    assert not os.path.exists(d.papa)  # nothing was started


def test_systemd_socket_needs_the_kernel(circusd, worker_cmd, tmp_path, capsys):
    d = circusd(
        f"""
        [socket:web]
        systemd = true
        port = 8080
        use_papa = false

        [watcher:w]
        cmd = {worker_cmd} sleep
        """,
        start=False,
    )
    from circus.cli import circusd as circusd_cli

    # circusd --check-config as a call of its main, as test_cli.py does (the answer is tested,
    # not the start-up)
    code = circusd_cli.main(["--check-config", d.config_path])
    out, err = capsys.readouterr()
    assert code != 0
    assert "systemd = true needs use_papa = true" in out + err
    assert "port cannot be set with systemd = true" in out + err


@contextlib.contextmanager
def kernel_unit(papa: str, log: str, grace: float) -> Iterator[subprocess.Popen]:
    """papa-kernel as papa-kernel.service runs it (``--graceful-stop``), in the foreground;
    every process it leaves is killed (the caller's subreaper reaps them)."""
    argv = [sys.executable, "-m", "papa_kernel.cli", "--socket", papa]
    kernel = subprocess.Popen(
        [*argv, "--graceful-stop", str(grace), "--log-file", log],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert kernel.stdout.readline().startswith("papa-kernel ready")
        yield kernel
    finally:
        if kernel.poll() is None:
            kernel.kill()
        kernel.wait(timeout=10)
        kernel.stdout.close()


def test_quit_stop_workers_leaves_a_kernel_circusd_did_not_start(circusd, worker_cmd, tmp_path):
    """Under systemd (or --init) the kernel is not circusd's to end: quit --stop-workers stops
    the workers, and the kernel stays up for the next circusd (no exit-if-idle)."""
    d = circusd(f"[watcher:w]\ncmd = {worker_cmd} sleep\nnumprocesses = 2\n", start=False)
    with support.subreaper(), kernel_unit(d.papa, str(tmp_path / "kernel.log"), 5) as kernel:
        d.start("--no-start-kernel")
        pids = d.pids("w")
        d.ok("quit", stop_workers=True)
        assert d.proc.wait(timeout=30) == 0
        assert not any(pid_alive(pid) for pid in pids)
        # circusd has exited: an exit-if-idle it sent was answered before, the kernel would
        # be leaving now
        with pytest.raises(subprocess.TimeoutExpired):
            kernel.wait(timeout=0.5)


def test_the_kernel_stops_workers_with_their_watchers_stop_signal(circusd, worker_cmd, tmp_path):
    """systemctl stop papa-kernel: circusd is gone, the kernel sends each worker its watcher's
    stop_signal (here INT to a worker that ignores TERM), so the stop is quick and clean."""
    d = circusd(f"[watcher:w]\ncmd = {worker_cmd} stubborn\nstop_signal = INT\n", start=False)
    with support.subreaper(), kernel_unit(d.papa, str(tmp_path / "kernel.log"), 20) as kernel:
        d.start("--no-start-kernel")
        pids = d.pids("w")
        d.stop()  # circusd.service stops first; the worker stays
        assert all(pid_alive(pid) for pid in pids)
        started = time.monotonic()
        kernel.send_signal(signal.SIGTERM)
        assert kernel.wait(timeout=15) == 0  # not 2: nothing had to be killed
        assert time.monotonic() - started < 5
