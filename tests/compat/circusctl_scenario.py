"""The circusctl compatibility scenario: a config, a sequence of circusctl calls, a normaliser.

Shared by ``record_circusctl_reference.py`` (runs the ORIGINAL circusd 0.19 and its circusctl,
writes ``reference/circusctl-0.19.json``) and ``test_circusctl_compat.py`` (runs our circusd and
both circusctls and compares with the recording). Imported as ``circusctl_scenario``.

The normaliser removes what legitimately varies between runs: pids, times, request ids, the
temporary directory, the socket port and fd, process statistics (memory, cpu) and versions.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import support

REPO = Path(__file__).resolve().parents[2]
ORIGINAL_VENV = REPO / ".venv-circus019" / "bin"
OUR_VENV = REPO / ".venv" / "bin"
REFERENCE = Path(__file__).resolve().parent / "reference" / "circusctl-0.19.json"

CONFIG = """\
[circus]
endpoint = ipc://{tmp}/ctl.sock
pubsub_endpoint = ipc://{tmp}/pub.sock
multicast_endpoint =
check_delay = 1
{circus_extra}

[watcher:sleeper]
cmd = sleep 1000
numprocesses = 2
graceful_timeout = 3
{watcher_extra}

[watcher:Other]
cmd = sleep 1001
autostart = false
graceful_timeout = 3
{watcher_extra}

[socket:web]
host = 127.0.0.1
port = {port}
{socket_extra}
"""

# (step id, circusctl arguments). Run in this order against one daemon.
STEPS: list[tuple[str, list[str]]] = [
    ("status", ["status"]),
    ("status-one", ["status", "sleeper"]),
    ("status-unknown", ["status", "nope"]),
    ("list", ["list"]),
    ("list-pids", ["list", "sleeper"]),
    ("numwatchers", ["numwatchers"]),
    ("numprocesses", ["numprocesses"]),
    ("numprocesses-one", ["numprocesses", "sleeper"]),
    ("listsockets", ["listsockets"]),
    ("globaloptions-endpoint", ["globaloptions", "endpoint"]),
    ("globaloptions-pubsub", ["globaloptions", "pubsub_endpoint"]),
    ("globaloptions-unknown", ["globaloptions", "nope"]),
    ("get", ["get", "sleeper", "numprocesses"]),
    ("get-unknown", ["get", "sleeper", "nope"]),
    ("incr-waiting", ["incr", "sleeper", "--waiting"]),
    ("decr-waiting", ["decr", "sleeper", "--waiting"]),
    ("incr", ["incr", "sleeper"]),
    ("decr-2-waiting", ["decr", "sleeper", "1", "--waiting"]),
    ("stats-one", ["stats", "sleeper"]),
    ("dstats", ["dstats"]),
    ("json-status", ["--json", "status", "sleeper"]),
    ("json-error", ["--json", "status", "nope"]),
    ("add", ["add", "w2", "sleep", "50"]),
    ("add-status", ["status", "w2"]),
    ("add-again", ["add", "w2", "sleep", "50"]),
    ("start-one", ["start", "w2", "--waiting"]),
    ("start-one-status", ["status", "w2"]),
    ("set", ["set", "w2", "numprocesses", "2"]),
    ("get-after-set", ["get", "w2", "numprocesses"]),
    ("stop-one", ["stop", "w2", "--waiting"]),
    ("stop-one-status", ["status", "w2"]),
    ("rm", ["rm", "w2"]),
    ("rm-list", ["list"]),
    ("start-unknown", ["start", "nope"]),
    ("match-bad", ["restart", "--match=foo", "sl"]),
    ("signal-bad", ["signal", "sleeper", "FOO"]),
    ("stop-all", ["stop", "--waiting"]),
    ("stop-all-status", ["status"]),
    ("start-regex", ["start", "--match=regex", "sl.*", "--waiting"]),
    ("start-regex-status", ["status"]),
    ("usage-unknown-command", ["frobnicate"]),
    ("usage-arguments", ["get", "sleeper"]),
    ("help-add", ["--help", "add"]),
    ("version", ["--version"]),
    ("quit", ["quit"]),
]

# What is compared for steps whose full text is not comparable (only the exit code and the
# first line of stdout, as the original's usage/help texts are not ours).
FIRST_LINE_ONLY = {"help-add"}
EXIT_CODE_ONLY: set[str] = set()  # every usage text is compared in full


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def as_list(self) -> list:
        return [self.code, self.stdout, self.stderr]


def normalise(text: str, tmp: str, port: int) -> str:
    text = text.replace(tmp, "<TMP>").replace(str(port), "<PORT>")
    text = re.sub(r"circusctl \d+\.\d+\.\d+", "circusctl <VERSION>", text)
    # process info lines of stats/dstats: "PID  cmdline user nice rss vms cpu mem ctime"
    text = re.sub(r"(?m)^(\s*)(?:\d+: )?\d+  \S+ \S+ \S+ \S+ \S+ \S+ \S+ \S+$", r"\1<INFO>", text)
    text = re.sub(r"(?m)^\d+:$", "<PID>:", text)
    text = re.sub(
        r"(?m)^\d+(,\d+)*$",
        lambda m: (
            ",".join("<PID>" for _ in m.group(0).split(",")) if len(m.group(0)) > 3 else m.group(0)
        ),
        text,
    )
    text = re.sub(r"(?m)^\d+:socket ", "<FD>:socket ", text)
    text = re.sub(r"\{.*\}", _normalise_json, text)
    return text


def _normalise_json(match: re.Match) -> str:
    try:
        data = json.loads(match.group(0))
    except ValueError:
        return match.group(0)
    for key in ("time", "id", "tb"):
        if key in data:
            data[key] = f"<{key.upper()}>"
    return json.dumps(data, sort_keys=True)


#: A circusctl: its argv (a path or a list), or anything with ``run(args, timeout)`` returning
#: a ``subprocess.CompletedProcess`` (the tests' warm ``cli_forker.ForkingCli``).
Circusctl = str | list[str] | Any


def run_circusctl(
    circusctl: Circusctl, endpoint: str, args: list[str], tmp: str, port: int
) -> Outcome:
    if args[0] not in ("--help", "--version"):
        args = ["--endpoint", endpoint, "--timeout", "20", *args]
    if hasattr(circusctl, "run"):
        result = circusctl.run(args, timeout=60)
    else:
        argv = [circusctl] if isinstance(circusctl, str) else list(circusctl)
        result = subprocess.run(argv + args, capture_output=True, text=True, timeout=60, cwd=REPO)
    outcome = Outcome(
        result.returncode, normalise(result.stdout, tmp, port), normalise(result.stderr, tmp, port)
    )
    return outcome


def write_config(tmp: Path, port: int, ours: bool) -> Path:
    extra = "use_papa = false" if ours else ""
    text = CONFIG.format(
        tmp=tmp, port=port, circus_extra="", watcher_extra=extra, socket_extra=extra
    )
    path = tmp / "circus.ini"
    path.write_text(text)
    return path


@contextlib.contextmanager
def daemon(
    circusd: list[str], config: Path, endpoint: str, env: dict | None = None
) -> Iterator[subprocess.Popen]:
    """Run a circusd until the block ends (quit, else SIGTERM, else SIGKILL of its group)."""
    log = open(config.parent / "circusd.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*circusd, str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=config.parent,
        env=env,
    )
    try:
        _wait_ready(proc, endpoint, config.parent / "circusd.log")
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
            else:  # quit: the daemon is gone, its children (use_papa=false) must be too
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _wait_ready(proc: subprocess.Popen, endpoint: str, log: Path, timeout: float = 30) -> None:
    path = endpoint[len("ipc://") :]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"circusd exited with {proc.returncode}:\n{log.read_text()}")
        if os.path.exists(path) and _answers(endpoint):
            return
        time.sleep(0.1)
    raise RuntimeError(f"circusd did not answer on {endpoint}:\n{log.read_text()}")


def ask(endpoint: str, command: str, **props: Any) -> dict:
    """The daemon's reply to ``command`` ({} if none within a second), asked in-process with
    the wire protocol both daemons speak: a circusctl run per poll (a fork, or a Python
    start-up) cost more than the rest of the wait."""
    import zmq

    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    try:
        sock.connect(endpoint)
        sock.send(json.dumps({"id": "r", "command": command, "properties": props}).encode())
        return json.loads(sock.recv()) if sock.poll(1000) else {}
    finally:
        sock.close()


def _answers(endpoint: str) -> bool:
    """True once the daemon replies to ``status`` with ``sleeper`` active."""
    statuses = ask(endpoint, "status").get("statuses") or {}
    return bool(statuses) and all(v == "active" for k, v in statuses.items() if k == "sleeper")


def wait_for_pids(endpoint: str, count: int = 2) -> None:
    """Wait until ``sleeper`` runs ``count`` processes (the daemon is then settled)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(ask(endpoint, "list", name="sleeper").get("pids") or ()) == count:
            return
        time.sleep(0.02)
    raise RuntimeError("sleeper never reached its process count")


