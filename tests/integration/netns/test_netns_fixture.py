"""The network-namespace fixture (tests/netns.py): addresses, isolation, link down/up,
multicast, code run inside a namespace from a thread of the test, and that nothing is left
behind, even when the test fails inside the block."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys

import netns
import pytest
import support

pytestmark = pytest.mark.timeout(90)

# A TCP server inside a namespace: prints "ready" once listening, answers "hi" to each client.
SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"hi"); c.close()
"""

# A TCP client inside a namespace: exit 0 if it got "hi" within 2 s.
CLIENT = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
sys.exit(0 if c.recv(2) == b"hi" else 1)
"""


#: How long a connect must go unanswered to count as dropped packets: a reachable address
#: answers a SYN from the kernel (no process needs to run) in well under a millisecond.
SILENCE = 0.5

# A TCP connect inside a namespace: exit 0 if it times out (silence: packets dropped).
SILENT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
except TimeoutError:
    sys.exit(0)
except OSError as exc:
    sys.exit(f"not silence: {exc!r}")
sys.exit("connected")
"""


def _silent(address: str, port: int = 7000) -> bool:
    """A connect from here to ``address`` times out (not refused, not connected)."""
    try:
        socket.create_connection((address, port), timeout=SILENCE).close()
    except TimeoutError:
        return True
    except OSError:
        return False
    return False


def _serve(ns: netns.Namespaces, index: int, port: int = 7000) -> subprocess.Popen:
    proc = ns.popen(index, [sys.executable, "-c", SERVER, ns[index].address, str(port)],
                    stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline() == "ready\n"
    return proc


def _reach(address: str, port: int = 7000, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(2) == b"hi"
    except OSError:
        return False


def test_three_namespaces_reached_from_root_and_cleaned_up():
    netns.require()
    with netns.Namespaces(3) as ns:
        names = [n.name for n in ns]
        subnet = ipaddress.ip_network(ns.subnet)
        assert len(set(names)) == 3 and all(n.startswith("ctn-") for n in names)
        assert all(ipaddress.ip_address(n.address) in subnet for n in ns)
        assert len({n.address for n in ns}) == 3
        for index in range(3):
            _serve(ns, index)
        assert all(_reach(n.address) for n in ns)
        # lo is up inside, and the namespace has no route out of the test subnet
        routes = ns.run(0, ["ip", "-4", "route"]).stdout
        assert "default" not in routes and ns.subnet in routes
        assert "UP" in ns.run(0, ["ip", "link", "show", "lo"]).stdout
        # isolated by default: namespace 1 cannot reach namespace 0 (silence, not a refusal)
        probe = ns.run(1, [sys.executable, "-c", SILENT, ns[0].address, "7000", str(SILENCE)])
        assert probe.returncode == 0, probe.stderr
    assert ns.leftovers() == []
    assert not [n for n in netns._our_namespaces() if n in names]


def test_link_down_drops_packets_and_link_up_restores():
    netns.require()
    with netns.Namespaces(2) as ns:
        _serve(ns, 0)
        _serve(ns, 1)
        ns.link_down(1)
        assert _silent(ns[1].address)  # silence, not a refusal
        assert _reach(ns[0].address)
        ns.link_up(1)
        support.wait_for(lambda: _reach(ns[1].address), timeout=20, message="link back up")


def test_linked_namespaces_reach_each_other():
    netns.require()
    with netns.Namespaces(2, linked=True) as ns:
        _serve(ns, 0)
        probe = ns.run(1, [sys.executable, "-c", CLIENT, ns[0].address, "7000"])
        assert probe.returncode == 0, probe.stderr
        # the same from a thread of this process inside namespace 1 (call: setns)
        inside = f"net:[{os.stat(f'/run/netns/{ns[1].name}').st_ino}]"
        assert ns.call(1, os.readlink, "/proc/thread-self/ns/net") == inside
        assert os.readlink("/proc/thread-self/ns/net") != inside  # this thread stays out
        assert ns.call(1, _reach, ns[0].address)
        with pytest.raises(FileNotFoundError):  # its exception, raised here
            ns.call(1, os.stat, "/nonexistent")


MCAST_RECV = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 12027))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             struct.pack("4s4s", socket.inet_aton("237.219.251.97"), socket.inet_aton(sys.argv[1])))
print("ready", flush=True)
s.settimeout(20)
print(s.recvfrom(100)[0].decode(), flush=True)
"""


def test_multicast_from_root_reaches_every_namespace():
    netns.require()
    with netns.Namespaces(2, multicast=True) as ns:
        receivers = []
        for index in range(2):
            proc = ns.popen(index, [sys.executable, "-c", MCAST_RECV, ns[index].address],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
            assert proc.stdout.readline() == "ready\n"
            receivers.append(proc)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ns.gateway)
            )
            sender.sendto(b"hello", ("237.219.251.97", 12027))
        for proc in receivers:
            assert proc.stdout.readline() == "hello\n"


def test_cleanup_even_when_the_block_fails():
    netns.require()
    with pytest.raises(RuntimeError, match="boom"), netns.Namespaces(2) as ns:
        # left running inside (or, this soon, maybe still entering it): close() kills it
        sleeper = ns.popen(0, ["sleep", "600"])
        raise RuntimeError("boom")
    assert ns.leftovers() == []
    assert sleeper.poll() is not None, "close() left a process it started running"


def test_two_at_once_get_distinct_names_and_subnets():
    netns.require()
    with netns.Namespaces(1) as first, netns.Namespaces(1) as second:
        assert first.tag != second.tag and first[0].name != second[0].name
        assert not ipaddress.ip_network(first.subnet).overlaps(ipaddress.ip_network(second.subnet))
        _serve(first, 0)
        _serve(second, 0)
        assert _reach(first[0].address) and _reach(second[0].address)
