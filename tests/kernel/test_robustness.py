"""Bad input and bad clients: errors name the problem, the kernel and its processes carry on."""

from __future__ import annotations

import socket

import pytest
import support
from kernel_helpers import PROMPT, Gate, processes

# the tests that use only ``client`` share one kernel (tests/kernel/conftest.py)
pytestmark = pytest.mark.shared_kernel

LIMIT = 64 * 1024


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_huge_line_is_refused_and_session_goes_on(client):
    client.send("set big " + "x" * (LIMIT + 10) + "\n")
    assert b"longer than 65536 bytes" in client.read_until(PROMPT)
    assert client.cmd("get big") == ""
    # the same, arriving in pieces without a newline for a while
    for _ in range(3):
        client.send("y" * 40000)
    client.send("\nset ok 1\n")
    assert b"longer than 65536 bytes" in client.read_until(PROMPT)
    assert client.read_until(PROMPT) == PROMPT
    assert client.cmd("get ok") == "1"


def test_line_just_under_the_limit_works(client):
    value = "v" * (LIMIT - 100)
    assert client.cmd(f"set near {value}") == ""
    assert client.cmd("get near") == value


def test_binary_junk_gets_an_error(client):
    client.cmd("make process keep sleep 30")
    client.send(b"\x00\xff\xfe garbage \x80\x81\n")
    assert client.read_until(PROMPT).startswith(b"Error: Unknown command")
    client.send(b"make process \xff\xfe sh\x00 -c true\n")
    assert client.read_until(PROMPT).startswith(b"Error: ")
    assert processes(client)["keep"]["running"] == "True"


def test_half_a_line_then_disconnect(connect, client):
    client.cmd("make process keep sleep 30")
    rude = connect()
    rude.send("make process half sle")
    rude.close()
    other = connect()
    assert set(processes(other)) == {"keep"}


def test_slow_reader_is_bounded_and_others_are_served(kernel, client):
    client.cmd("set big " + "z" * 60000)
    slow = kernel.client()
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    before = rss_kib(kernel.pid)
    slow.send("get big\n" * 1000)  # 60 MB of replies that nobody reads for now
    fast = kernel.client()
    for _ in range(20):
        assert fast.cmd("version").startswith("papa-kernel")
    growth = rss_kib(kernel.pid) - before
    assert growth < 32 * 1024, f"kernel grew by {growth} KiB for one slow client"
    for _ in range(1000):  # and nothing was lost: every reply arrives, in order
        assert slow.read_until(PROMPT) == b"z" * 60000 + PROMPT


def test_many_bad_lines_in_a_row(client):
    lines = ["frob", "list", "l x", "m p", "m s", "w p nothere", "signal", "set", "r v", "e", "%%%"]
    client.send("".join(line + "\n" for line in lines) * 20)
    for _ in range(len(lines) * 20):
        assert client.read_until(PROMPT).startswith(b"Error: ")
    assert client.cmd("version")


def test_client_flood_of_connections(connect):
    clients = [connect() for _ in range(100)]
    for index, each in enumerate(clients):
        each.cmd(f"set c{index} {index}")
    support.wait_for(lambda: len(clients[0].cmd("l v").splitlines()) == 100, message="values")


def test_huge_line_while_watching_is_just_an_acknowledgement(client, scratch):
    gate = Gate(scratch)  # "b" once the huge line is sent
    client.watch(rf"make process hw watch=1 sh -c echo\ a;\ {gate.wait};\ echo\ b")
    assert client.batch()[0][3] == b"a\n"
    client.send("x" * (LIMIT + 5) + "\n")  # no Error: inside the watch stream
    gate.open()
    records = client.batch()
    assert records[0][3] == b"b\n"
