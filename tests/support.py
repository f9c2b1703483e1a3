"""Helpers shared by the test suites (imported as ``support``; tests/ is on sys.path).

Rules every test follows (DEVELOPERS guide): real processes, real sockets on 127.0.0.1 with
ports the OS picks, bounded waits (never a bare sleep when a condition can be polled), and every
process started is ended by the fixture that started it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_outside_ephemeral_range(host: str = "127.0.0.1") -> int:
    """A free TCP port below the kernel's ephemeral range, for an endpoint that stays unbound
    for seconds while a client keeps reconnecting to it. :func:`free_port` (bind to 0) and
    every other xdist worker's draw from the ephemeral range, so another test may bind such a
    port meanwhile, and the client then gets that test's server's answer (a clean-clone run
    got a reply without the responder's "echo" after 3 s of absence); bind(0) never hands out
    a port below the range (and no connect takes it as its own source port)."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    for port in random.sample(range(10000, low), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port between 10000 and {low}")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds.

    The first polls are ``interval`` apart; a wait that lasts grows the interval (x1.25 a poll)
    up to 50 ms: a condition that takes seconds (a respawn, a timeout) then costs a few dozen
    polls (each often a call to circusd) rather than hundreds, and is seen at most 50 ms late."""
    deadline = time.monotonic() + timeout
    longest = max(interval, 0.05)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
        interval = min(interval * 1.25, longest)


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_dead(pids, timeout: float = 10.0) -> None:
    """Wait until every one of ``pids`` has exited: gone, or a zombie (reaped here if it is
    our child). The orphans of a killed kernel or circusd (not our children) are reaped by
    pid 1, which on some machines does it only every ~2 s (this firecracker VM's init: 1.2 to
    1.9 s measured); a cleanup that waited for them to vanish (psutil's ``wait`` of a process
    that is not our child) waited that long, at every test that started a circusd."""
    pids = list(pids)

    def dead() -> bool:
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        return not any(pid_alive(pid) for pid in pids)

    wait_for(dead, timeout=timeout, message=f"processes {pids} to exit")


def as_nobody(function: Callable[[], int]) -> tuple[int, str]:
    """Run ``function`` in a forked child that runs as the user nobody (the caller must be
    root): returns its result as an exit code and what it wrote to stderr. A user's client
    against root's circusd, without an interpreter nobody could not execute."""
    import pwd
    import sys

    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only os calls and ``function``, then _exit
        code = 70
        try:
            os.dup2(write_end, 2)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            code = function()
        except BaseException as exc:
            print(f"as_nobody: {exc!r}", file=sys.stderr)
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        err = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err


def kill_pids(pids: list[int], sig: int = signal.SIGKILL) -> None:
    """Kill the given pids (only pids we started), ignoring ones already gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc); none once it is gone."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(item) for item in handle.read().split())
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``'s children (with their process groups), then ``pid`` itself (only a
    process we started, e.g. a papa-kernel). ``pid`` is stopped first (SIGSTOP), so it starts
    no child meanwhile: one pass, no wait."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGSTOP)
    for child in children_of(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class Gate:
    """A fifo a process waits on (``read x <PATH`` in its shell script) until the test
    :meth:`open` s it: the process goes on when the test is ready, in place of a sleep meant to
    let the test get ready first. Nothing is written to it: the reader gets end of file.

    :attr:`wait` is that shell command with its spaces escaped for papa-kernel's line protocol
    (``make process NAME sh -c ...``)."""

    def __init__(self, directory: str | os.PathLike, name: str = "gate") -> None:
        self.path = os.path.join(directory, name)
        os.mkfifo(self.path)
        self.wait = rf"read\ x\ <{self.path}"

    def open(self, timeout: float = 10.0) -> None:
        """Let the process go on (once it waits: opening a fifo needs its reader)."""
        os.close(wait_for(self._writer, timeout, message=f"a reader of {self.path}"))

    def _writer(self) -> int | None:
        try:
            return os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: nobody reads it yet
            return None


@contextlib.contextmanager
def running(argv: list[str], **popen_kwargs) -> Iterator[subprocess.Popen]:
    """Run a process for the duration of a ``with`` block; kill it (and its group) after."""
    proc = subprocess.Popen(argv, start_new_session=True, **popen_kwargs)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# --- HTTP load and a child subreaper, for tests that kill daemons under load ----------------------

import collections  # noqa: E402
import ctypes  # noqa: E402
import select  # noqa: E402
import threading  # noqa: E402


class DeathClock(threading.Thread):
    """When each of ``pids`` exits, seen on a pidfd of each (opened at once, so the pids
    cannot be reused meanwhile), not by polling: ``died[pid]`` in ``time.monotonic()``,
    ``died_boottime[pid]`` in CLOCK_BOOTTIME (the clock of a process's start time in /proc:
    :func:`start_boottime`). For processes that are not this test's children too (a killed
    kernel's orphans)."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.died: dict[int, float] = {}
        self.died_boottime: dict[int, float] = {}
        self._fds = {os.pidfd_open(pid): pid for pid in pids}
        self._poll = select.poll()
        for fd in self._fds:
            self._poll.register(fd, select.POLLIN)
        self.start()

    def run(self) -> None:
        try:
            while len(self.died) < len(self._fds):
                for fd, _ in self._poll.poll():
                    pid = self._fds[fd]
                    self.died_boottime[pid] = time.clock_gettime(time.CLOCK_BOOTTIME)
                    self.died[pid] = time.monotonic()
                    self._poll.unregister(fd)
        finally:
            for fd in self._fds:
                os.close(fd)

    def wait(self, timeout: float = 10.0) -> None:
        """Wait up to ``timeout`` seconds until every one of the pids has exited."""
        self.join(timeout)
        if self.is_alive():
            alive = sorted(set(self._fds.values()) - set(self.died))
            raise AssertionError(f"still alive after {timeout}s: {alive}")


