"""What the discovery tests (tests/integration/discovery) share: our circusd inside a network
namespace (tests/netns.py), and ``circusctl --discover`` inside one, as a process or as its
code in a thread there (``Namespaces.call``: no Python start-up, ~0.13 s of CPU a probe
round)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import netns
import psutil
import support

REPO = Path(__file__).resolve().parents[1]
GROUP = "udp://237.219.251.97:12027"  # the original's default
CIRCUSCTL = [sys.executable, "-m", "circus.cli.circusctl"]

#: How long a probe that should be answered collects answers: circusd answers within
#: milliseconds; a round that a loaded machine missed is simply probed again.
SHORT = 0.25


def start_circusd(
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
        [*support.CIRCUSD, daemon.config_path, "--log-level", "debug"],
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


def discover_code(
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


def discover(
    ns: netns.Namespaces, index: int, *interfaces: str, wait: float = 1.0, process: bool = False
) -> list[dict]:
    """``circusctl --discover --json`` on ``interfaces`` (default: its own choice) inside
    namespace ``index``, as a process or its code in a thread there; it collects answers for
    ``wait`` seconds (where none must come, the whole second)."""
    if not process:
        code, out, err = ns.call(index, discover_code, list(interfaces), wait, "list", True)
        assert code in (0, 1), err
        return json.loads(out)
    args = [word for name in interfaces for word in ("--discover-interface", name)]
    result = ns.run(
        index, [*CIRCUSCTL, "--discover", "--json", "--timeout", str(wait), *args], cwd=REPO
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def until_found(
    ns: netns.Namespaces, index: int, *interfaces: str, count: int = 1, process: bool = False
) -> list[dict]:
    """``discover`` until ``count`` circusds answered (a loaded machine may miss a round)."""
    return support.wait_for(
        lambda: (
            (answered := discover(ns, index, *interfaces, wait=SHORT, process=process))
            and len(answered) >= count
            and answered
        ),
        timeout=30,
        message=f"{count} circusd(s) answer",
    )


def group() -> tuple[str, str]:
    """The group's address and port (as strings, for command lines)."""
    address, port = GROUP.removeprefix("udp://").split(":")
    return address, port
