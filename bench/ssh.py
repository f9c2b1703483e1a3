"""What an ssh tunnel (``--ssh``) costs: the login, one more forward, a call through it, and a
``circusctl status`` process with and without ``--ssh``.

    .venv/bin/python bench/ssh.py                  # 10 logins, 200 calls, 8 processes (root)
    .venv/bin/python bench/ssh.py --logins 5 --calls 100 --processes 4

Needs root and OpenSSH's sshd: the server is tests/sshd.py's (Debian's sshd on a loopback port
in a private mount namespace, throwaway keys); the client never reads ~/.ssh. Medians; calls and
processes interleave the two cases so that the machine's load weighs on both alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import sshd  # noqa: E402
import support  # noqa: E402

from circus.client import CircusClient  # noqa: E402
from circus.wire.ssh import SshTunnel  # noqa: E402


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=10)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--processes", type=int, default=8)
    args = parser.parse_args()
    why = sshd.unavailable()
    if why:
        print(f"skipped: {why}")
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-ssh-"))
    (work / "run").mkdir(mode=0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(work / "run")
    server = sshd.Sshd(work / "sshd")
    server.start()
    os.environ.update(server.client_env())
    daemon = support.Circusd(work / "circusd", "[watcher:app]\ncmd = sleep 1000\n")
    key = str(server.client_key)
    try:
        daemon.start()
        logins, forwards = [], []
        for _ in range(args.logins):
            tunnel = SshTunnel(server.server, key, 10)
            tunnel.open()
            logins.append(tunnel.started_in)
            started = time.perf_counter()
            tunnel.forward(daemon.endpoint)
            forwards.append(time.perf_counter() - started)
            tunnel.close()
        print(f"login (ssh master ready): {ms(logins)} (min {min(logins) * 1e3:.0f}, max "
              f"{max(logins) * 1e3:.0f} ms); one forward: {ms(forwards)}")  # fmt: skip
        direct_calls, ssh_calls = [], []
        with (
            CircusClient(endpoint=daemon.endpoint) as direct,
            CircusClient(
                endpoint=daemon.endpoint, ssh_server=server.server, ssh_keyfile=key
            ) as via,
        ):
            for client, times in ((direct, direct_calls), (via, ssh_calls)) * args.calls:
                started = time.perf_counter()
                client.send_message("status")
                times.append(time.perf_counter() - started)
        print(f"status call on an open client: direct {ms(direct_calls)}, through ssh "
              f"{ms(ssh_calls)}")  # fmt: skip
        base = [sys.executable, "-m", "circus.cli.circusctl", "--endpoint", daemon.endpoint]
        through = [*base, "--ssh", server.server, "--ssh_keyfile", key]
        direct_runs, ssh_runs = [], []
        for argv, times in ((base, direct_runs), (through, ssh_runs)) * args.processes:
            started = time.perf_counter()
            subprocess.run([*argv, "status"], check=True, capture_output=True, timeout=60)
            times.append(time.perf_counter() - started)
        print(f"circusctl status process: direct {ms(direct_runs)}, --ssh {ms(ssh_runs)}")
        print(f"load average: {os.getloadavg()[0]:.1f}")
    finally:
        daemon.cleanup()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
