"""The CPU of a circushttpd start, A/B between source trees:

    .venv/bin/python bench/httpd_start.py --rounds 20 [--tls] [TREE ...]

One circusd (this checkout's) runs for the whole bench. Each round starts one circushttpd per
TREE (``PYTHONPATH=TREE``; this checkout when none is given), in alternating order, on the
same circusd: launch, wait until ``GET /api/session`` answers (polled every 10 ms), then
SIGTERM, and read its CPU (user + sys) with ``wait4`` when it exits. With ``--tls`` it serves
https with a fresh self-signed EC key. Prints min and median per tree: the machine is shared,
so compare trees measured in the same run only. Byte-compile each tree first
(``python -m compileall -q circus papa_kernel``), as the test suite does.
"""

from __future__ import annotations

import argparse
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import support  # noqa: E402


def start_cpu(tree: str, endpoint: str, work: str, tls: tuple[str, str] | None) -> float:
    """The CPU (ms) of one circushttpd from ``tree``: start, one request, SIGTERM, exit."""
    port = support.free_port()
    argv = [sys.executable, "-m", "circus.cli.circushttpd", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--endpoint", endpoint, "--token-file", f"{work}/token"]
    context = None
    if tls is not None:
        argv += ["--certfile", tls[0], "--keyfile", tls[1]]
        context = ssl.create_default_context(cafile=tls[0])
        context.check_hostname = False
    env = dict(os.environ, PYTHONPATH=tree)
    proc = subprocess.Popen(  # not in a tree: "-m" puts the working directory first on sys.path
        argv, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/api/session"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as reply:
                return reply.status == 200
        except OSError:
            return False

    try:
        support.wait_for(answers, timeout=30, message="circushttpd answering")
    finally:
        proc.terminate()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return (usage.ru_utime + usage.ru_stime) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", default=[str(REPO)], help="source trees to compare")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--tls", action="store_true", help="serve https (--certfile)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="httpd-start-")
    os.environ["XDG_RUNTIME_DIR"] = work
    tls = None
    if args.tls:
        tls = (f"{work}/cert.pem", f"{work}/key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", tls[1], "-out", tls[0]],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    results: dict[str, list[float]] = {tree: [] for tree in args.trees}
    with support.subreaper():
        daemon = support.Circusd(Path(work) / "circusd", "[watcher:s]\ncmd = sleep 1000\n", "")
        try:
            daemon.start()
            for round_ in range(args.rounds):
                order = args.trees if round_ % 2 == 0 else args.trees[::-1]
                for tree in order:
                    results[tree].append(start_cpu(tree, daemon.endpoint, work, tls))
        finally:
            daemon.cleanup()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"circushttpd start CPU ({args.rounds} rounds{', TLS' if tls else ''}; load {load}):")
    for tree, values in results.items():
        print(f"  {tree}: min {min(values):.0f} ms, median {statistics.median(values):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
