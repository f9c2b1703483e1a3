"""make/list/remove/watch sockets, inheritance by processes, reuseport, dgram, interface."""

from __future__ import annotations

import os
import re
import socket
import stat
import sys

import pytest
import support
from kernel_helpers import ReplyError

# the tests that use only ``client`` share one kernel (tests/kernel/conftest.py)
pytestmark = pytest.mark.shared_kernel

PY = sys.executable


def fields(line: str) -> dict[str, str]:
    name, *items = line.split(" ")
    return {"name": name, **dict(item.split("=", 1) for item in items)}


def test_make_list_remove_inet_socket(client):
    line = client.cmd("make socket web")
    info = fields(line)
    assert re.fullmatch(
        r"web family=inet type=stream backlog=5 host=127.0.0.1 port=\d+ fileno=\d+", line
    )
    assert int(info["port"]) > 0
    probe = socket.create_connection(("127.0.0.1", int(info["port"])), timeout=5)
    probe.close()  # the kernel's socket listens
    assert client.cmd("make socket web") == line  # identical: same socket
    assert client.cmd(f"make socket web port={info['port']}") == line
    assert "already been created" in client.error("make socket web backlog=10")
    assert client.cmd("l s") == line
    assert client.cmd("l s w*") == line
    assert client.cmd("r s web") == ""
    assert client.cmd("l s") == ""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(info["port"])), timeout=5)
    assert "nothere not found" in client.error("r s nothere")


def test_remove_sockets_without_names_removes_all(client):
    client.cmd("make socket a")
    client.cmd("make socket b")
    assert client.cmd("remove sockets") == ""
    assert client.cmd("l s") == ""


def test_unix_socket_path_umask_and_replace(client, scratch):
    path = os.path.join(scratch, "app.sock")
    line = client.cmd(f"make socket app path={path} umask=18")  # decimal, as papa clients send
    assert fields(line)["family"] == "unix" and fields(line)["umask"] == "18"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755
    probe = socket.socket(socket.AF_UNIX)
    probe.connect(path)
    probe.close()
    assert "already been created" in client.error(f"make socket other path={path}")
    client.cmd("r s app")
    assert not os.path.exists(path)  # removed with the socket
    # a stale socket file is replaced, unless replace=0; a regular file never is
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    assert "replace=0" in client.error(f"make socket app path={path} replace=0")
    client.cmd(f"make socket app path={path}")
    regular = os.path.join(scratch, "file")
    open(regular, "w").close()
    assert "not a socket" in client.error(f"make socket f path={regular}")
    assert os.path.exists(regular)


def test_socket_option_errors(client):
    cases = {
        "make socket": "requires a name",
        "make socket a family=bogus": 'Bad family "bogus"',
        "make socket a type=raw": 'Bad type "raw"',
        "make socket a path=relative.sock": "must be absolute",
        "make socket a port=99999": "between 0 and 65535",
        "make socket a port=x": '"port" must be an integer',
        "make socket a umask=1": '"umask" only applies',
        "make socket a color=red": 'Unknown socket option "color"',
        "make socket a host=no.such.host.invalid": "Cannot resolve",
        "make socket a junk": 'Unexpected argument "junk"',
        "make socket a:b": "must not contain",
    }
    for line, expected in cases.items():
        assert expected in client.error(line), line
    assert client.cmd("l s") == ""


def test_inet6_socket(client):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        line = client.cmd("make socket six family=inet6")
    except ReplyError as exc:
        pytest.skip(f"IPv6 loopback unavailable: {exc}")
    assert fields(line)["host"] == "::1"


def test_dgram_socket_works(client):
    line = client.cmd("make socket udp type=dgram")  # papa 1.0.6: Operation not supported
    port = int(fields(line)["port"])
    script = "import socket,sys; s=socket.socket(fileno=int(sys.argv[1])); print(s.recv(100))"
    client.watch(
        f"make process rx watch=1 {PY} -c {script.replace(' ', chr(92) + ' ')} $(socket.udp.fileno)"
    )
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.sendto(b"ping", ("127.0.0.1", port))
    sender.close()
    assert client.collect({"rx"})["rx"]["out"] == b"b'ping'\n"


def test_interface_binds_to_device(client):
    if os.geteuid() != 0:
        pytest.skip("SO_BINDTODEVICE needs CAP_NET_RAW")
    line = client.cmd("make socket lo1 interface=lo")  # papa 1.0.6: No module named 'IN'
    info = fields(line)
    assert info["interface"] == "lo" and info["host"] == "0.0.0.0"
    socket.create_connection(("127.0.0.1", int(info["port"])), timeout=5).close()


