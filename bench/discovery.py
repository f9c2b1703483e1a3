"""How long multicast discovery takes to find N circusds, ours against the original 0.19.

    .venv/bin/python bench/discovery.py                   # N = 1, 4, 8; 5 probes each (root)
    .venv/bin/python bench/discovery.py --sizes 1,2 --runs 3

Needs root (network namespaces, tests/netns.py); every datagram stays in them.

- "one host": N of our circusds and N circusds 0.19 in one namespace, all on the group's port;
  ``circusctl --discover --json`` probes on lo inside it. Per run: the time from the first
  probe to the last of the 2N answers (each answer carries it: ``seconds``).
- "N hosts": one of our circusds per namespace, each announcing its CURVE endpoint on its veth;
  :func:`circus.client.discover` probes here, on the test bridge. Same figure.

Medians over the runs. A discovery call itself always lasts its wait (``--timeout``): nobody
knows how many circusds will answer; the figures say how much of the wait is needed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import netns  # noqa: E402
import support  # noqa: E402

GROUP = "udp://237.219.251.97:12027"
ORIGINAL = REPO / ".venv-circus019" / "bin" / "circusd"
WATCHER = "[watcher:sleeper]\ncmd = sleep 600\nuse_papa = false\n"


def start_ours(ns, index: int, workdir: Path, extra: str = "", endpoint: str | None = None):
    daemon = support.Circusd(workdir)
    if endpoint:
        daemon.endpoint = endpoint
    daemon.write_config(WATCHER, f"multicast_endpoint = {GROUP}\n{extra}")
    with open(daemon.log_path, "ab") as log:
        ns.popen(
            index,
            [sys.executable, "-m", "circus.cli.circusd", daemon.config_path],
            cwd=daemon.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return daemon


def start_original(ns, index: int, workdir: Path, port: int) -> None:
    workdir.mkdir(parents=True)
    (workdir / "circus.ini").write_text(
        f"[circus]\nendpoint = tcp://127.0.0.1:{port}\npubsub_endpoint = tcp://127.0.0.1:"
        f"{port + 1}\nstats_endpoint = tcp://127.0.0.1:{port + 2}\n"
        f"multicast_endpoint = {GROUP}\n[watcher:old]\ncmd = sleep 600\n"
    )
    ns.popen(
        index,
        [str(ORIGINAL), "circus.ini"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def probe_in(ns, index: int, wait: float) -> list[dict]:
    argv = [
        sys.executable,
        "-m",
        "circus.cli.circusctl",
        "--discover",
        "--json",
        "--discover-interface",
        "lo",
        "--timeout",
        str(wait),
    ]
    return json.loads(ns.run(index, argv, cwd=REPO).stdout or "[]")


def one_host(count: int, runs: int, tmp: Path) -> tuple[float, float]:
    with netns.Namespaces(1, multicast=True) as ns:
        for i in range(count):
            start_ours(ns, 0, tmp / f"ours{i}")
            start_original(ns, 0, tmp / f"orig{i}", 6000 + 10 * i)
        support.wait_for(
            lambda: len(probe_in(ns, 0, 0.5)) == 2 * count,
            timeout=120,
            message="every circusd answers",
        )
        ours, original = [], []
        for _ in range(runs):
            found = probe_in(ns, 0, 1.0)
            ours.append(max(a["seconds"] for a in found if a["curve"] is not None))
            original.append(max(a["seconds"] for a in found if a["curve"] is None))
        return statistics.median(ours), statistics.median(original)


def many_hosts(count: int, runs: int, tmp: Path) -> float:
    import zmq.auth

    from circus.client import discover_sync

    keys = tmp / "keys"
    keys.mkdir(parents=True)
    authorized = tmp / "authorized"
    authorized.mkdir()
    _, secret = zmq.auth.create_certificates(str(keys), "server")
    curve = f"curve_secret_key = {secret}\ncurve_public_keys = {authorized}\n"
    with netns.Namespaces(count, multicast=True) as ns:
        for i in range(count):
            start_ours(
                ns,
                i,
                tmp / f"host{i}",
                f"{curve}multicast_interfaces = {ns[i].inner}\n",
                endpoint="tcp://0.0.0.0:5555",
            )
        support.wait_for(
            lambda: len(discover_sync(GROUP, 0.5, [ns.bridge])) == count,
            timeout=120,
            message="every circusd answers",
        )
        last = [max(a.seconds for a in discover_sync(GROUP, 1.0, [ns.bridge])) for _ in range(runs)]
        return statistics.median(last)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,8")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    reason = netns.unavailable()
    if reason:
        print(f"skipped: {reason}")
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    print("N   one host: ours / 0.19 (last answer, ms)   N hosts over veth: ours (ms)")
    for count in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            ours, original = one_host(count, args.runs, Path(tmp) / "a")
            spread = many_hosts(count, args.runs, Path(tmp) / "b")
        print(
            f"{count:<3} {ours * 1000:8.1f} / {original * 1000:6.1f}{'':27}{spread * 1000:8.1f}",
            flush=True,
        )
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