def start_boottime(pid: int) -> float:
    """When ``pid`` started, in CLOCK_BOOTTIME seconds (/proc's clock ticks: 10 ms steps,
    rounded down)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime


PR_SET_CHILD_SUBREAPER = 36


class Load(threading.Thread):
    """Bounded loopback HTTP load: one request every ``interval`` seconds. Counts successes
    per serving pid (the worker answers its pid) and keeps the time of every failure."""

    def __init__(self, port: int, interval: float = 0.005):
        super().__init__(daemon=True)
        self.port = port
        self.interval = interval
        self.ok = 0
        self.failures: list[str] = []
        self.failure_times: list[float] = []  # time.monotonic() of each failure
        self.pids: collections.Counter = collections.Counter()
        self.first_ok: dict[int, float] = {}  # pid -> time.monotonic() of its first answer
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                status, body = self._request()
                if status != b"HTTP/1.0 200 OK":
                    self._fail(f"status line {status!r}")
                else:
                    self.ok += 1
                    self.pids[int(body)] += 1
                    self.first_ok.setdefault(int(body), time.monotonic())
            except (OSError, ValueError) as exc:
                self._fail(repr(exc))
            self._halt.wait(self.interval)

    def _request(self) -> tuple[bytes, bytes]:
        """One HTTP/1.0 GET on a new connection, as the workers answer it (the status line,
        the body; the worker closes the connection after it): a plain socket costs a fraction
        of http.client's CPU, and the load runs for seconds at 200 requests a second."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
        head, separator, body = data.partition(b"\r\n\r\n")
        if not separator:
            raise ValueError(f"incomplete response {data!r}")
        return head.split(b"\r\n", 1)[0], body

    def _fail(self, reason: str) -> None:
        self.failure_times.append(time.monotonic())
        self.failures.append(reason)

    def served_by(self, pids) -> bool:
        """True once a request was answered by one of ``pids``."""
        return any(self.pids[p] for p in pids)

    def describe(self, since: float | None = None) -> str:
        """What the load saw, for the message of a failed wait: answers per pid, the last
        failures (seconds after ``since``), whether its thread still runs."""
        since = time.monotonic() if since is None else since
        last = [
            f"{t - since:+.2f}s {reason}"
            for t, reason in zip(self.failure_times[-5:], self.failures[-5:], strict=True)
        ]
        return (
            f"load: {self.ok} answered, by pid {dict(self.pids)}; {len(self.failures)} failed, "
            f"last: {last}; thread alive: {self.is_alive()}"
        )

    def stop(self):
        self._halt.set()
        self.join(timeout=10)


