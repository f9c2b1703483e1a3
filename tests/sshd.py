"""A real OpenSSH server for the ``--ssh`` tests: Debian's ``/usr/sbin/sshd`` on a free loopback
port, with a throwaway host key, client keys, ``authorized_keys`` and ``sshd_config`` in a
temporary directory; the machine's own sshd configuration and keys are never read or changed.

What sshd needs, as root:

* its privilege-separation directory ``/run/sshd`` (compiled in; sshd refuses to start without
  it). The machine may have none: sshd runs in a private mount namespace (``unshare --mount``)
  with a tmpfs on ``/run`` holding an empty ``/run/sshd``, so nothing is created on the host;
* ``StrictModes no``: the key files live under pytest's temporary directory, whose parents are
  not root-only;
* ``UsePAM no`` (no PAM session for a test login), public keys only, ``PermitRootLogin
  prohibit-password`` (tests run as root), unix-socket and TCP forwarding allowed;
* ``KexAlgorithms curve25519-sha256``: OpenSSH 9.2's default key exchange,
  sntrup761x25519, costs the ssh client ~90 ms of CPU per login against ~2 ms (measured:
  110 -> 16 ms per ``ssh ... true``); the tests are about the tunnels, not the key exchange.

The client side never reads ``~/.ssh``: :attr:`Sshd.client_env` sets ``$CIRCUS_SSH_COMMAND`` to
``ssh -F <config>`` whose ``UserKnownHostsFile`` holds the throwaway host key.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import psutil
from support import free_port, wait_dead, wait_for

SSHD = "/usr/sbin/sshd"


def unavailable() -> str | None:
    """Why these tests cannot run here, or None."""
    for tool in (SSHD, shutil.which("ssh"), shutil.which("ssh-keygen"), shutil.which("unshare")):
        if not tool or not os.path.exists(tool):
            return f"needs OpenSSH's sshd, ssh, ssh-keygen and unshare (missing: {tool})"
    if os.geteuid() != 0:
        return "sshd in a private mount namespace needs root"
    return None


def keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        timeout=30,
    )
    return path


class Sshd:
    """One sshd (see the module docstring); :meth:`stop` ends it."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        workdir.mkdir(mode=0o700, exist_ok=True)
        self.port = free_port()
        self.host_key = keygen(workdir / "host_key")
        self.client_key = keygen(workdir / "client_key")
        self.other_key = keygen(workdir / "other_key")  # not authorized: a refused login
        self.restricted_key = keygen(workdir / "restricted_key")  # forwarding only
        (workdir / "authorized_keys").write_text(
            Path(f"{self.client_key}.pub").read_text()
            + "restrict,port-forwarding "
            + Path(f"{self.restricted_key}.pub").read_text()
        )
        #: the sessions' $XDG_RUNTIME_DIR: circusd's default endpoint "there" is in it
        self.runtime_dir = workdir / "xdg"
        self.runtime_dir.mkdir(mode=0o700)
        self.known_hosts = workdir / "known_hosts"
        self.known_hosts.write_text(self.known_line(Path(f"{self.host_key}.pub")))
        self.config = workdir / "sshd_config"
        self.config.write_text(
            textwrap.dedent(f"""\
                Port {self.port}
                ListenAddress 127.0.0.1
                HostKey {self.host_key}
                PidFile {workdir}/sshd.pid
                AuthorizedKeysFile {workdir}/authorized_keys
                StrictModes no
                UsePAM no
                PermitRootLogin prohibit-password
                PubkeyAuthentication yes
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                AllowTcpForwarding yes
                AllowStreamLocalForwarding yes
                UseDNS no
                KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
                SetEnv XDG_RUNTIME_DIR={self.runtime_dir}
                LogLevel VERBOSE
                """)
        )
        self.log_path = workdir / "sshd.log"
        self.client_config = self.write_client_config("ssh_config", self.known_hosts)
        self.proc: subprocess.Popen | None = None

    def known_line(self, public_key: Path) -> str:
        kind, key = public_key.read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {key}\n"

    def write_client_config(self, name: str, known_hosts: Path) -> Path:
        """An ``ssh -F`` config for this server using ``known_hosts``."""
        path = self.dir / name
        path.write_text(
            textwrap.dedent(f"""\
                Host *
                    UserKnownHostsFile {known_hosts}
                    GlobalKnownHostsFile /dev/null
                    StrictHostKeyChecking yes
                    UpdateHostKeys no
                """)
        )
        return path

    @property
    def server(self) -> str:
        return f"root@127.0.0.1:{self.port}"

    def client_env(self, config: Path | None = None) -> dict[str, str]:
        return {"CIRCUS_SSH_COMMAND": f"ssh -F {config or self.client_config}"}

    def start(self) -> None:
        script = (
            "mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd && "
            f'exec {SSHD} -D -e -f "$0"'
        )
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                 str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        wait_for(self._listening, timeout=20, message=f"sshd on port {self.port}")

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"sshd exited with {self.proc.returncode}: {self.log()}")
        return "Server listening" in self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """End sshd and every session process it forked (each in its own session)."""
        if self.proc is None:
            return
        sessions: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            sessions = psutil.Process(self.proc.pid).children(recursive=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 15)
        for session in sessions:
            with contextlib.suppress(psutil.Error):
                session.kill()
        with contextlib.suppress(AssertionError):  # (killed: they end; the wait is bounded)
            wait_dead([session.pid for session in sessions], timeout=10)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)
        self.proc = None


def ssh_clients_of(port: int) -> list[psutil.Process]:
    """ssh client processes talking to the test server on ``port`` (leaked tunnels; a zombie
    has no command line and is not one). Read from /proc directly, as support.kernels_at
    does: psutil's process_iter cost ~15 ms a call, and every test of test_ssh calls this
    (its fixture, and polls)."""
    option, number = b"-p", str(port).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
        except OSError:
            continue
        if os.path.basename(cmdline[0]) == b"ssh" and option in cmdline and number in cmdline:
            with contextlib.suppress(psutil.Error):
                found.append(psutil.Process(int(entry)))
    return found
