"""Helpers for the papa-kernel tests: start a real kernel daemon, talk to it, clean up.

Imported as ``kernel_helpers`` (tests/kernel is put on sys.path by conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NoReturn

import support
from support import Gate, children_of  # noqa: F401 - the kernel tests import them here

from circus.hosts.kernel_boot import boot_command

READY_PREFIX = "papa-kernel ready "
#: The papa-kernel command line, as circusd runs it: ``python -S -c BOOT`` (papa_kernel is
#: stdlib-only; without ``site`` a start costs ~14 instead of ~37 ms of CPU)
KERNEL = boot_command()
PROMPT = b"\n> "


@dataclass
class KernelProcess:
    """A papa-kernel started by a test."""

    proc: subprocess.Popen
    path: str
    tcp: tuple[str, int] | None = None
    clients: list[Client] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def client(self, timeout: float = 10.0, tcp: bool = False) -> Client:
        """A new connection (closed at teardown)."""
        address = self.tcp if tcp else self.path
        client = Client(address, timeout=timeout)
        self.clients.append(client)
        return client

    def hosted_pids(self) -> list[int]:
        return children_of(self.pid)

    def stop(self) -> None:
        """Kill every hosted process group and the kernel; reap the kernel."""
        for client in self.clients:
            client.close()
        if self.proc.poll() is None:
            support.kill_tree(self.pid)
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


def refused_in_process(capsys, *args: str) -> tuple[int, str]:
    """papa-kernel's main in this process on a command line it refuses before it starts
    anything (an option or its value): (exit status, stderr). Saves a kernel start where a
    test is about the message; each kind of refusal keeps a run of the real program."""
    import pytest

    from papa_kernel import cli

    def started(*_args: object, **_kwargs: object) -> NoReturn:
        raise AssertionError(f"papa-kernel {' '.join(args)} was not refused: it would start")

    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:  # a regression fails here, not in a fork
        patch.setattr(cli, "_serve", started)
        patch.setattr(cli.daemon, "daemonize", started)
        try:
            status = cli.main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            status = exc.code
    return status, capsys.readouterr().err


def start_kernel(
    directory: str,
    *extra: str,
    tcp: bool = False,
    socket_name: str = "kernel.sock",
    wrapper: tuple[str, ...] = (),
    pass_fds: tuple[int, ...] = (),
) -> KernelProcess:
    """Start ``papa-kernel`` in the foreground and wait for its ready line.

    ``wrapper`` prefixes the command line (e.g. ``setpriv`` to run it as another user).
    """
    path = os.path.join(directory, socket_name)
    argv = [*wrapper, *KERNEL, "--socket", path, "--log-level", "debug"]
    argv += ["--log-file", os.path.join(directory, "kernel.log")]
    if tcp:
        argv += ["--tcp", "127.0.0.1:0"]
    argv += list(extra)
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        pass_fds=pass_fds,
    )
    line = proc.stdout.readline()  # bounded by the test timeout; the kernel prints at once
    if not line.startswith(READY_PREFIX):
        proc.kill()
        _out, err = proc.communicate(timeout=10)
        raise RuntimeError(f"kernel did not start: {line!r} {err!r}")
    fields = dict(item.split("=", 1) for item in line.split()[2:])
    address = None
    if "tcp" in fields:
        host, port = fields["tcp"].rsplit(":", 1)
        address = (host, int(port))
    return KernelProcess(proc=proc, path=path, tcp=address)


class ReplyError(AssertionError):
    """The kernel answered ``Error: ...``."""


class Client:
    """A blocking line-protocol client with a small parser for watch batches."""

    def __init__(self, address: str | tuple[str, int], timeout: float = 10.0) -> None:
        self.address = address
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.buffer = b""
        self.greeting = self.read_until(PROMPT)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("kernel closed the connection")
        self.buffer += data

    def read_until(self, terminator: bytes) -> bytes:
        while terminator not in self.buffer:
            self._fill()
        index = self.buffer.index(terminator) + len(terminator)
        data, self.buffer = self.buffer[:index], self.buffer[index:]
        return data

    def read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def raw(self, line: str) -> str:
        """Send a line, return the reply body (without the prompt), errors included."""
        self.send(line + "\n")
        return self.read_until(PROMPT)[:-3].decode()

    def cmd(self, line: str) -> str:
        """Send a line, return the body; raise ReplyError on ``Error:``."""
        body = self.raw(line)
        if body.startswith("Error:"):
            raise ReplyError(body)
        return body

    def error(self, line: str) -> str:
        """Send a line that must fail; return the error message."""
        body = self.raw(line)
        assert body.startswith("Error: "), f"{line!r} should fail, got {body!r}"
        return body[len("Error: ") :]

    def watch(self, line: str) -> str:
        """Start a watch; return its first line (``Watching N`` or the process line)."""
        self.send(line + "\n")
        first = self.read_until(b"\n").decode().rstrip("\n")
        if first.startswith("Error:"):
            self.read_until(b"> ")
            raise ReplyError(first)
        return first

    def batch(self) -> list[tuple] | str:
        """Read one batch as records; or the final line (``Nothing left to watch``...)."""
        records: list[tuple] = []
        while True:
            while len(self.buffer) < 2:
                self._fill()
            if self.buffer.startswith(b"] "):
                self.buffer = self.buffer[2:]
                return records
            line = self.read_until(b"\n")[:-1].decode()
            parts = line.split(":")
            if parts[0] in ("out", "err"):
                data = self.read_exact(int(parts[3]) + 1)
                assert data.endswith(b"\n")
                records.append((parts[0], parts[1], float(parts[2]), data[:-1]))
            elif parts[0] in ("closed", "dropped", "readable"):
                records.append((parts[0], parts[1], float(parts[2]), *parts[3:]))
            else:
                assert not records, f"unexpected {line!r} inside a batch"
                self.read_until(b"> ")
                return line

    def ack(self, line: str = "") -> None:
        self.send(line + "\n")

    def collect(self, until_closed: set[str], timeout: float = 20.0) -> dict[str, dict]:
        """Watch (already started) until every name in ``until_closed`` has a closed record.

        Acknowledges every batch. Returns {name: {"out": bytes, "err": bytes, "closed": code}}.
        """
        result: dict[str, dict] = {}
        deadline = time.monotonic() + timeout
        pending = set(until_closed)
        while pending:
            assert time.monotonic() < deadline, f"no exit record for {pending}"
            records = self.batch()
            assert isinstance(records, list), records
            for record in records:
                slot = result.setdefault(record[1], {"out": b"", "err": b"", "closed": None})
                if record[0] in ("out", "err"):
                    slot[record[0]] += record[3]
                elif record[0] == "closed":
                    slot["closed"] = int(record[3])
                    pending.discard(record[1])
            self.ack()
        return result


def processes(client: Client, *patterns: str) -> dict[str, dict[str, str]]:
    """``list processes`` parsed into {name: {key: value}} (args kept whole)."""
    result = {}
    body = client.cmd(" ".join(("list processes", *patterns)))
    for line in body.splitlines():
        head, _, args = line.partition(" args=")
        name, *fields = head.split(" ")
        info = dict(item.split("=", 1) for item in fields)
        info["args"] = args
        result[name] = info
    return result


def wait_exited(client: Client, name: str, timeout: float = 10.0) -> dict[str, str]:
    """Poll ``list processes`` until ``name`` shows an exit code."""
    return support.wait_for(
        lambda: (
            (processes(client, name).get(name) or {}).get("exit_code")
            and processes(client, name)[name]
        ),
        timeout=timeout,
        message=f"{name} to exit",
    )


class SharedKernel:
    """A kernel shared by tests that leave nothing in it but processes, sockets and values
    (and their connections): each test finds it with none, and what it made is removed after
    it (its processes killed first: removing a running process leaves it running)."""

    def __init__(self, kernel) -> None:
        self.kernel = kernel  # a KernelProcess, or anything with .path and .proc

    def _left(self, admin: Client) -> tuple[str, str, str]:
        return tuple(admin.cmd(f"list {kind}") for kind in ("processes", "sockets", "values"))

    @contextlib.contextmanager
    def test(self) -> Iterator[Client]:
        assert self.kernel.proc.poll() is None, "the shared kernel exited"
        admin = Client(self.kernel.path)
        try:
            left = self._left(admin)
            assert left == ("", "", ""), f"the shared kernel is not empty: {left}"
            client = Client(self.kernel.path)
            try:
                yield client
            finally:
                client.close()
                self._empty(admin)
        finally:
            admin.close()

    def _empty(self, admin: Client) -> None:
        for pid in children_of(self.kernel.proc.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        support.wait_for(
            lambda: "running=True" not in admin.cmd("list processes"),
            timeout=10,
            message="the shared kernel's processes killed",
        )
        admin.cmd("remove processes *")
        admin.cmd("remove sockets *")
        for line in admin.cmd("list values").splitlines():
            admin.cmd(f"remove values {line.split(' ', 1)[0]}")