#: The worker of the circusd integration tests (modes in its docstring).
CIRCUSD_WORKER = os.path.join(os.path.dirname(__file__), "integration", "circusd", "worker.py")
#: ``cmd = ...`` text running that worker through worker.sh, which does the ``sleep`` mode
#: itself (``start PID ARGS``, then /bin/sleep: ~2 ms of CPU instead of ~15; most workers the
#: suite starts are sleepers) and runs the others with this Python, ``-S``: the worker needs
#: only the standard library, and without ``site`` (the venv's .pth files: the editable
#: install's import hook, setuptools' distutils shim) a Python start costs ~14 ms of CPU
#: instead of ~37 ms.
WORKER_CMD = f"/bin/sh {CIRCUSD_WORKER[: -len('.py')]}.sh {sys.executable}"


def http_web_config(port: int, numprocesses: int = 2, logging: bool = False) -> str:
    """A ``[socket:web]`` on 127.0.0.1:``port`` served by ``use_sockets`` HTTP workers that
    write to /dev/null, or with ``logging`` log each request to stderr through their host
    (worker.py ``http-logging``: an orphan of a dead kernel then fails every request)."""
    mode = "http-logging" if logging else "http"
    return f"""
        [socket:web]
        host = 127.0.0.1
        port = {port}

        [watcher:web]
        cmd = {WORKER_CMD} {mode} $(circus.sockets.web)
        use_sockets = true
        numprocesses = {numprocesses}
        close_child_stdout = {str(not logging).lower()}
    """


def descendants(pid: int) -> list[int]:
    """The descendants of ``pid``, parents first: a few reads in /proc. (psutil's
    ``children()`` reads the stat file of every process on the machine: ~4 ms with 150 of
    them, several times that under xdist, at every circusd cleanup and shared-daemon put-back.)"""
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = children_of(todo.pop())
        found += kids
        todo += kids
    return found


def _children_of_us() -> set[int]:
    return set(children_of(os.getpid()))


@contextlib.contextmanager
def subreaper() -> Iterator[None]:
    """Be a child subreaper for the block: the double-forked kernel and workers orphaned by a
    killed daemon come back to us instead of to pid 1. On exit, every child that appeared
    during the block (and not before) is SIGKILLed and reaped."""
    libc = ctypes.CDLL(None, use_errno=True)
    before = _children_of_us()
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    try:
        yield
    finally:
        deadline = time.monotonic() + 30
        while (left := _children_of_us() - before) and time.monotonic() < deadline:
            kill_pids(sorted(left))
            for pid in left:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


# --- a real circusd (and the kernel it starts) for integration tests ------------------------------

import json  # noqa: E402
import textwrap  # noqa: E402

import psutil  # noqa: E402

#: circusd as users run it, by its console script (``python -m circus.cli.circusd`` costs
#: runpy and importlib.util more: ~3-8 ms of CPU at each of the suite's hundreds of circusd
#: starts); the module where no script is installed beside this interpreter.
_CIRCUSD_SCRIPT = os.path.join(os.path.dirname(sys.executable), "circusd")
CIRCUSD = (
    [sys.executable, _CIRCUSD_SCRIPT]
    if os.path.exists(_CIRCUSD_SCRIPT)
    else [sys.executable, "-m", "circus.cli.circusd"]
)


