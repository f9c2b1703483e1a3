"""Multicast discovery for real, in network namespaces (tests/netns.py), each test with
namespaces and a circusd of its own: circusctl's default interfaces on a stock loopback; no
answer without a multicast endpoint; a real circusd 0.19 and the original's client (circus-web
1.0.0's AutoDiscovery, replayed) interoperate with ours; a TCP endpoint without CURVE is never
announced beyond loopback; discovery across two namespaces over their veth links. Every
datagram stays inside the namespaces. (The tests that can share one circusd on lo are in
test_discovery_shared.py; tests/discovery_probes.py has the helpers.)

``circusctl --discover`` runs as a process where the test is about it (its default
interfaces); elsewhere its code (``circus.cli.discover.run_discover``) runs in a thread of this
process inside the namespace (``Namespaces.call``: no Python start-up, ~0.13 s of CPU a probe
round)."""

from __future__ import annotations

import json
import subprocess
import sys

import netns
import pytest
import support
from discovery_probes import (
    GROUP,
    REPO,
    SHORT,
    discover,
    discover_code,
    group,
    start_circusd,
    until_found,
)

pytestmark = pytest.mark.timeout(180)

ORIGINAL = REPO / ".venv-circus019" / "bin" / "circusd"

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


PIPES = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "cwd": REPO}


def test_circusctl_discover_waits_without_asyncio():
    """circusctl --discover's probe waits for answers with select: it imports no asyncio (~18 ms
    of CPU at each start), nor dataclasses. Its main in a fresh interpreter, probing this
    host's lo for a group and port of the test's own (TTL 1 on lo: nothing leaves the host),
    one answerer there."""
    port = support.free_port()
    loaded = support.imported_by(f"""
        import contextlib, io, json, socket, threading
        from circus.util.netif import mreqn
        group, port = "239.255.77.1", {port}
        answerer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        answerer.bind((group, port))
        lo = mreqn(group, socket.if_nametoindex("lo"), "127.0.0.1")
        answerer.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, lo)
        def answer():
            data, sender = answerer.recvfrom(100)
            assert data == b'""', data
            answerer.sendto(b'{{"endpoint": "ipc:///x.sock", "curve": false}}', sender)
        threading.Thread(target=answer, daemon=True).start()
        from circus.cli.circusctl import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["--discover", "--json", "--multicast", f"udp://{{group}}:{{port}}",
                         "--discover-interface", "lo", "--timeout", "0.3"])
        assert code == 0, code
        found = json.loads(out.getvalue())
        assert [(a["endpoint"], a["sender"]) for a in found] == [("ipc:///x.sock", "127.0.0.1")]
    """)
    assert "circus.wire.discovery" in loaded
    assert "asyncio" not in loaded
    assert "dataclasses" not in loaded  # (with inspect: ~5 ms; Announcement is a plain class)


def test_loopback_as_linux_sets_it_up_is_enough(tmp_path):
    """A namespace as a stock host has it: lo up, its multicast flag off, no multicast route.
    circusctl's default interfaces include lo and find circusd; circusd does not warn."""
    netns.require()
    with netns.Namespaces(1) as ns:
        assert "MULTICAST" not in ns.run(0, ["ip", "link", "show", "lo"]).stdout
        daemon, _ = start_circusd(ns, 0, tmp_path / "a", "")
        # no --discover-interface: every usable interface, as /sys there shows them
        found = until_found(ns, 0, process=True)
        assert [(a["endpoint"], a["sender"]) for a in found] == [(daemon.endpoint, "127.0.0.1")]
        assert "multicast off" not in daemon.log()


def test_nothing_answers_without_multicast_endpoint(tmp_path):
    netns.require()
    with netns.Namespaces(1, multicast=True) as ns:
        daemon = support.Circusd(tmp_path / "a", "[watcher:w]\ncmd = sleep 600\nuse_papa = false\n")
        proc = ns.popen(
            0,
            [*support.CIRCUSD, daemon.config_path],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        support.wait_for(daemon._ready, timeout=40, message="circusd ready")
        code, out, err = ns.call(0, discover_code, ["lo"], 1.0)
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
        daemon, _ = start_circusd(ns, 0, tmp_path / "ours", "")

        def both() -> list[dict]:
            found = discover(ns, 0, "lo", wait=SHORT)
            return found if len(found) == 2 else []

        found = support.wait_for(both, timeout=30, message="both circusds answer")
        by_endpoint = {a["endpoint"]: a for a in found}
        assert by_endpoint["tcp://127.0.0.1:5555"]["curve"] is None  # 0.19 does not say
        assert by_endpoint[daemon.endpoint]["curve"] is False
        listed = support.wait_for(
            lambda: (
                len((out := ns.call(0, discover_code, ["lo"], SHORT)[1]).splitlines()) == 2 and out
            ),
            timeout=30,
            message="both circusds listed",
        )
        assert "original circusd (CURVE not announced)" in listed
        address, port = group()
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
        start_circusd(ns, 0, tmp_path / "a", "", endpoint="tcp://127.0.0.1:5555")
        # (no answer may come: each probe collects for the whole second; the three at once)
        address, port = group()
        # the original's client in circusd's host (its route is the veth)
        original = ns.popen(0, [sys.executable, "-c", ORIGINAL_CLIENT, address, port, "1"], **PIPES)
        probes = [
            ns.start(1, discover_code, [ns[1].inner], 1.0, "list", True),  # the next host
            # circusd's own host, probing on its veth: arrives on the veth, not on lo
            ns.start(0, discover_code, [ns[0].inner], 1.0, "list", True),
        ]
        for probe in probes:
            code, out, err = probe.result()
            assert code in (0, 1) and json.loads(out) == [], (out, err)
        out, err = original.communicate(timeout=60)
        assert original.returncode == 0 and json.loads(out) == [], (out, err)
        found = until_found(ns, 0, "lo")
        assert [a["endpoint"] for a in found] == ["tcp://127.0.0.1:5555"]


def test_announcing_a_plain_endpoint_on_a_network_interface_is_refused(tmp_path):
    """No namespace needed: circusd refuses the configuration before binding anything."""
    daemon = support.Circusd(
        tmp_path,
        "[watcher:w]\ncmd = sleep 600\nuse_papa = false\n",
        f"multicast_endpoint = {GROUP}\nmulticast_interfaces = lo eth0\n",
    )
    result = subprocess.run(
        [*support.CIRCUSD, daemon.config_path],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "multicast_interfaces" in result.stderr and "CURVE" in result.stderr, result.stderr


def test_discovery_across_namespaces_over_veth_with_curve(tmp_path, curve_keys):
    """circusd in namespace 0 announces its CURVE endpoint on its veth; circusctl in namespace 1
    and here (on the bridge) find it, and the announced endpoint works with the keys."""
    netns.require()
    from circus.client import CircusClient

    with netns.Namespaces(2, multicast=True, linked=True) as ns:
        start_circusd(
            ns,
            0,
            tmp_path / "a",
            f"{curve_keys['circus']}multicast_interfaces = lo {ns[0].inner}\n",
            endpoint="tcp://0.0.0.0:5555",
        )
        found = until_found(ns, 1, ns[1].inner)
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
