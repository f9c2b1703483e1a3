"""Handing listening sockets from one kernel to the next (issue 7.1): ``pass sockets`` gives a
client duplicates (SCM_RIGHTS), ``--socket-fd NAME=FD`` makes a new kernel hold them, and the
first matching ``make socket NAME`` claims them, so the address and its queue survive."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import pytest
from kernel_helpers import KERNEL, refused_in_process, start_kernel

pytestmark = pytest.mark.timeout(60)


def pass_sockets(path: str, names: str) -> tuple[str, list[socket.socket]]:
    """Ask for ``pass sockets NAMES`` on a fresh connection; the reply body and the sockets."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(10)
        conn.connect(path)
        data = b""
        while not data.endswith(b"\n> "):
            data += conn.recv(4096)
        conn.sendall(f"pass sockets {names}\n".encode())
        reply, fds = b"", []
        while not reply.endswith(b"\n> "):
            chunk, got, _flags, _addr = socket.recv_fds(conn, 4096, 16)
            if not chunk:
                break
            reply += chunk
            fds += got
    return reply[:-3].decode(), [socket.socket(fileno=fd) for fd in fds]


def test_pass_sockets_gives_duplicates_of_the_listening_sockets(kernel):
    client = kernel.client()
    web = client.cmd("make socket web")
    api = client.cmd("make socket api")
    body, socks = pass_sockets(kernel.path, "web api")
    assert sorted(body.splitlines()) == sorted([web, api])  # in name order, fds in line order
    ports = [int(re.search(r"port=(\d+)", line)[1]) for line in body.splitlines()]
    assert [s.getsockname()[1] for s in socks] == ports
    for sock, port in zip(socks, ports, strict=True):
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            sock.settimeout(5)
            accepted, _ = sock.accept()  # the same listening socket: its queue is ours too
            accepted.close()
        sock.close()


def test_pass_sockets_errors(tcp_kernel):
    client = tcp_kernel.client()
    assert "not found" in client.error("pass sockets nothing")
    assert "cannot be abbreviated" in client.error("pa sockets nothing")
    client.cmd("make socket web")
    assert "unix connections only" in tcp_kernel.client(tcp=True).error("pass sockets web")


def test_an_inherited_socket_is_held_and_claimed_by_make_socket(kdir):
    listener = socket.create_server(("127.0.0.1", 0), backlog=5)
    port = listener.getsockname()[1]
    queued = socket.create_connection(("127.0.0.1", port), timeout=5)  # waits in the queue
    fd = listener.fileno()
    kernel = start_kernel(kdir, "--socket-fd", f"circus.web={fd}", pass_fds=(fd,))
    try:
        listener.close()  # from now on only the kernel holds it
        client = kernel.client()
        held = client.cmd("list sockets")
        assert re.fullmatch(rf"circus\.web family=inet type=stream backlog=5 host=127\.0\.0\.1 "
                            rf"port={port} fileno=\d+", held)  # fmt: skip
        other = "127.0.0.2" if sys.platform == "linux" else "::1"
        assert "already been created" in client.error(
            f"make socket circus.web host={other} port={port}"
        )
        make = f"make socket circus.web host=127.0.0.1 port={port} backlog=64"
        claimed = client.cmd(make)
        assert claimed == held.replace("backlog=5", "backlog=64")
        assert client.cmd(make) == claimed  # claimed: an ordinary held socket now
        _body, (dup,) = pass_sockets(kernel.path, "circus.web")
        dup.settimeout(5)
        accepted, _ = dup.accept()  # the connection queued before the kernel started
        accepted.close()
        dup.close()
    finally:
        queued.close()
        kernel.stop()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("web", "needs NAME=FD"),
        ("a b=5", "needs NAME=FD"),
        ("web=2", "above 2"),
        ("web=x", "above 2"),
        ("web=99999999", "Bad file descriptor"),  # above any fd limit: never open here
    ],
)
def test_bad_socket_fd_options_are_refused(kdir, value, message, capsys):
    """In this process (the next test runs the program on a refused --socket-fd)."""
    status, err = refused_in_process(capsys, "--socket", f"{kdir}/k.sock", "--socket-fd", value)
    assert status == 1 and message in err, err


def test_a_socket_fd_that_is_not_a_socket_is_refused(kdir):
    with open(f"{kdir}/file", "w") as handle:
        fd = handle.fileno()
        result = subprocess.run(
            [*KERNEL, "--socket", f"{kdir}/k.sock",
             "--socket-fd", f"web={fd}"],
            capture_output=True, text=True, timeout=30, pass_fds=(fd,),
        )  # fmt: skip
    assert result.returncode == 1
    assert "not a socket" in result.stderr


def test_a_socket_fd_that_cannot_be_held_is_dropped_not_fatal(kdir):
    first = socket.create_server(("127.0.0.1", 0))
    second = socket.create_server(("127.0.0.1", 0))
    fds = (first.fileno(), second.fileno())
    kernel = start_kernel(
        kdir, "--socket-fd", f"web={fds[0]}", "--socket-fd", f"web={fds[1]}", pass_fds=fds
    )
    try:
        first_port = first.getsockname()[1]
        assert f"port={first_port}" in kernel.client().cmd("list sockets")
        with open(f"{kdir}/kernel.log") as log:
            assert "given twice" in log.read()
    finally:
        first.close()
        second.close()
        kernel.stop()