class Circusd:
    """A real ``circusd`` subprocess on a config in ``workdir``, with private ipc endpoints and
    its own kernel socket. :meth:`cleanup` ends circusd, the kernel and every worker."""

    def __init__(self, workdir, config_body: str = "", circus_extra: str = ""):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.endpoint = f"ipc://{self.workdir}/ctl.sock"
        self.pubsub = f"ipc://{self.workdir}/pub.sock"
        self.papa = f"{self.workdir}/papa.sock"
        self.config_path = os.path.join(self.workdir, "circus.ini")
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(self.workdir, "circusd.log")
        self._seen_pids: set[int] = set()
        self.argv_prefix: list[str] = []  # e.g. ["ip", "netns", "exec", NAME] (tests/netns.py)
        self.env: dict[str, str] | None = None  # circusd's environment (default: ours)
        self.client_keys: dict[str, str] = {}  # curve_secret_key/curve_server_key for client()
        #: what the last readiness polls got, for the message of a circusd never ready
        self.polls: deque[str] = deque(maxlen=20)
        self.write_config(config_body, circus_extra)

    def write_config(self, body: str, circus_extra: str = "") -> None:
        header = textwrap.dedent(f"""\
            [circus]
            endpoint = {self.endpoint}
            pubsub_endpoint = {self.pubsub}
            papa_endpoint = {self.papa}
            """) + textwrap.dedent(circus_extra)
        with open(self.config_path, "w") as f:
            f.write(header + "\n" + textwrap.dedent(body))

    def start(self, *extra_args: str, wait: bool = True) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    *self.argv_prefix,
                    *CIRCUSD,
                    self.config_path,
                    "--log-level",
                    "debug",
                    *extra_args,
                ],
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
            )
        self._seen_pids.add(self.proc.pid)
        if wait:
            self._wait_socket_file()
            try:
                wait_for(lambda: self._ready(), timeout=20, message="circusd ready")
            except AssertionError as exc:  # say what the polls got and what circusd was doing
                polls = "\n".join(self.polls)
                raise AssertionError(
                    f"{exc}; the last status polls of {self.endpoint}:\n{polls}\n"
                    f"circusd's log:\n{self.log()[-4000:]}"
                ) from None
        return self.proc

    def _wait_socket_file(self, timeout: float = 20) -> None:
        """Until the control socket file exists (an ipc endpoint), circusd exits or ``timeout``:
        a stat every 5 ms. ``wait_for``'s polls grow to 50 ms apart, which saw a circusd ready
        ~25 ms late on average, at each of the suite's hundreds of starts."""
        if not self.endpoint.startswith("ipc://") or self.proc is None:
            return
        path, deadline = self.endpoint[6:], time.monotonic() + timeout
        while not os.path.exists(path) and self.proc.poll() is None:
            if time.monotonic() > deadline:
                return  # _ready's wait says what it saw
            time.sleep(0.005)

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"circusd exited with {self.proc.returncode}:\n{self.log()}")
        when = time.strftime("%H:%M:%S")
        if self.endpoint.startswith("ipc://") and not os.path.exists(self.endpoint[6:]):
            self.polls.append(f"{when} no socket file yet")
            return False  # not bound yet: a client (ZeroMQ socket + monitor) would be wasted
        try:
            reply = self.call("status", timeout=1)
        except Exception as exc:
            self.polls.append(f"{when} {type(exc).__name__}: {exc}")
            return False
        self.polls.append(f"{when} {reply}")
        return reply.get("status") is not None

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def client(self, timeout: float = 10):
        from circus.client import CircusClient

        return CircusClient(endpoint=self.endpoint, timeout=timeout, **self.client_keys)

    def call(self, command: str, timeout: float = 10, **props) -> dict:
        client = self.client(timeout)
        try:
            return client.call({"command": command, "properties": props})
        finally:
            client.stop()

    def try_call(self, command: str, **props) -> dict:
        """Like call(), but {} while circusd is not (yet) answering."""
        try:
            return self.call(command, timeout=2, **props)
        except Exception:
            return {}

    def ok(self, command: str, **props) -> dict:
        reply = self.call(command, **props)
        assert reply.get("status") != "error", reply
        return reply

    def pids(self, watcher: str) -> list[int]:
        return [int(p) for p in self.ok("list", name=watcher)["pids"]]

    def kernel_pid(self) -> int | None:
        try:
            with open(self.papa + ".pid") as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def kill9(self) -> None:
        """SIGKILL circusd (the kernel and workers stay)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM circusd and wait (kernel-hosted workers stay)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=timeout)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.call("quit", timeout=5, stop_workers=True)
            except Exception:  # no answer (hung, or CURVE keys it lacks): its SIGTERM handler
                with contextlib.suppress(ProcessLookupError):
                    self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        kernel = self.kernel_pid()
        victims: list[int] = []
        if kernel is not None:
            victims = [kernel, *descendants(kernel)]
        kill_pids(victims)
        # Orphans (the kernel and its children, reparented to pid 1): their exit is what
        # counts, not their zombie, which a slow pid 1 reaps late (see wait_dead).
        wait_dead(victims)


@contextlib.contextmanager
def module_circusd(workdir, body: str, circus_extra: str = "") -> Iterator[Circusd]:
    """A started :class:`Circusd` for a module's tests to share (a module-scoped fixture), with
    a private runtime dir of its own under ``workdir``; cleaned up after the block. A start
    and stop of circusd, its kernel and a few workers costs ~0.3 s of CPU: tests that neither
    need a fresh daemon nor change it (or put back what they changed) share one."""
    runtime = os.path.join(str(workdir), "run")
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    daemon = Circusd(os.path.join(str(workdir), "circusd"), body, circus_extra)
    daemon.env = {**os.environ, "XDG_RUNTIME_DIR": runtime}
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.cleanup()


def restore_numprocesses(daemon: Circusd, watcher: str, count: int) -> None:
    """Put ``watcher`` of a shared ``daemon`` back to ``count`` running processes (a test
    that incr'ed it leaves it as it found it). After an incr without ``waiting`` the process
    may not be spawned yet: the target is compared, not the live count (``numprocesses``), and
    the change is made with ``waiting``, which circusd runs after the scalings under way (an
    ``incr`` of 0 when the target is right), so the count seen at the end stays."""
    target = daemon.ok("get", name=watcher, keys=["numprocesses"])["options"]["numprocesses"]
    now = int(target)
    if now > count:
        daemon.ok("decr", name=watcher, nb=now - count, waiting=True)
    else:
        daemon.ok("incr", name=watcher, nb=count - now, waiting=True)
    wait_for(lambda: len(daemon.pids(watcher)) == count, message=f"{count} {watcher} processes")


def kernels_at(socket_path: str) -> list[psutil.Process]:
    """papa-kernel processes serving ``socket_path`` (found by their command line, which
    setproctitle turns into ``papa-kernel PATH``; a zombie has none). Read from /proc
    directly: psutil's process_iter costs ~3x more, and tests poll this."""
    path = os.fsencode(socket_path)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if path in cmdline and (b"papa_kernel.cli" in cmdline or b"papa-kernel" in cmdline):
            with contextlib.suppress(psutil.Error):
                found.append(psutil.Process(int(entry)))
    return found


def kill_kernels_at(socket_path: str) -> list[psutil.Process]:
    """Kill (and reap) the kernels serving ``socket_path`` and their children; return them."""
    kernels = kernels_at(socket_path)
    for kernel in kernels:
        victims = [kernel.pid, *descendants(kernel.pid)]
        kill_pids(victims)
        wait_dead(victims)
    return kernels


def events_of(subscriber_frames: list[tuple[str, dict]], suffix: str) -> list[dict]:
    """Bodies of the events whose topic ends with ``suffix``."""
    return [body for topic, body in subscriber_frames if topic.endswith(suffix)]


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True)