def run_scenario(circusctl: Circusctl, endpoint: str, tmp: str, port: int) -> dict[str, list]:
    """Every step in order; before a step that depends on settled counts, wait for them."""
    results: dict[str, list] = {}
    for step, args in STEPS:
        if step in (
            "list-pids",
            "numprocesses",
            "numprocesses-one",
            "incr-waiting",
            "stats-one",
            "start-regex-status",
        ):
            wait_for_pids(endpoint)
        results[step] = run_circusctl(circusctl, endpoint, args, tmp, port).as_list()
    return results


def stop_kernel(runtime_dir: Path) -> None:
    """End the papa-kernel our circusd started in ``runtime_dir`` (``add`` creates a watcher with
    the default ``use_papa = true``): ask it to exit when idle, else kill it by its pid file."""
    import socket

    sock_path = runtime_dir / "papa.sock"
    pid_path = runtime_dir / "papa.sock.pid"
    if not pid_path.exists():
        return
    pid = int(pid_path.read_text().strip() or 0)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return
    if str(sock_path) not in cmdline:  # not the kernel of this run: leave it alone
        return
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(5)
        conn.connect(str(sock_path))
        conn.sendall(b"exit-if-idle\n")
        # its answer, not only the banner: closing before the kernel read the command could
        # leave it running (and this wait its whole 5 s)
        answer = b""
        with contextlib.suppress(OSError):
            while not any(word in answer for word in (b"Exiting", b"not idle")):
                data = conn.recv(4096)
                if not data:
                    break
                answer += data
    # the kernel, orphaned, is reparented to pid 1, which may reap it late (this machine's
    # reaps every 2 s): its exit is what counts, not the zombie's /proc entry
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and support.pid_alive(pid):
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
