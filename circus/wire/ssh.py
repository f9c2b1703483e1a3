"""ssh tunnels to a remote circusd (``--ssh user@host[:port]``, ``--ssh_keyfile``).

Why the system OpenSSH client (``ssh``) run as a subprocess, and not pyzmq's ``zmq.ssh``:
``zmq.ssh`` needs paramiko or pexpect (neither is a dependency), tunnels tcp:// endpoints only
(circusd's default endpoints are ipc:// unix sockets) and forwards to a local TCP port that every
user of the machine can connect to. The ``ssh`` binary is on every machine that has ssh access
to another, honours the operator's ``~/.ssh/config``, agent and ``known_hosts``, and forwards to
and from unix sockets.

How: one ssh *master* connection per ``(server, keyfile)`` in a process (``ssh -M -N``, batch mode:
never a prompt), then one forward per endpoint added through the master's control socket
(``ssh -O forward``, a few milliseconds, no new login). Each forward listens on a unix socket in a
private temporary directory (0700, the socket itself 0600), so no other local user can use the
tunnel; the client connects ZeroMQ to ``ipc://<that socket>``. The remote side is the endpoint as
the ssh server sees it: ``ipc:///run/circus/circus.sock`` or ``tcp://127.0.0.1:5555``.

Bounded and cleaned up: the login must complete within the timeout (``ConnectTimeout`` and a
deadline on the master's "ready" line); the master is this process' child, gets SIGTERM when this
process ends (``PR_SET_PDEATHSIG``: also after a SIGKILL), and :meth:`SshTunnel.close` (or the
``atexit`` hook) ends it and removes the directory (the directory of a process killed by a
signal is removed by the next tunnel of the same user). The master is the child of the thread
that opened it: open tunnels from a thread that lives as long as they do (the main thread).

Errors (:class:`TunnelError`, a :class:`~circus.errors.CallError`) name the ssh host and the
cause, read from ssh's log: a refused login, an unknown or changed host key, an unreachable
host, a missing ``ssh`` binary; :meth:`SshTunnel.explain` says why calls through a working
tunnel get no answer (nothing listens at the endpoint on the ssh host, or the connection ended).
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from circus.wire import ssh_dirs
from circus.wire.ssh_address import SshServer, TunnelError, forward_target
from circus.wire.ssh_log import classify
from papa_kernel.paths import runtime_dir_of

if TYPE_CHECKING:  # the blocking client (circusctl) imports no asyncio: its *_async are local
    import asyncio

__all__ = ["SshServer", "SshTunnel", "TunnelError", "classify"]

#: The environment variable naming the ssh client to run, with options (as GIT_SSH_COMMAND).
SSH_COMMAND_ENV = "CIRCUS_SSH_COMMAND"
#: ssh's own ConnectTimeout (TCP connect and banner) is this share of the login's deadline, so
#: that ssh's reason ("Connection timed out during banner exchange") comes before the deadline.
SSH_SHARE_OF_TIMEOUT = 0.8
#: Seconds the ssh login may take when the caller gives no timeout.
DEFAULT_TIMEOUT = 10.0
#: What the master prints (through ``LocalCommand``) once it is logged in and ready to forward.
READY = b"circus-ssh-ready"
#: Seconds a forward probe waits for the remote end to answer or to close.
PROBE_TIMEOUT = 1.0
#: Seconds a terminated master has to exit before it is killed.
STOP_TIMEOUT = 2.0
#: prctl(2) option: signal the child when its parent ends.
PR_SET_PDEATHSIG = 1
#: Lines of ssh's log quoted in an error that has no better explanation.
LOG_TAIL = 3


def _pdeathsig() -> Callable[[], object] | None:
    """A ``preexec_fn`` asking the kernel to SIGTERM the child when its parent ends (Linux);
    the libc function is looked up here, before the fork, so the child only calls it."""
    import ctypes  # here, like shutil and tempfile: circusd imports this module (its event
    # subscribers take --ssh) and never opens a tunnel; the three cost it ~0.8 MB

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class SshTunnel:
    """One ssh master connection and its forwards (see the module docstring).

    Use :meth:`shared` to get the process' tunnel to a server (counted; :meth:`release` it),
    or make one and :meth:`close` it."""

    _shared: dict[tuple[str, str | None], SshTunnel] = {}
    _lock = threading.Lock()

    def __init__(
        self, server: str, keyfile: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.server = SshServer.parse(server)
        self.keyfile = keyfile
        self.timeout = float(timeout)
        self.users = 0
        #: the ssh client and its options: ``$CIRCUS_SSH_COMMAND`` (``ssh -F my_config``), or ssh
        try:
            self.ssh_command = shlex.split(os.environ.get(SSH_COMMAND_ENV) or "") or ["ssh"]
        except ValueError as exc:
            raise TunnelError(f"${SSH_COMMAND_ENV}: {exc}") from None
        self._dir: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._forwards: dict[str, str] = {}  # remote target -> local socket path
        self.started_in = 0.0  # seconds the login took
        self._remote_runtime_dir: str | None = None

    # --- sharing --------------------------------------------------------------------------------

    @classmethod
    def shared(
        cls, server: str, keyfile: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> SshTunnel:
        """The open tunnel of this process to ``server`` (opened on first use); one user more."""
        key = (server, keyfile)
        with cls._lock:
            tunnel = cls._shared.get(key)
            if tunnel is None or not tunnel.alive():
                if tunnel is not None:
                    tunnel.close()
                tunnel = cls(server, keyfile, timeout)
                tunnel.open()
                cls._shared[key] = tunnel
            tunnel.users += 1
            return tunnel

    @classmethod
    async def shared_async(
        cls, server: str, keyfile: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> SshTunnel:
        """:meth:`shared` for asyncio: the login does not block the loop."""
        key = (server, keyfile)
        tunnel = cls._shared.get(key)
        if tunnel is None or not tunnel.alive():
            tunnel = cls(server, keyfile, timeout)
            await tunnel.open_async()
            with cls._lock:
                current = cls._shared.get(key)
                if current is not None and current.alive():  # another task won the race
                    tunnel.close()
                    tunnel = current
                else:
                    cls._shared[key] = tunnel
        with cls._lock:
            tunnel.users += 1
        return tunnel

    def release(self) -> None:
        """One user less; the last one closes the tunnel."""
        with self._lock:
            self.users -= 1
            if self.users > 0:
                return
            for key, tunnel in list(self._shared.items()):
                if tunnel is self:
                    del self._shared[key]
        self.close()

    @classmethod
    def close_all(cls) -> None:
        with cls._lock:
            tunnels = list(cls._shared.values())
            cls._shared.clear()
        for tunnel in tunnels:
            tunnel.close()

    # --- the master -----------------------------------------------------------------------------

    @property
    def control_path(self) -> str:
        assert self._dir is not None
        return os.path.join(self._dir, "ctl")

    @property
    def log_path(self) -> str:
        assert self._dir is not None
        return os.path.join(self._dir, "ssh.log")

    def _base_command(self) -> list[str]:
        command = list(self.ssh_command)
        if self.server.port:
            command += ["-p", str(self.server.port)]
        if self.keyfile:
            command += ["-i", self.keyfile, "-o", "IdentitiesOnly=yes"]
        return command

    def open(self) -> None:
        """Log in (the master connection); raises :class:`TunnelError` saying why it failed."""
        started = self._spawn()
        try:
            self._wait_ready(started + self.timeout)
        except BaseException:
            self.close()
            raise
        self.started_in = time.monotonic() - started

    async def open_async(self) -> None:
        """:meth:`open` without blocking the event loop (several logins can overlap)."""
        import asyncio

        started = self._spawn()
        try:
            async with asyncio.timeout(self.timeout):
                await self._ready_async()
        except TimeoutError:
            self.close()
            raise TunnelError(self._no_login()) from None
        except BaseException:
            self.close()
            raise
        self.started_in = time.monotonic() - started

    def _spawn(self) -> float:
        """Start the master; returns when it started (monotonic)."""
        if self.keyfile and not os.path.isfile(self.keyfile):
            raise TunnelError(f"--ssh_keyfile {self.keyfile}: no such file")
        import shutil  # imported when used: see _pdeathsig

        binary = self.ssh_command[0]
        if shutil.which(binary) is None:
            raise TunnelError(
                f"cannot open an ssh tunnel to {self.server}: the ssh client {binary!r} is not "
                "installed (OpenSSH's ssh; not found on PATH)"
            )
        self._dir = ssh_dirs.make_private()  # 0700
        command = [
            *self._base_command(),
            "-M", "-S", self.control_path, "-N", "-n", "-E", self.log_path,
            "-o", "BatchMode=yes",  # never a password or passphrase prompt
            "-o", "ControlPersist=no",
            # ssh gives up (saying why) a little before our own deadline
            "-o", f"ConnectTimeout={max(1, math.floor(self.timeout * SSH_SHARE_OF_TIMEOUT))}",
            "-o", "ExitOnForwardFailure=yes",
            "-o", "ClearAllForwardings=yes",  # not the forwards of ~/.ssh/config
            "-o", "StreamLocalBindUnlink=yes",
            "-o", "StreamLocalBindMask=0177",
            "-o", "PermitLocalCommand=yes",  # the "ready" line, once logged in
            "-o", f"LocalCommand=echo {READY.decode()}",
            "-o", "ServerAliveInterval=10",  # a dead link ends the master in about 30 s
            "-o", "ServerAliveCountMax=3",
            self.server.destination,
        ]  # fmt: skip
        started = time.monotonic()
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                preexec_fn=_pdeathsig(),  # one prctl call, resolved before the fork
                # not the terminal's: a Ctrl-C is the tool's to handle, and the tool ends its
                # ssh (when ssh died of the same SIGINT, circusctl listen sometimes missed it)
                process_group=0,
            )
        except OSError as exc:
            self.close()
            raise TunnelError(f"cannot run ssh to {self.server}: {exc.strerror}") from None
        return started

    def _no_login(self) -> str:
        return f"no ssh connection to {self.server} within {self.timeout:g} s" + self._log_tail(
            " (ssh: ", ")"
        )

    def _read_ready(self, seen: bytes) -> bytes:
        """One read of the master's stdout added to ``seen``; raises if ssh exited."""
        assert self._process is not None and self._process.stdout is not None
        chunk = os.read(self._process.stdout.fileno(), 256)
        if not chunk:  # ssh exited: why is in its log
            raise TunnelError(self._failure(self._process.wait()))
        return seen + chunk

    def _wait_ready(self, deadline: float) -> None:
        assert self._process is not None and self._process.stdout is not None
        seen = b""
        while READY not in seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TunnelError(self._no_login())
            if select.select([self._process.stdout], [], [], remaining)[0]:
                seen = self._read_ready(seen)

    async def _ready_async(self) -> None:
        import asyncio

        assert self._process is not None and self._process.stdout is not None
        loop = asyncio.get_running_loop()
        fd = self._process.stdout.fileno()
        seen = b""
        while READY not in seen:
            readable: asyncio.Future[None] = loop.create_future()
            loop.add_reader(fd, _set_done, readable)
            try:
                await readable
            finally:
                loop.remove_reader(fd)
            seen = self._read_ready(seen)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        """End the master (and with it every forward) and remove the temporary directory."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._dir is not None:
            ssh_dirs.remove(self._dir)
            self._dir = None
        self._forwards.clear()

    # --- forwards -------------------------------------------------------------------------------

    def forward(self, endpoint: str) -> str:
        """The local ``ipc://`` endpoint that reaches ``endpoint`` on the ssh host."""
        target = forward_target(endpoint)
        path = self._forwards.get(target)
        if path is None:
            if not self.alive() or self._dir is None:
                raise TunnelError(self._ended())
            path = os.path.join(self._dir, f"{len(self._forwards)}.sock")
            command = [
            *self._base_command(),
                "-S", self.control_path, "-O", "forward", "-L", f"{path}:{target}",
                self.server.destination,
            ]  # fmt: skip
            try:
                result = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=self.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise TunnelError(
                    f"the ssh connection to {self.server} did not add a forward to {endpoint} "
                    f"within {self.timeout:g} s"
                ) from None
            if result.returncode != 0:
                why = (
                    result.stderr.decode("utf-8", "replace").strip() or f"exit {result.returncode}"
                )
                raise TunnelError(f"ssh to {self.server} cannot forward {endpoint}: {why}")
            self._forwards[target] = path
        return f"ipc://{path}"

    def remote_default(self, endpoint: str) -> str:
        """circusd's default ``endpoint`` (an ``ipc://`` path in the runtime directory, as
        computed here) as it is on the ssh host: the same file in the runtime directory of the
        ssh user there (``$XDG_RUNTIME_DIR/circus``, ``/run/circus`` for root, else
        ``/tmp/circus-<uid>``), asked once through the master."""
        if self._remote_runtime_dir is None:
            command = [
            *self._base_command(),
                "-S", self.control_path, self.server.destination,
                'printf "%s\\n" "$XDG_RUNTIME_DIR"; id -u',
            ]  # fmt: skip
            try:
                result = subprocess.run(
                    command, stdin=subprocess.DEVNULL, capture_output=True,
                    timeout=self.timeout, check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                result = None
            lines = result.stdout.decode("utf-8", "replace").splitlines() if result else []
            if len(lines) != 2 or not lines[1].strip().isdigit():
                raise TunnelError(
                    f"cannot learn circusd's default endpoint on {self.server} (a shell command "
                    "there failed): give --endpoint as the ssh host sees it, e.g. "
                    "ipc:///run/circus/circus.sock"
                )
            self._remote_runtime_dir = runtime_dir_of(lines[0].strip(), int(lines[1]))
        name = os.path.basename(endpoint.partition("://")[2])
        return f"ipc://{os.path.join(self._remote_runtime_dir, name)}"

    def explain(self, endpoint: str) -> str | None:
        """Why calls to ``endpoint`` through this tunnel get no answer, when the tunnel knows:
        the ssh connection ended, or nothing answers at ``endpoint`` on the ssh host."""
        if not self.alive():
            return self._ended()
        path = self._forwards.get(forward_target(endpoint))
        if path is None:
            return None
        if self._probe(path):
            return None  # something answers there: ZeroMQ's own story applies
        reasons = re.findall(r"open failed: (.*)", self._log())
        why = f" (ssh: {reasons[-1].strip()})" if reasons else ""
        return (
            f"the ssh tunnel to {self.server} is up, but nothing answers at {endpoint} on "
            f"{self.server.host}{why}: is circusd running there with this endpoint?"
        )

    @staticmethod
    def _probe(path: str) -> bool:
        """Connect to a forward: True if the remote end keeps the connection (a ZeroMQ peer
        sends its greeting), False if ssh closes it (the remote connect failed)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(PROBE_TIMEOUT)
            try:
                probe.connect(path)
                return probe.recv(1) != b""
            except TimeoutError:
                return True  # connected and silent: not ssh's refusal
            except OSError:
                return False

    # --- ssh's log ------------------------------------------------------------------------------

    def _log(self) -> str:
        if self._dir is None:
            return ""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _log_tail(self, before: str = "", after: str = "") -> str:
        lines = [line.strip() for line in self._log().splitlines() if line.strip()]
        return f"{before}{' / '.join(lines[-LOG_TAIL:])}{after}" if lines else ""

    def _ended(self) -> str:
        code = self._process.poll() if self._process is not None else None
        status = f" (exit {code})" if code is not None else ""
        return f"the ssh connection to {self.server} ended{status}" + self._log_tail(": ")

    def _failure(self, code: int) -> str:
        """The message for a master that exited before it was ready (ssh's log says why)."""
        return classify(self._log(), str(self.server), code)


@atexit.register
def _close_tunnels() -> None:
    with contextlib.suppress(Exception):
        SshTunnel.close_all()
