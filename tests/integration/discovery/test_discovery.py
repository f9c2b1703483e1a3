"""Multicast discovery for real, in network namespaces (tests/netns.py): circusd answers
``circusctl --discover``; a real circusd 0.19 and the original's client (circus-web 1.0.0's
AutoDiscovery, replayed) interoperate with ours; a TCP endpoint without CURVE is never
announced beyond loopback; malformed datagrams and a flood of probes; discovery across two
namespaces over their veth links. Every datagram stays inside the namespaces.

``circusctl --discover`` runs as a process where the test is about it (its formats, its
default interfaces); elsewhere its code (``circus.cli.discover.run_discover``) runs in a
thread of this process inside the namespace (``Namespaces.call``: no Python start-up, ~0.13 s
of CPU a probe round)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import netns
import psutil
import pytest
import support

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parents[3]
GROUP = "udp://237.219.251.97:12027"  # the original's default
ORIGINAL = REPO / ".venv-circus019" / "bin" / "circusd"
CIRCUSCTL = [sys.executable, "-m", "circus.cli.circusctl"]

# The original's client, as circus-web 1.0.0 (circusweb/util.py, AutoDiscovery) does it: a
# socket bound to an ephemeral port, TTL 255, the probe b'""' to the group (no interface
# chosen: the route to 224.0.0.0/4 decides), then every answer's "endpoint", a 0.0.0.0 host
# replaced by the answer's source address. Prints the endpoints as a JSON list.
ORIGINAL_CLIENT = """
import json, socket, sys, time
group, port, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
sock.bind(("0.0.0.0", 0))
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
sock.sendto(b'""', (group, port))
found = set()
deadline = time.monotonic() + wait
while (left := deadline - time.monotonic()) > 0:
    sock.settimeout(left)
    try:
        data, address = sock.recvfrom(1024)
    except socket.timeout:
        break
    endpoint = json.loads(data).get("endpoint", "")
    if endpoint.startswith("tcp://"):
        endpoint = endpoint.replace("0.0.0.0", address[0])
    found.add(endpoint)
print(json.dumps(sorted(found)))
"""


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


def _circusd(
    ns: netns.Namespaces, index: int, workdir: Path, circus_extra: str, endpoint: str | None = None
) -> tuple[support.Circusd, psutil.Process]:
    """Our circusd inside namespace ``index`` (no kernel: one local watcher), ready."""
    daemon = support.Circusd(workdir)
    if endpoint is not None:
        daemon.endpoint = endpoint
    daemon.write_config(
        "[watcher:sleeper]\ncmd = sleep 600\nuse_papa = false\n",
        f"multicast_endpoint = {GROUP}\n{circus_extra}",
    )
    log = open(daemon.log_path, "ab")  # noqa: SIM115 (closed with the namespace's processes)
    proc = ns.popen(
        index,
        [sys.executable, "-m", "circus.cli.circusd", daemon.config_path, "--log-level", "debug"],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"circusd exited with {proc.returncode}:\n{daemon.log()}")
        return " ready: " in daemon.log()

    support.wait_for(ready, timeout=60, message="circusd ready")
    assert "discovery: answering probes" in daemon.log(), daemon.log()
    return daemon, psutil.Process(proc.pid)


def _run_discover(
    interfaces: list[str], wait: float, output: str = "list", as_json: bool = False
) -> tuple[int, str, str]:
    """``circusctl --discover``'s code (run inside a namespace: :meth:`Namespaces.call`): its
    exit code, output and errors."""
    from circus.cli.discover import run_discover

    out, err = io.StringIO(), io.StringIO()
    code = run_discover(
        out, err, multicast=None, wait=wait, interfaces=interfaces, output=output,
        as_json=as_json,
    )  # fmt: skip
    return code, out.getvalue(), err.getvalue()


def _discover(
    ns: netns.Namespaces, index: int, *interfaces: str, wait: float = 1.0, process: bool = False
) -> list[dict]:
    """``circusctl --discover --json`` on ``interfaces`` (default: its own choice) inside
    namespace ``index``, as a process or its code in a thread there; it collects answers for
    ``wait`` seconds (where none must come, the whole second)."""
    if not process:
        code, out, err = ns.call(index, _run_discover, list(interfaces), wait, "list", True)
        assert code in (0, 1), err
        return json.loads(out)
    args = [word for name in interfaces for word in ("--discover-interface", name)]
    result = ns.run(
        index, [*CIRCUSCTL, "--discover", "--json", "--timeout", str(wait), *args], cwd=REPO
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


PIPES = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "cwd": REPO}

#: How long a probe that should be answered collects answers: circusd answers within
#: milliseconds; a round that a loaded machine missed is simply probed again.
SHORT = 0.25


def _found(
    ns: netns.Namespaces, index: int, *interfaces: str, count: int = 1, process: bool = False
) -> list[dict]:
    """``_discover`` until ``count`` circusds answered (a loaded machine may miss a round)."""
    return support.wait_for(
        lambda: (
            (found := _discover(ns, index, *interfaces, wait=SHORT, process=process))
            and len(found) >= count
            and found
        ),
        timeout=30,
        message=f"{count} circusd(s) answer",
    )


def _group() -> tuple[str, str]:
    address, port = GROUP.removeprefix("udp://").split(":")
    return address, port


def test_circusctl_discover_finds_our_circusd_and_feeds_fleet_mode(tmp_path, capsys):
    """--discover runs as a process in the namespace, its other formats as its code there; the
    fleet commands fed with its output run circusctl's main here (their processes are covered
    by the fleet tests)."""
    netns.require()
    from circus.cli import circusctl

    with netns.Namespaces(1, multicast=True) as ns:
        daemon, _ = _circusd(ns, 0, tmp_path / "a", "")
        found = _found(ns, 0, "lo", process=True)
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
        lambda: ns.call(0, _run_discover, ["lo"], SHORT, form)[1],
        timeout=30,
        message=f"an answer in the {form} format",
    )


def test_loopback_as_linux_sets_it_up_is_enough(tmp_path):
    """A namespace as a stock host has it: lo up, its multicast flag off, no multicast route.
    circusctl's default interfaces include lo and find circusd; circusd does not warn."""
    netns.require()
    with netns.Namespaces(1) as ns:
        assert "MULTICAST" not in ns.run(0, ["ip", "link", "show", "lo"]).stdout
        daemon, _ = _circusd(ns, 0, tmp_path / "a", "")
        # no --discover-interface: every usable interface, as /sys there shows them
        found = _found(ns, 0, process=True)
        assert [(a["endpoint"], a["sender"]) for a in found] == [(daemon.endpoint, "127.0.0.1")]
        assert "multicast off" not in daemon.log()


