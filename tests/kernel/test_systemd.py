"""papa-kernel under systemd, against the real protocols: ``sd_notify`` datagrams on a test
NOTIFY_SOCKET (READY/STATUS/STOPPING/WATCHDOG, their order and timing), ``--graceful-stop``
(stopping papa-kernel.service stops everything), and socket activation by the real
``systemd-socket-activate`` (LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES)."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import support
from kernel_helpers import KERNEL, Client, start_kernel
from support import NotifyListener

from papa_kernel import sdnotify

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def listener(kdir):
    notify = NotifyListener(os.path.join(kdir, "notify"))
    yield notify
    notify.close()


def notify_env(address: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "NOTIFY_SOCKET": address, **extra}


def kernel_argv(kdir: str, *extra: str) -> list[str]:
    return [
        *KERNEL,
        "--socket",
        os.path.join(kdir, "k.sock"),
        *("--log-file", os.path.join(kdir, "kernel.log"), "--log-level", "debug", *extra),
    ]


@pytest.fixture
def spawned():
    """Popen'ed kernels are killed at teardown, and (subreaper) whatever they left."""
    procs: list[subprocess.Popen] = []
    with support.subreaper():
        yield procs
        for proc in procs:
            support.kill_pids([proc.pid])
            proc.wait(timeout=10)


def test_ready_status_stopping_in_order(kdir, listener, spawned):
    started = time.monotonic()
    proc = subprocess.Popen(kernel_argv(kdir), env=notify_env(listener.sock.getsockname()),
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    spawned.append(proc)
    ready = listener.next()
    ready_after = time.monotonic() - started
    lines = ready.splitlines()
    assert lines[0] == "READY=1"
    assert lines[1].startswith("STATUS=serving ") and "0 processes running, 0 sockets" in lines[1]
    # READY=1 only when serving: a client is answered the moment READY=1 arrived.
    assert Client(os.path.join(kdir, "k.sock")).greeting.startswith(b"Papa is home")
    assert ready_after < 5, f"READY=1 came {ready_after:.2f}s after launch"
    print(f"READY=1 {ready_after * 1000:.0f} ms after launch")
    proc.send_signal(signal.SIGTERM)  # idle: it exits
    assert listener.until("STOPPING=1")[-1] == "STOPPING=1"
    assert proc.wait(timeout=10) == 0


def test_abstract_notify_socket(kdir, spawned):
    name = f"papa-test-{os.getpid()}-{time.monotonic_ns()}"
    listener = NotifyListener(b"\0" + name.encode())
    try:
        proc = subprocess.Popen(kernel_argv(kdir), env=notify_env("@" + name),
                                stdout=subprocess.DEVNULL)  # fmt: skip
        spawned.append(proc)
        assert listener.next().startswith("READY=1\n")
    finally:
        listener.close()


def test_watchdog_pings_from_the_loop_and_stop_when_it_hangs(kdir, listener, spawned):
    env = notify_env(listener.sock.getsockname(), WATCHDOG_USEC="200000")  # 0.2 s: ping/0.1 s
    proc = subprocess.Popen(kernel_argv(kdir), env=env, stdout=subprocess.DEVNULL)
    spawned.append(proc)
    assert listener.next().startswith("READY=1")
    client = Client(os.path.join(kdir, "k.sock"))
    client.cmd("make process sleeper sleep 60")
    pings = []
    while len(pings) < 5:
        message = listener.next()
        if "WATCHDOG=1" in message.splitlines():
            pings.append(listener.messages[-1][0])
        else:  # the status follows the counts, at the ping's pace
            assert message == "STATUS=serving {}: 1 processes running, 0 sockets".format(
                os.path.join(kdir, "k.sock")
            )
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert all(0.05 < gap < 0.5 for gap in gaps), gaps
    os.kill(proc.pid, signal.SIGSTOP)  # a hung loop: no more pings, systemd would act
    try:
        with pytest.raises(TimeoutError):
            listener.next(timeout=0.6)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    assert "WATCHDOG=1" in listener.next()
    client.cmd("signal KILL sleeper")


def test_watchdog_for_another_pid_is_not_ours():
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "1000000"}) == 0.5
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "x"}) is None
    assert sdnotify.watchdog_interval({}) is None


def test_graceful_stop_stops_every_group_then_exits_0(kdir, listener, spawned):
    proc = subprocess.Popen(kernel_argv(kdir, "--graceful-stop", "10"),
                            env=notify_env(listener.sock.getsockname()),
                            stdout=subprocess.DEVNULL)  # fmt: skip
    spawned.append(proc)
    listener.next()
    client = Client(os.path.join(kdir, "k.sock"))
    # a worker with a child of its own: the group gets SIGTERM
    line = client.cmd("make process web.1 shell=1 sleep\\ 60\\ &\\ sleep\\ 60;\\ wait")
    pid = int(line.split("pid=")[1].split()[0])
    client.cmd("make process web.2 sleep 60")
    support.wait_for(lambda: len(os.listdir(f"/proc/{pid}/task")) and _group(pid) >= 3)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    stopping = listener.until("STOPPING=1")[-1]
    assert "STATUS=stopping 2 processes" in stopping
    assert proc.wait(timeout=10) == 0  # everything ended within the grace period
    elapsed = time.monotonic() - started
    assert elapsed < 3, elapsed
    assert _group(pid) == 0


