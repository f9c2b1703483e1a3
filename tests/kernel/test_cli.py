"""The papa-kernel command line: socket security, single instance, TCP, daemon, logging."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess

import pytest
import support
from kernel_helpers import KERNEL, Client, refused_in_process, start_kernel


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KERNEL, *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        start_new_session=True,
    )


def test_default_socket_is_private(kdir):
    runtime = os.path.join(kdir, "xdg")
    os.mkdir(runtime, 0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime}
    proc = subprocess.Popen(
        [*KERNEL, "--log-level", "error"], stdout=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        path = os.path.join(runtime, "circus", "papa.sock")
        assert f"socket={path}" in line
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        Client(path).cmd("version")
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
    assert not os.path.exists(path)


def test_second_kernel_refuses_a_served_socket(kernel):
    result = run_cli("--socket", kernel.path)
    assert result.returncode == 1
    assert "another papa-kernel is serving" in result.stderr
    assert kernel.client().cmd("version")  # the first one is untouched


def test_refuses_a_socket_served_by_another_program(kdir):
    path = os.path.join(kdir, "other.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    try:
        result = run_cli("--socket", path)
        assert result.returncode == 1 and "already served" in result.stderr
    finally:
        server.close()


def test_stale_socket_file_is_replaced_but_not_a_regular_file(kdir):
    path = os.path.join(kdir, "stale.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # nobody listens any more
    kernel = start_kernel(kdir, socket_name="stale.sock")
    try:
        assert kernel.client().cmd("version")
    finally:
        kernel.stop()
    regular = os.path.join(kdir, "regular")
    open(regular, "w").close()
    result = run_cli("--socket", regular)
    assert result.returncode == 1 and "not a socket" in result.stderr
    assert os.path.isfile(regular)


def test_tcp_is_loopback_only(tcp_kernel, kdir, capsys):
    host, port = tcp_kernel.tcp
    assert host == "127.0.0.1" and port > 0
    assert tcp_kernel.client(tcp=True).cmd("version").startswith("papa-kernel")
    for bad in ("0.0.0.0:0", "8.8.8.8:1"):
        result = run_cli("--socket", os.path.join(kdir, "t2.sock"), "--tcp", bad)
        assert result.returncode == 1 and "only loopback" in result.stderr, bad
    result = run_cli("--socket", os.path.join(kdir, "t3.sock"), "--tcp", "nonsense")
    assert result.returncode == 1 and "HOST:PORT" in result.stderr
    for bad in ("127.0.0.1:65536", "127.0.0.1:²", "127.0.0.1:99999999999999999999"):
        status, err = refused_in_process(capsys, "--socket", f"{kdir}/t4.sock", "--tcp", bad)
        assert status == 1 and "port between 0 and 65535" in err, bad


def test_vanished_tcp_watcher_is_noticed_at_once(tcp_kernel, kdir):
    control = tcp_kernel.client(tcp=True)
    control.cmd("make process silent sleep 30")
    watcher = tcp_kernel.client(tcp=True)
    watcher.watch("w p silent")
    log = os.path.join(kdir, "kernel.log")

    def disconnects() -> int:
        with open(log) as handle:
            return handle.read().count("client disconnected")

    before = disconnects()
    watcher.close()  # papa 1.0.6 kept this session until the process printed something
    support.wait_for(lambda: disconnects() > before, timeout=5, message="disconnect noticed")


def test_daemon_mode_detaches_and_writes_pid_file(kdir):
    path, log = os.path.join(kdir, "d.sock"), os.path.join(kdir, "d.log")
    with support.subreaper():  # the daemon's exit status comes back to us
        _daemon_detaches_and_exits(path, log)


def _daemon_detaches_and_exits(path: str, log: str) -> None:
    result = run_cli("--daemon", "--socket", path, "--log-file", log)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("papa-kernel ready pid=")
    pid = int(result.stdout.split("pid=")[1].split()[0])
    try:
        with open(path + ".pid") as handle:
            assert int(handle.read()) == pid
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        assert int(fields[3]) != os.getpid()  # session: not ours
        assert int(fields[2]) != pid  # not a session leader: can never get a terminal
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            assert b"papa-kernel" in handle.read()  # process title (setproctitle)
        assert os.readlink(f"/proc/{pid}/cwd") == "/"
        client = Client(path)
        client.send("exit-if-idle\n")
        assert client.read_until(b"\n> ") == b"Exiting papa!\n> "
        # it ends without tearing its interpreter down (daemon.exit_now): with its status,
        # after its last record and its clean-up
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        with open(log) as handle:
            assert handle.read().splitlines()[-1].endswith("papa-kernel stopped (exit status 0)")
        assert not os.path.exists(path + ".pid") and not os.path.exists(path)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_daemon_mode_reports_startup_failure(kernel):
    result = run_cli("--daemon", "--socket", kernel.path)
    assert result.returncode == 1 and "another papa-kernel is serving" in result.stderr


def test_help_and_version_options():
    result = run_cli("--help")
    assert result.returncode == 0
    for option in (
        "--socket",
        "--tcp",
        "--daemon",
        "--pid-file",
        "--log-level",
        "--log-file",
        "--force",
    ):
        assert option in result.stdout
    # the default socket is named (not "default: None")
    assert "None" not in result.stdout and "--socket PATH" in result.stdout
    assert "papa.sock in the private runtime dir" in " ".join(result.stdout.split())
    assert run_cli("--version").stdout.startswith("papa-kernel ")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_idle_kernel_stops_on_signal(kdir, signum):
    kernel = start_kernel(kdir)
    try:
        kernel.proc.send_signal(signum)
        assert kernel.proc.wait(timeout=10) == 0
    finally:
        kernel.stop()


def test_the_kernel_imports_nothing_from_its_working_directory(tmp_path):
    """circusd starts its kernel in its own working directory (often a project's): a module
    there named like one of the standard library's must not replace it (``python -c`` puts the
    working directory first on ``sys.path``; the kernel runs with ``-P``)."""
    shadow = "raise ImportError('selectors.py of the working directory was imported')\n"
    (tmp_path / "selectors.py").write_text(shadow)
    result = subprocess.run([*KERNEL, "--version"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("papa-kernel ")


def test_the_standard_library_comes_first_on_the_kernels_path(tmp_path):
    """The directories the kernel is told about (papa_kernel's, setproctitle's: often
    site-packages) come after the standard library, as site-packages does in any Python: a
    module there named like a standard one (an old backport) must not replace it."""
    from circus.hosts.kernel_boot import BOOT, RUN_NOW, kernel_import_paths

    (tmp_path / "selectors.py").write_text("raise ImportError('a site-packages selectors.py')\n")
    boot = BOOT.format(paths=[str(tmp_path), *kernel_import_paths()], run=RUN_NOW)
    result = subprocess.run([KERNEL[0], "-S", "-P", "-c", boot, "--version"],
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("papa-kernel ")