def test_nothing_answers_without_multicast_endpoint(tmp_path):
    netns.require()
    with netns.Namespaces(1, multicast=True) as ns:
        daemon = support.Circusd(tmp_path / "a", "[watcher:w]\ncmd = sleep 600\nuse_papa = false\n")
        proc = ns.popen(
            0,
            [sys.executable, "-m", "circus.cli.circusd", daemon.config_path],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        support.wait_for(daemon._ready, timeout=40, message="circusd ready")
        code, out, err = ns.call(0, _run_discover, ["lo"], 1.0)
        assert code == 1 and out == ""
        assert "no circusd answered within 1 s (probed on lo)" in err
        assert proc.poll() is None


def test_mixed_fleet_with_a_real_circusd_019(tmp_path):
    """Ours finds 0.19, and 0.19's client (circus-web's AutoDiscovery) finds ours, both
    circusds sharing the group's port on one host."""
    netns.require()
    if not ORIGINAL.exists():
        pytest.skip(f"circus 0.19 is not installed at {ORIGINAL} (make compat-venvs)")
    with netns.Namespaces(1, multicast=True) as ns:
        # the original's client picks no interface: the route decides; here it is lo
        ns.run(0, ["ip", "route", "replace", "224.0.0.0/4", "dev", "lo"], check=True)
        original_dir = tmp_path / "original"
        original_dir.mkdir()
        (original_dir / "circus.ini").write_text(
            "[circus]\nendpoint = tcp://127.0.0.1:5555\npubsub_endpoint = tcp://127.0.0.1:5556\n"
            f"multicast_endpoint = {GROUP}\n[watcher:old]\ncmd = sleep 600\n"
        )
        original = ns.popen(
            0,
            [str(ORIGINAL), "circus.ini"],
            cwd=original_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        daemon, _ = _circusd(ns, 0, tmp_path / "ours", "")

        def both() -> list[dict]:
            found = _discover(ns, 0, "lo", wait=SHORT)
            return found if len(found) == 2 else []

        found = support.wait_for(both, timeout=30, message="both circusds answer")
        by_endpoint = {a["endpoint"]: a for a in found}
        assert by_endpoint["tcp://127.0.0.1:5555"]["curve"] is None  # 0.19 does not say
        assert by_endpoint[daemon.endpoint]["curve"] is False
        listed = support.wait_for(
            lambda: (
                len((out := ns.call(0, _run_discover, ["lo"], SHORT)[1]).splitlines()) == 2 and out
            ),
            timeout=30,
            message="both circusds listed",
        )
        assert "original circusd (CURVE not announced)" in listed
        address, port = _group()
        both = sorted([daemon.endpoint, "tcp://127.0.0.1:5555"])
        support.wait_for(  # the original's client: a short round, again if one was missed
            lambda: (
                json.loads(
                    ns.run(
                        0, [sys.executable, "-c", ORIGINAL_CLIENT, address, port, str(SHORT)]
                    ).stdout
                )
                == both
            ),
            timeout=30,
            message=f"the original's client finding {both}",
        )
        assert original.poll() is None


def test_tcp_endpoint_without_curve_is_never_announced_beyond_loopback(tmp_path):
    netns.require()
    with netns.Namespaces(2, multicast=True, linked=True) as ns:
        _circusd(ns, 0, tmp_path / "a", "", endpoint="tcp://127.0.0.1:5555")
        # (no answer may come: each probe collects for the whole second; the three at once)
        address, port = _group()
        # the original's client in circusd's host (its route is the veth)
        original = ns.popen(0, [sys.executable, "-c", ORIGINAL_CLIENT, address, port, "1"], **PIPES)
        probes = [
            ns.start(1, _run_discover, [ns[1].inner], 1.0, "list", True),  # the next host
            # circusd's own host, probing on its veth: arrives on the veth, not on lo
            ns.start(0, _run_discover, [ns[0].inner], 1.0, "list", True),
        ]
        for probe in probes:
            code, out, err = probe.result()
            assert code in (0, 1) and json.loads(out) == [], (out, err)
        out, err = original.communicate(timeout=60)
        assert original.returncode == 0 and json.loads(out) == [], (out, err)
        found = _found(ns, 0, "lo")
        assert [a["endpoint"] for a in found] == ["tcp://127.0.0.1:5555"]


def test_announcing_a_plain_endpoint_on_a_network_interface_is_refused(tmp_path):
    """No namespace needed: circusd refuses the configuration before binding anything."""
    daemon = support.Circusd(
        tmp_path,
        "[watcher:w]\ncmd = sleep 600\nuse_papa = false\n",
        f"multicast_endpoint = {GROUP}\nmulticast_interfaces = lo eth0\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "circus.cli.circusd", daemon.config_path],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "multicast_interfaces" in result.stderr and "CURVE" in result.stderr, result.stderr


def test_malformed_datagrams_are_ignored(tmp_path):
    netns.require()
    with netns.Namespaces(1, multicast=True) as ns:
        daemon, process = _circusd(ns, 0, tmp_path / "a", "")
        address, port = _group()
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


def test_a_flood_of_probes_is_answered_at_a_bounded_rate(tmp_path):
    netns.require()
    from circus.control.discovery import BURST, DATAGRAMS_PER_SECOND

    with netns.Namespaces(1, multicast=True) as ns:
        daemon, process = _circusd(ns, 0, tmp_path / "a", "")
        address, port = _group()
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
            lambda: _discover(ns, 0, "lo", wait=SHORT),
            timeout=10,
            message="answered again after the flood",
        )


def test_discovery_across_namespaces_over_veth_with_curve(tmp_path, curve_keys):
    """circusd in namespace 0 announces its CURVE endpoint on its veth; circusctl in namespace 1
    and here (on the bridge) find it, and the announced endpoint works with the keys."""
    netns.require()
    from circus.client import CircusClient

    with netns.Namespaces(2, multicast=True, linked=True) as ns:
        _circusd(
            ns,
            0,
            tmp_path / "a",
            f"{curve_keys['circus']}multicast_interfaces = lo {ns[0].inner}\n",
            endpoint="tcp://0.0.0.0:5555",
        )
        found = _found(ns, 1, ns[1].inner)
        assert [(a["endpoint"], a["curve"], a["sender"], a["curve_public_key"]) for a in found] == [
            (f"tcp://{ns[0].address}:5555", True, ns[0].address, curve_keys["key"])
        ]
        here = support.wait_for(lambda: _discover_here(ns.bridge), timeout=30, message="found")
        assert [a.endpoint for a in here] == [f"tcp://{ns[0].address}:5555"]
        with CircusClient(
            endpoint=here[0].endpoint,
            timeout=10,
            curve_secret_key=curve_keys["client_secret"],
            curve_server_key=curve_keys["server_public"],
        ) as client:
            assert client.send_message("status")["status"] == "ok"


def _discover_here(interface: str):
    """The Python helper, in this (root) namespace, probing on the test bridge only."""
    from circus.client import discover_sync

    return discover_sync(GROUP, wait=SHORT, interfaces=[interface])