def subscribed(daemon, events, watcher: str, graceful_timeout: float) -> bool:
    """For ``wait_for``: True once an event caused now reaches ``events`` (ZeroMQ
    subscriptions join late, and a fixed sleep is not enough on a loaded machine). Sets
    ``watcher``'s graceful_timeout (to its current value), which publishes
    ``watcher.<name>.updated``: ``events`` must subscribe to it."""
    daemon.ok("set", name=watcher, options={"graceful_timeout": graceful_timeout})
    return events.next_event(timeout=0.2) is not None


# --- systemd's notification socket, for Type=notify tests ----------------------------------------


class NotifyListener:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.messages: list[tuple[float, str]] = []  # (time.monotonic(), datagram)

    def next(self, timeout: float = 10.0) -> str:
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536).decode()
        self.messages.append((time.monotonic(), data))
        return data

    def until(self, line: str, timeout: float = 10.0) -> list[str]:
        """Datagrams received until one has ``line`` (included)."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while not got or line not in got[-1].splitlines():
            got.append(self.next(max(0.01, deadline - time.monotonic())))
        return got

    def close(self) -> None:
        self.sock.close()


def pid_namespace_unavailable() -> str | None:
    """Why a test cannot start a process as PID 1 of a new PID namespace here (``unshare
    --pid --fork --mount-proc``, as a container runtime does), or None if it can."""
    import shutil

    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    try:
        probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                               capture_output=True, text=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare cannot run: {exc}"
    if probe.returncode != 0:
        return f"this machine does not allow a new PID namespace: {probe.stderr.strip()}"
    return None


def imported_by(code: str) -> set[str]:
    """The modules a fresh interpreter has imported after running ``code`` (dedented), with
    circus and zmq importable. Without ``site``: an editable install's import hook (this
    repository's .venv) would import urllib itself."""
    import zmq

    import circus

    paths = [os.path.dirname(os.path.dirname(module.__file__)) for module in (circus, zmq)]
    script = f"import sys\nsys.path[:0] = {paths!r}\n{textwrap.dedent(code)}\n"
    script += 'print(" ".join(sorted(sys.modules)))\n'
    result = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True,
                            timeout=20)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