def _py(client, name: str, script: str, *args: str, watch: bool = True, options: str = "") -> None:
    escaped = script.replace(" ", "\\ ")
    flags = f"{'watch=1 ' if watch else ''}{options}"
    line = f"make process {name} {flags} {PY} -c {escaped} {' '.join(args)}"
    if watch:
        client.watch(line)
    else:
        client.cmd(line)


def test_process_inherits_only_sockets_it_asks_for(client):
    web = fields(client.cmd("make socket web"))
    client.cmd("make socket other")
    script = (
        "import os,sys; print(sys.argv[1:], sorted(int(f) for f in os.listdir('/proc/self/fd')))"
    )
    _py(client, "p", script, "$(socket.web.fileno)", "$(socket.web.port)")
    out = client.collect({"p"})["p"]["out"].decode()
    fileno = web["fileno"]
    assert out.startswith(f"['{fileno}', '{web['port']}']")
    fds = eval(out.split("] ", 1)[1])  # the child's open fds (plus listdir's own)
    assert int(fileno) in fds
    assert len(fds) == 5  # 0, 1, 2, the web socket and listdir's fd: nothing else leaked


def test_sockets_option_and_accept_in_child(client):
    web = fields(client.cmd("make socket web"))
    script = (
        "import socket,sys; s=socket.socket(fileno=int(sys.argv[1])); c,_=s.accept(); "
        "c.sendall(b'hello'); c.close()"
    )
    _py(client, "srv", script, web["fileno"], watch=False, options="sockets=web")
    conn = socket.create_connection(("127.0.0.1", int(web["port"])), timeout=10)
    assert conn.recv(10) == b"hello"
    conn.close()


def test_stdin_socket(client):
    web = fields(client.cmd("make socket fcgi"))
    script = "import socket; s=socket.socket(fileno=0); print(s.getsockname()[1])"
    _py(client, "fc", script, options="stdin_socket=fcgi")
    assert client.collect({"fc"})["fc"]["out"] == f"{web['port']}\n".encode()


def test_reuseport_gives_each_process_its_own_socket(client):
    line = client.cmd("make socket rp reuseport=1")
    info = fields(line)
    assert info["reuseport"] == "1" and "fileno" not in info
    port = int(info["port"])
    with pytest.raises(ConnectionRefusedError):  # the kernel's holder reserves, never listens
        socket.create_connection(("127.0.0.1", port), timeout=5)
    script = (
        "import socket,sys; s=socket.socket(fileno=int(sys.argv[1])); "
        "assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT); "
        "c,_=s.accept(); c.sendall(sys.argv[2].encode()); c.close()"
    )
    _py(client, "rpa", script, "$(socket.rp.fileno)", "A", watch=False)
    _py(client, "rpb", script, "$(socket.rp.fileno)", "B", watch=False)  # papa 1.0.6: EADDRINUSE
    seen = set()

    def serve_one() -> bool:
        # A process that served its one connection exits: connections the OS had already
        # queued on its listening socket are reset, not refused. Both mean "try again".
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                data = conn.recv(10).decode()
        except (ConnectionRefusedError, ConnectionResetError):
            return False
        if data:
            seen.add(data)
        return seen == {"A", "B"}

    support.wait_for(serve_one, timeout=20, message="both reuseport processes to accept")


def test_watch_sockets_reports_pending_connection(client):
    info = fields(client.cmd("make socket od"))
    client.cmd("make socket quiet")
    assert client.watch("w s od") == "Watching 1"
    conn = socket.create_connection(("127.0.0.1", int(info["port"])), timeout=5)
    records = client.batch()
    assert [(r[0], r[1]) for r in records] == [("readable", "od")]
    client.ack()
    assert client.batch() == "Nothing left to watch"
    # nothing was accepted: a process can still take the pending connection
    script = (
        "import socket,sys; s=socket.socket(fileno=int(sys.argv[1])); c,_=s.accept(); "
        "c.sendall(b'late')"
    )
    _py(client, "late", script, "$(socket.od.fileno)", watch=False)
    assert conn.recv(10) == b"late"
    conn.close()
    assert "Nothing to watch" in client.error("w s nothing*")
    assert "nothere not found" in client.error("w s nothere")


def test_watch_sockets_q_stops(client):
    client.cmd("make socket q1")
    client.watch("w s q1")
    client.ack("q")
    assert client.batch() == "Stopped watching"
    assert client.cmd("l s q1").startswith("q1 ")


def test_seqpacket_unix_socket_and_explicit_host(client, scratch):
    path = os.path.join(scratch, "seq.sock")
    line = client.cmd(f"make socket seq type=seqpacket path={path} backlog=16")
    assert fields(line)["type"] == "seqpacket" and fields(line)["backlog"] == "16"
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    probe.connect(path)  # listening
    probe.close()
    info = fields(client.cmd("make socket named host=localhost"))
    assert info["host"] == "localhost"
    socket.create_connection(("127.0.0.1", int(info["port"])), timeout=5).close()
