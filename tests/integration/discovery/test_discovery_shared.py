"""Multicast discovery for real, on one circusd on lo inside a network namespace
(tests/netns.py), shared by the tests of this module (a circusd start and a namespace cost
~0.25 s of CPU), in this order: malformed datagrams are ignored (first: its garbage takes 11
of the 20 tokens of circusd's answer bucket, full after its start); ``circusctl --discover``
and its formats feed fleet mode (their rounds are probed again if one went unanswered); a
flood of probes is answered at a bounded rate (last: it drains the bucket, and waits until a
probe is answered again). Each test finds circusd running and answering its control
channel. The tests with namespaces or a circusd of their own are in
test_discovery.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import netns
import psutil
import pytest
import support
from discovery_probes import REPO, SHORT, discover, discover_code, group, start_circusd, until_found

pytestmark = pytest.mark.timeout(180)


@dataclass
class OnLo:
    """The module's namespace and its circusd (``process``: circusd's psutil.Process)."""

    ns: netns.Namespaces
    daemon: support.Circusd
    process: psutil.Process


@pytest.fixture(scope="module")
def module_lo(tmp_path_factory) -> Iterator[OnLo]:
    netns.require()
    with netns.Namespaces(1, multicast=True) as ns:
        daemon, process = start_circusd(ns, 0, tmp_path_factory.mktemp("discovery"), "")
        yield OnLo(ns, daemon, process)


@pytest.fixture
def on_lo(module_lo) -> OnLo:
    """The module's circusd, running and answering, as each test finds it."""
    assert module_lo.process.is_running(), module_lo.daemon.log()
    assert module_lo.daemon.ok("status")["statuses"] == {"sleeper": "active"}
    return module_lo


def _raw_probe(group: str, port: int, wait: float, datagrams: list[bytes]) -> list[bytes]:
    """Raw datagrams (run inside a namespace): each of ``datagrams`` sent to the group from
    one socket on lo, then what came back within ``wait`` seconds."""
    from circus.util.netif import mreqn

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        option = mreqn(group, socket.if_nametoindex("lo"), "127.0.0.1")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, option)
        for datagram in datagrams:
            sock.sendto(datagram, (group, port))
        answers = []
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                answers.append(sock.recv(2048))
            except TimeoutError:
                break
        return answers


# A flood of probes on lo for argv[3] seconds at argv[5] probes a second (in bursts of 100;
# at most 500,000), counting the answers.
FLOOD = """
import json, socket, sys, time
sys.path.insert(0, sys.argv[4])
from circus.util.netif import mreqn
group, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rate = float(sys.argv[5])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                mreqn(group, socket.if_nametoindex("lo"), "127.0.0.1"))
sock.setblocking(False)
sent = answers = 0
start = time.monotonic()
end = start + seconds
while (now := time.monotonic()) < end and sent < 500000:
    if sent == 100:
        print("flooding", flush=True)
    if sent % 100 == 0 and (ahead := start + sent / rate - now) > 0:
        time.sleep(ahead)
    try:
        sock.sendto(b'""', (group, port)); sent += 1
    except BlockingIOError:
        pass
    while True:
        try:
            sock.recv(2048); answers += 1
        except BlockingIOError:
            break
time.sleep(0.3)
while True:
    try:
        sock.recv(2048); answers += 1
    except BlockingIOError:
        break
print(json.dumps({"sent": sent, "answers": answers}))
"""


def test_malformed_datagrams_are_ignored(on_lo):
    ns, daemon, process = on_lo.ns, on_lo.daemon, on_lo.process
    address, port = group()
    garbage = [
        b"",
        b"x",
        b"{}",
        b'{"endpoint": "tcp://evil:1"}',
        b'"" ""',
        b"\xff\xfe\x00",
        b"[" * 1000,
        b'""' + b" " * 2000,
        os.urandom(512),
        b"null",
    ]
    # the garbage, then a probe, from one socket: circusd reads its socket in order (one
    # token of its bucket each: BURST is more than these), so an answer to any of the
    # garbage would come before the probe's, within the round. One answer, the exact one.
    datagrams = [*garbage, b'""']
    answers = support.wait_for(
        lambda: ns.call(0, _raw_probe, address, int(port), SHORT, datagrams),
        timeout=30,
        message="an answer to a probe after the garbage",
    )
    (answer,) = answers
    assert json.loads(answer) == {"endpoint": daemon.endpoint, "curve": False}
    assert process.is_running() and "Traceback" not in daemon.log()
    assert daemon.ok("status")["status"] == "ok"


