"""What circusd leaves behind (issue 7.8): nothing after a failed start, a log for the kernel
it launches, no socket files after it exits. (A control endpoint another circusd serves, in the
foreground and with --daemon: test_cli.py's test_second_circusd_on_the_same_endpoint_is_refused,
with one first circusd.)"""

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import support
from support import wait_for

pytestmark = pytest.mark.timeout(60)
CIRCUSD = support.CIRCUSD


def run_circusd(config, *args, timeout=30):
    return subprocess.run([*CIRCUSD, str(config), *args], capture_output=True, text=True,
                          timeout=timeout, start_new_session=True)  # fmt: skip


def test_failed_start_leaves_no_kernel(circusd, worker_cmd, no_kernel_left):
    """A socket whose port is taken (found once the kernel is up): circusd exits 2, and the
    kernel it launched for this attempt is gone too, with the socket files. (A failure after
    the workers started, an unsafe control endpoint directory, is in test_trust.py.)"""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        d = circusd(f"""
            [watcher:w]
            cmd = {worker_cmd} sleep
            use_sockets = true

            [socket:web]
            host = 127.0.0.1
            port = {taken.getsockname()[1]}
        """, start=False)  # fmt: skip
        no_kernel_left.append(d.papa)
        result = run_circusd(d.config_path)
    assert result.returncode == 2 and "already in use" in result.stderr, result.stderr
    wait_for(lambda: not support.kernels_at(d.papa), timeout=5, message="the kernel exits")
    for name in ("ctl.sock", "pub.sock", "papa.sock"):
        assert not os.path.exists(os.path.join(d.workdir, name)), name


def test_hook_that_does_not_import_starts_no_kernel(circusd, worker_cmd, no_kernel_left):
    """(Checked before the kernel is launched: exit 1, nothing started.)"""
    d = circusd(f"[watcher:w]\ncmd = {worker_cmd} sleep\nhooks.after_start = nomodule.f\n",
                start=False)  # fmt: skip
    no_kernel_left.append(d.papa)
    result = run_circusd(d.config_path)
    assert result.returncode == 1 and "nomodule" in result.stderr, result.stderr
    assert not os.path.exists(d.papa)


def test_failed_start_keeps_a_kernel_it_did_not_launch(circusd, worker_cmd):
    """A kernel that was already there (with the previous circusd's workers) is not ours to
    stop: a bad new configuration loses nothing. (The previous circusd's quit leaves no socket
    files but the kernel's, as SIGTERM in test_no_socket_files_after_exit.)"""
    d = circusd(f"[watcher:w]\ncmd = {worker_cmd} sleep\n")
    pids = d.pids("w")
    ctl, pub = d.endpoint[len("ipc://") :], d.pubsub[len("ipc://") :]
    assert os.path.exists(ctl) and os.path.exists(pub)
    d.call("quit")
    assert d.proc.wait(timeout=20) == 0
    assert not os.path.exists(ctl) and not os.path.exists(pub)
    assert os.path.exists(d.papa)  # the kernel stays (it keeps the workers)
    with socket.socket() as taken:  # the new configuration adds a socket that cannot bind
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        d.write_config(f"[watcher:w]\ncmd = {worker_cmd} sleep\n[socket:s]\nport = {port}\n")
        result = run_circusd(d.config_path)
    assert result.returncode == 2, result.stderr
    assert all(support.pid_alive(pid) for pid in pids)
    assert support.pid_alive(d.kernel_pid())


def test_launched_kernel_logs_beside_its_socket(circusd, worker_cmd):
    """circusd logs to stdout here: the kernel it launches logs to PAPA_SOCKET.log, and its
    refusals land there."""
    d = circusd(f"[watcher:w]\ncmd = {worker_cmd} sleep\n")
    log = d.papa + ".log"
    assert os.path.exists(log)
    with open(log) as f:
        assert f"papa-kernel ready pid={d.kernel_pid()}" in f.read()  # debug: circusd's level
    assert log in d.log()  # circusd says where the kernel's log is
    os.kill(d.kernel_pid(), signal.SIGTERM)  # refused: it hosts a running worker
    wait_for(lambda: "SIGTERM ignored: 1 hosted processes" in Path(log).read_text(),
             timeout=5, message="the refusal is logged")  # fmt: skip
    d.call("quit", stop_workers=True)
    d.proc.wait(timeout=20)
    wait_for(lambda: "papa-kernel stopped" in Path(log).read_text(), timeout=5, message="stops")


def test_launched_kernel_logs_beside_circusd_log_file(circusd, worker_cmd, tmp_path):
    """At circusd's default level (info) the kernel logs warnings and errors only."""
    logs = tmp_path / "logs"
    logs.mkdir()
    d = circusd(
        f"[watcher:w]\ncmd = {worker_cmd} sleep\n",
        args=("--log-output", str(logs / "circusd.log"), "--log-level", "info"),
    )
    kernel_log = logs / "papa-kernel.log"
    assert kernel_log.exists() and "ready" not in kernel_log.read_text()
    assert not os.path.exists(d.papa + ".log")
    os.kill(d.kernel_pid(), signal.SIGTERM)
    wait_for(lambda: "SIGTERM ignored" in kernel_log.read_text(), timeout=5, message="logged")


def test_no_socket_files_after_exit(circusd, worker_cmd):
    """After SIGTERM (after quit: test_failed_start_keeps_a_kernel_it_did_not_launch)."""
    d = circusd(f"[watcher:w]\ncmd = {worker_cmd} sleep\n")
    ctl, pub = d.endpoint[len("ipc://") :], d.pubsub[len("ipc://") :]
    assert os.path.exists(ctl) and os.path.exists(pub)
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=20) == 0
    assert not os.path.exists(ctl) and not os.path.exists(pub)
    assert os.path.exists(d.papa)  # the kernel stays (it keeps the workers)


def test_a_socket_file_replaced_by_another_is_not_removed(circusd, worker_cmd):
    """circusd removes its own socket files only, not one that replaced them meanwhile."""
    d = circusd(f"[watcher:w]\ncmd = {worker_cmd} sleep\n")
    pub = d.pubsub[len("ipc://") :]
    os.unlink(pub)
    with open(pub, "w") as f:
        f.write("someone else's")
    d.call("quit")
    d.proc.wait(timeout=20)
    assert os.path.exists(pub)
