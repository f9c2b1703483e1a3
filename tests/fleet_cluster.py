"""A fleet of circusds, one per network namespace, as an operator's machines (issue 14).

Used by tests/integration/circusd/test_fleet_netns*.py and bench/fleet.py::

    with fleet_cluster.running(workdir, config_body, count=3) as cluster:
        cluster.hosts_file          # the operator's hosts file (keys/ beside it)
        cluster.daemons[0]          # a support.Circusd (its client uses the operator's keys)
        cluster.ns.link_down(1)     # the tests/netns.py Namespaces they run in

Each circusd (and the papa-kernel it starts, and its workers) runs inside its own namespace,
with its own runtime dir, on ``tcp://<namespace address>:5555`` protected by CURVE: a server
key per host in ``keys/<name>.key(_secret)``, the operator's key ``keys/operator.key`` copied
into each host's ``authorized_keys/`` (what docs/remote.md tells an operator to do). Skips
(``netns.require``) where namespaces are not allowed. Everything is ended and removed on exit.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import netns
import support

PORT = 5555  # each namespace has its own ports: the same one everywhere, as on real hosts
REPO = Path(__file__).resolve().parents[1]


def stubborn_config(worker_cmd: str) -> str:
    """The tests' watcher: two stubborn workers (they ignore SIGTERM), so that each restart
    takes graceful_timeout, long enough for a status poll to see the host restarting."""
    return f"""
        [watcher:web]
        cmd = {worker_cmd} stubborn
        numprocesses = 2
        graceful_timeout = 0.6
        """


def circusctl(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    """circusctl (this checkout's) run from the root namespace, as the operator runs it."""
    argv = [sys.executable, "-m", "circus.cli.circusctl", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def circusctl_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """circusctl's main in this process, given as :func:`circusctl` gives it (``capsys``, the
    test's fixture, captures it): for the tests about what circusctl says, not about its
    process (no Python start-up: ~0.3 s and 0.1 s of CPU less a run)."""
    from circus.cli import circusctl as tool

    capsys.readouterr()
    code = tool.main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["circusctl", *args], code, out, err)


@dataclass
class Cluster:
    ns: netns.Namespaces
    daemons: list[support.Circusd]
    names: list[str]  # web0, web1, ...
    hosts_file: Path  # the operator's hosts file (keys/ beside it)
    keys: Path

    def endpoint(self, index: int) -> str:
        return self.daemons[index].endpoint

    def blocks(self, bodies: list[str]) -> str:
        """circusctl's fleet output: one block per host with ``bodies`` (in order)."""
        return (
            "\n\n".join(
                f"== {name} ({self.endpoint(i)}) ==\n{body}"
                for i, (name, body) in enumerate(zip(self.names, bodies, strict=True))
            )
            + "\n"
        )

    def hosts_text(self, indexes: list[int] | None = None, **server_keys: str) -> str:
        """A hosts file's text (all hosts, or ``indexes``); ``web1="web2.key"`` gives web1
        another host's server key."""
        text = "[DEFAULT]\ncurve_secret_key = keys/operator.key_secret\n"
        for index in range(len(self.names)) if indexes is None else indexes:
            name = self.names[index]
            key = server_keys.get(name, f"{name}.key")
            text += (
                f"\n[{name}]\nendpoint = {self.endpoint(index)}\ncurve_server_key = keys/{key}\n"
            )
        return text


@contextlib.contextmanager
def running(workdir: Path, config_body: str, count: int = 3) -> Iterator[Cluster]:
    """``count`` circusds on ``config_body``, one per namespace, started and ready."""
    netns.require()
    import zmq.auth

    keys = workdir / "keys"
    keys.mkdir()
    zmq.auth.create_certificates(str(keys), "operator")
    names = [f"web{index}" for index in range(count)]
    daemons: list[support.Circusd] = []
    with support.subreaper(), netns.Namespaces(count) as ns:
        try:
            for index, name in enumerate(names):
                daemons.append(_host(ns, index, name, workdir / name, keys, config_body))
            for daemon in daemons:
                daemon.start(wait=False)
            for daemon in daemons:
                support.wait_for(daemon._ready, timeout=40, message=f"{daemon.endpoint} ready")
            cluster = Cluster(ns, daemons, names, workdir / "fleet.ini", keys)
            cluster.hosts_file.write_text(cluster.hosts_text())
            yield cluster
        finally:  # SIGKILL, not a graceful stop (which waits out the graceful_timeout of
            # stubborn workers): the namespaces' close() then kills every process left inside
            # (the kernels, the workers) and the subreaper reaps them
            for daemon in daemons:
                if daemon.proc is not None and daemon.proc.poll() is None:
                    daemon.proc.kill()
                    daemon.proc.wait(timeout=10)


def _host(ns, index: int, name: str, workdir: Path, keys: Path, body: str) -> support.Circusd:
    """One circusd as its machine's administrator would set it up (docs/remote.md)."""
    import zmq.auth

    workdir.mkdir()
    authorized = workdir / "authorized_keys"
    authorized.mkdir()
    runtime = workdir / "run"
    runtime.mkdir(mode=0o700)
    _, secret = zmq.auth.create_certificates(str(keys), name)
    (authorized / "operator.key").write_bytes((keys / "operator.key").read_bytes())
    daemon = support.Circusd(workdir)
    daemon.endpoint = f"tcp://{ns[index].address}:{PORT}"
    daemon.write_config(body, f"curve_secret_key = {secret}\ncurve_public_keys = {authorized}\n")
    daemon.argv_prefix = ns.argv(index, [])
    daemon.env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    daemon.client_keys = {
        "curve_secret_key": str(keys / "operator.key_secret"),
        "curve_server_key": str(keys / f"{name}.key"),
    }
    return daemon