def test_circusctl_discover_finds_our_circusd_and_feeds_fleet_mode(on_lo, tmp_path, capsys):
    """--discover runs as a process in the namespace, its other formats as its code there; the
    fleet commands fed with its output run circusctl's main here (their processes are covered
    by the fleet tests)."""
    from circus.cli import circusctl

    ns, daemon = on_lo.ns, on_lo.daemon
    found = until_found(ns, 0, "lo", process=True)
    assert [(a["endpoint"], a["curve"], a["sender"]) for a in found] == [
        (daemon.endpoint, False, "127.0.0.1")
    ]
    assert found[0]["curve_public_key"] is None
    # the endpoints format is a fleet command line: run status with it (from here)
    words = _formatted(ns, "endpoints")
    assert words.split() == ["--endpoint", daemon.endpoint]
    capsys.readouterr()
    assert circusctl.main([*words.split(), "status"]) == 0
    assert "sleeper: active" in capsys.readouterr().out
    # the hosts format loads as a hosts file
    hosts = _formatted(ns, "hosts")
    (tmp_path / "fleet.ini").write_text(hosts)
    assert circusctl.main(["--hosts", str(tmp_path / "fleet.ini"), "status"]) == 0
    assert "sleeper: active" in capsys.readouterr().out


def _formatted(ns: netns.Namespaces, form: str) -> str:
    """``circusctl --discover --discover-format FORM`` on lo in namespace 0 (its code there),
    until a circusd answered: its output."""
    return support.wait_for(
        lambda: ns.call(0, discover_code, ["lo"], SHORT, form)[1],
        timeout=30,
        message=f"an answer in the {form} format",
    )


def test_a_flood_of_probes_is_answered_at_a_bounded_rate(on_lo):
    from circus.control.discovery import BURST, DATAGRAMS_PER_SECOND

    ns, daemon, process = on_lo.ns, on_lo.daemon, on_lo.process
    address, port = group()
    # 1.5 s at 20,000 probes a second (1,000 times the answer rate; circusd reads no more
    # than it answers, so a faster flood costs it nothing more, only the flood's own CPU)
    seconds, rate = 1.5, 20000
    flood = ns.popen(
        0,
        [sys.executable, "-c", FLOOD, address, port, str(seconds), str(REPO), str(rate)],
        stdout=subprocess.PIPE,
        text=True,
    )
    cpu_before = sum(process.cpu_times()[:2])
    assert flood.stdout.readline() == "flooding\n"
    time.sleep(0.1)  # the flood is on: circusd still answers its control channel quickly
    latencies = []
    for _ in range(5):
        started = time.monotonic()
        assert daemon.ok("status")
        latencies.append(time.monotonic() - started)
    assert flood.poll() is None, "the flood ended before the status calls did"
    out, _ = flood.communicate(timeout=60)
    cpu = sum(process.cpu_times()[:2]) - cpu_before
    counts = json.loads(out)
    print(f"flood: {counts}, circusd cpu {cpu:.3f} s, status latencies {latencies}")
    limit = BURST + DATAGRAMS_PER_SECOND * (seconds + 1)
    assert counts["sent"] > 10 * limit, counts  # it was a flood
    assert 0 < counts["answers"] <= limit, counts
    assert max(latencies) < 2.0, latencies  # ~1 ms each on a quiet machine
    assert cpu < 0.5 * seconds, f"circusd used {cpu:.2f} s of CPU during the flood"
    # the bucket refills: a probe after the flood is answered
    support.wait_for(
        lambda: discover(ns, 0, "lo", wait=SHORT),
        timeout=10,
        message="answered again after the flood",
    )