# --- a real terminal for curses programs (circus-top) -------------------------------------------


class Tmux:
    """A private tmux server (its socket in ``workdir``) running one program in a real
    terminal; :meth:`screen` reads what a person would see. :meth:`close` ends the server."""

    def __init__(self, workdir, argv: list[str], width: int = 100, height: int = 40):
        import shlex

        self.socket = os.path.join(str(workdir), "tmux.sock")
        command = " ".join(shlex.quote(a) for a in argv)
        # the shell line stays after the program ends, so its exit status can be read
        shell = f"{command}; echo EXITED $?; sleep 60"
        self._tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), shell)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def wait_screen(
        self, predicate: Callable[[str], object], timeout: float = 20.0, message: str = "the screen"
    ) -> str:
        """Poll the screen until ``predicate(screen)`` is true; returns that screen."""
        last = [""]

        def check():
            last[0] = self.screen()
            return predicate(last[0])

        try:
            wait_for(check, timeout=timeout, interval=0.2, message=message)
        except AssertionError as exc:
            size = self._tmux("display-message", "-p", "-t", "t", "#{pane_width}x#{pane_height}")
            raise AssertionError(
                f"{exc}; the pane is {size.strip()}; screen was:\n{last[0]}"
            ) from None
        return last[0]

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def resize(self, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._tmux("kill-server")


#: The manual's "Writing a plugin" example, as printed (indentation restored).
MANUAL_LOGGER = textwrap.dedent("""\
    from circus.plugins import CircusPlugin

    class Logger(CircusPlugin):

        name = 'logger'

        def __init__(self, *args, **config):
            super(Logger, self).__init__(*args, **config)
            self.filename = config.get('filename')
            self.file = None

        def handle_init(self):
            self.file = open(self.filename, 'a+', buffering=1)

        def handle_stop(self):
            self.file.close()

        def handle_recv(self, data):
            watcher_name, action, msg = self.split_data(data)
            msg_dict = self.load_message(msg)
            self.file.write('%s %s::%r\\n' % (action, watcher_name, msg_dict))
""")


class CurveKeys:
    """The certificates of a CURVE test, as :func:`curve_keys` made them: ``keys/NAME.key``
    (public) and ``keys/NAME.key_secret`` for circusd (``server``) and each client, and the
    directory ``authorized`` (circusd's ``curve_public_keys``)."""

    def __init__(self, directory) -> None:
        from pathlib import Path

        self.keys = Path(directory) / "keys"
        self.authorized = Path(directory) / "authorized"

    def public(self, name: str = "server") -> str:
        return str(self.keys / f"{name}.key")

    def secret(self, name: str = "server") -> str:
        return str(self.keys / f"{name}.key_secret")

    @property
    def circus(self) -> str:
        """The ``[circus]`` lines of a circusd with the ``server`` certificate."""
        return f"curve_secret_key = {self.secret()}\ncurve_public_keys = {self.authorized}\n"

    def client(self, name: str = "client") -> dict[str, str]:
        """The keyword arguments of a client (CircusClient, Circusd.client_keys) ``name``."""
        return {"curve_secret_key": self.secret(name), "curve_server_key": self.public()}


def curve_keys(directory, clients=("client",), others=()) -> CurveKeys:
    """Certificates in ``directory``: circusd's (``server``), each of ``clients`` (authorised:
    its public key is in ``authorized/``) and each of ``others`` (not authorised)."""
    import shutil

    import zmq.auth

    made = CurveKeys(directory)
    made.keys.mkdir(parents=True)
    made.authorized.mkdir()
    for name in ("server", *clients, *others):
        zmq.auth.create_certificates(str(made.keys), name)
    for name in clients:
        shutil.copyfile(made.public(name), made.authorized / f"{name}.key")
    return made
