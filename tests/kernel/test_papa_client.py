"""The original papa 1.0.6 client library drives papa-kernel unchanged."""

from __future__ import annotations

import socket
import sys

import pytest
from support import Gate

papa = pytest.importorskip("papa")

pytestmark = pytest.mark.compat


@pytest.fixture
def papa_client(module_kernel):
    """The library connected to the module's kernel (checked empty before each test and
    emptied after it: tests/kernel/conftest.py)."""
    papa.Papa.spawned = True  # never let the library fork its own server
    with module_kernel.test(), papa.Papa(module_kernel.kernel.path, connection_timeout=5) as client:
        yield client


def test_sockets_and_values(papa_client, tmp_path):
    assert papa_client.list_sockets() == {}
    tcp = papa_client.make_socket("api.sock")
    assert tcp["family"] == "inet" and tcp["host"] == "127.0.0.1" and tcp["port"] > 0
    path = f"{tmp_path}/api.usock"
    unix = papa_client.make_socket("api.usock", path=path, umask=0o22)
    assert unix["path"] == path and unix["umask"] == "18"
    six = papa_client.make_socket("api.rp", reuseport=True, family=socket.AF_INET)
    assert six["reuseport"] == "1"
    assert set(papa_client.list_sockets()) == {"api.sock", "api.usock", "api.rp"}
    papa_client.set("api.v", "hello world")
    assert papa_client.get("api.v") == "hello world"
    assert papa_client.get("api.none") is None
    assert papa_client.list_values() == {"api.v": "hello world"}
    assert papa_client.exit_if_idle() is False
    assert papa_client.remove_values("api.*") is True
    assert papa_client.remove_sockets("api.*") is True
    assert papa_client.list_sockets() == {}


def test_process_watch_and_exit_code(papa_client, tmp_path):
    gate = Gate(tmp_path)  # the rest of the output once the watch is on
    info = papa_client.make_process(
        "api.proc",
        executable="sh",
        args=["-c", f"echo hi; read x <{gate.path}; echo bye >&2; exit 3"],
        env={"A": "x y", "B": "trail\\"},
        working_dir=str(tmp_path),
        bufsize="64k",
        rlimits={"nofile": 256},
    )
    assert info["running"] is True and info["pid"] > 0
    assert "api.proc" in papa_client.list_processes()
    watcher = papa_client.watch_processes("api.*")
    gate.open()
    out, err, closed = [], [], []
    while True:
        reply = watcher.read()
        if reply is None:
            break
        out += reply[0]
        err += reply[1]
        closed += reply[2]
    assert b"".join(item.data for item in out) == b"hi\n"
    assert b"".join(item.data for item in err) == b"bye\n"
    assert [(item.name, item.data) for item in closed] == [("api.proc", 3)]
    assert watcher.exit_code == {"api.proc": 3}
    assert papa_client.list_processes() == {}


def test_watch_immediately(papa_client):
    watcher = papa_client.make_process(
        "api.imm",
        executable=sys.executable,
        args=["-c", "import os; print(repr(os.environ['E']))"],
        env={"E": "v"},  # (an empty value crashes the 1.0.6 client itself: IndexError)
        stderr=papa.STDOUT,
        watch_immediately=True,
    )
    collected = b""
    while (reply := watcher.read()) is not None:
        collected += b"".join(item.data for item in reply[0])
    assert collected == b"'v'\n"


def test_exit_code_visible_in_list_processes(papa_client):
    papa_client.make_process("api.x", executable="sh", args=["-c", "exit 5"])
    for _ in range(500):
        info = papa_client.list_processes("api.x")["api.x"]
        if info["running"] is False:
            break
    assert info["running"] is False
    assert info["exit_code"] == "5"  # extra field, tolerated by the old parser
    papa_client.remove_processes("api.x")


def test_watcher_close_mid_stream_keeps_data(papa_client, tmp_path):
    gate = Gate(tmp_path)  # "2" once the first watcher is gone
    script = f"echo 1; read x <{gate.path}; echo 2"
    papa_client.make_process("api.tick", executable="sh", args=["-c", script])
    watcher = papa_client.watch_processes("api.tick")
    first = watcher.read()
    assert [item.data for item in first[0]] == [b"1\n"]
    watcher.close()  # sends q: acknowledges "1"
    gate.open()
    watcher = papa_client.watch_processes("api.tick")
    rest = b""
    while (reply := watcher.read()) is not None:
        rest += b"".join(item.data for item in reply[0])
    assert rest == b"2\n"


def test_errors_raise_papa_error(papa_client):
    with pytest.raises(papa.Error, match="nothere not found"):
        papa_client.watch_processes("nothere")
    with pytest.raises(papa.Error, match="Bad command"):
        papa_client.make_process("bad", executable="/nonexistent/exe")
    assert papa_client.list_processes() == {}