def test_graceful_stop_kills_what_ignores_sigterm_and_exits_2(kdir, spawned):
    proc = start_kernel(kdir, "--graceful-stop", "0.5")
    try:
        client = proc.client()
        line = client.cmd("make process stubborn shell=1 trap\\ ''\\ TERM;\\ sleep\\ 60")
        pid = int(line.split("pid=")[1].split()[0])
        support.wait_for(lambda: _group(pid) >= 2)  # sh and its sleep
        proc.proc.send_signal(signal.SIGTERM)
        assert "no process can be started" in Client(proc.path).error("make process x sleep 1")
        assert proc.proc.wait(timeout=10) == 2
        assert _group(pid) == 0
        with open(os.path.join(kdir, "kernel.log")) as log:
            assert "SIGKILL to stubborn" in log.read()
    finally:
        proc.stop()


def test_graceful_stop_sends_each_process_its_stop_signal(kdir):
    proc = start_kernel(kdir, "--graceful-stop", "20")
    try:
        client = proc.client()
        # ignores TERM, leaves on INT: only its own stop signal ends it before the grace
        line = client.cmd("make process quits-on-int stop_signal=INT shell=1 "
                          "trap\\ ''\\ TERM;\\ trap\\ 'exit\\ 0'\\ INT;\\ "
                          "sleep\\ 60\\ &\\ wait")  # fmt: skip
        pid = int(line.split("pid=")[1].split()[0])
        assert "stop_signal" not in line  # listings keep their shape
        assert 'Unknown signal "NOPE"' in client.error("make process x stop_signal=NOPE sleep 1")
        support.wait_for(lambda: _group(pid) >= 2)
        started = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 5
    finally:
        proc.stop()
        with contextlib.suppress(ProcessLookupError, UnboundLocalError):
            os.killpg(pid, signal.SIGKILL)  # sh's background sleep ignores SIGINT


def test_force_and_graceful_stop_contradict(kdir):
    result = subprocess.run(kernel_argv(kdir, "--force", "--graceful-stop", "5"),
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 2 and "contradict" in result.stderr


def _group(pgid: int) -> int:
    """Live (non-zombie) members of process group ``pgid``."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                count += 1
    return count


# --- socket activation by the real systemd-socket-activate ------------------------------------

ACTIVATE = shutil.which("systemd-socket-activate")
needs_activate = pytest.mark.skipif(
    ACTIVATE is None, reason="systemd-socket-activate is not installed (Debian package systemd)"
)


@needs_activate
def test_socket_activation_control_and_named_sockets(kdir, spawned):
    """The kernel's endpoint and a web socket come from systemd-socket-activate; the kernel
    starts on the first connection, answers it, and a worker serves on the passed socket."""
    control = os.path.join(kdir, "k.sock")
    port = support.free_port()  # systemd-socket-activate refuses port 0
    argv = [ACTIVATE, "-l", control, "-l", f"127.0.0.1:{port}", "--fdname=control:web",
            *kernel_argv(kdir)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    spawned.append(proc)

    def first_connection() -> Client | None:  # it starts the kernel
        try:
            return Client(control)
        except (FileNotFoundError, ConnectionRefusedError):  # not bound, or not listening yet
            return None

    started = time.monotonic()
    client = support.wait_for(first_connection, message="systemd-socket-activate listening")
    print(f"greeting {1000 * (time.monotonic() - started):.0f} ms after the first connect")
    assert "systemd=web" not in client.cmd("list sockets")  # still in the pool
    line = client.cmd("make socket circus.web systemd=web")
    assert f"host=127.0.0.1 port={port} " in line and "systemd=web" in line
    assert client.cmd("make socket circus.web systemd=web") == line  # idempotent
    fileno = line.rsplit("fileno=", 1)[1]
    client.cmd(
        f"make process circus.web.1 env.PATH=/usr/bin:/bin {sys.executable} -c "
        "import\\ socket,sys;s=socket.socket(fileno=int(sys.argv[1]));"
        "c,_=s.accept();c.sendall(b'hi\\ from\\ '+sys.argv[1].encode());c.close() "
        "$(socket.circus.web.fileno)"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        assert conn.recv(100) == f"hi from {fileno}".encode()  # 30 s: a loaded machine
    error = client.error("make socket circus.api systemd=api")
    assert 'systemd passed no socket named "api"' in error
    assert "cannot be combined" in client.error("make socket x systemd=web port=80")
    client.cmd("remove sockets circus.web")  # back to the pool, still listening
    assert client.cmd("make socket again systemd=web").startswith("again ")
    with open(f"/proc/{proc.pid}/cmdline", "rb") as f:  # exec'ed: LISTEN_PID is its pid
        assert b"papa" in f.read()
    support.wait_for(lambda: "running=False" in client.cmd("list processes"))
    client.cmd("remove processes *")
    client.cmd("remove sockets")
    client.close()
    proc.send_signal(signal.SIGTERM)  # nothing runs: the kernel exits
    assert proc.wait(timeout=10) == 0
    assert os.path.exists(control)  # systemd's file: the kernel leaves it in place
