"""Our circusd (on papa-kernel) and the original circus 0.19.0, both driven over ZeroMQ.

Both speak the same JSON control protocol, so one client (ours, ``circus.client``) drives both;
the original runs from its own venv as a subprocess and is never imported here.
"""

from __future__ import annotations

import json
import resource
import time
import uuid
from pathlib import Path

import zmq

from harness import procfs
from harness.base import SLEEP_SECONDS, WATCHER, BenchError, Installs, SpawnWaiter, System

FDS_PER_CAPTURED_WORKER = 3  # papa-kernel: stdout pipe, stderr pipe, pidfd
FD_MARGIN = 256  # the kernel's own sockets, logs, connections


def nofile_limit() -> int:
    """The soft RLIMIT_NOFILE the daemons inherit (raised by procfs.raise_nofile_limit)."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class CircusSystem(System):
    """What our circusd and the original share: ipc endpoints, the client, spawn events."""

    check_delay: float | None = None

    def __init__(self, installs: Installs, workdir: Path, count: int) -> None:
        super().__init__(installs, workdir, count)
        self.config_path = workdir / "circus.ini"
        self.endpoint = f"ipc://{workdir}/ctl.sock"
        self.pubsub = f"ipc://{workdir}/pub.sock"
        self._client = None

    def circus_section(self) -> str:
        lines = ["[circus]", f"endpoint = {self.endpoint}", f"pubsub_endpoint = {self.pubsub}"]
        if self.check_delay is not None:
            lines.append(f"check_delay = {self.check_delay}")
        return "\n".join(lines) + "\n"

    def write_config(self) -> None:
        self.config_path.write_text(
            self.circus_section()
            + f"\n[watcher:{WATCHER}]\n"
            + f"cmd = {self.installs.sleep}\nargs = {SLEEP_SECONDS}\n"
            + f"numprocesses = {self.count}\n"
            + self.watcher_options()
        )

    def watcher_options(self) -> str:
        """Extra lines of the watcher section."""
        return ""

    @property
    def client(self):
        if self._client is None:
            from circus.client import CircusClient

            self._client = CircusClient(endpoint=self.endpoint, timeout=30)
        return self._client

    def call(self, command: str, timeout: float = 30.0, **props) -> dict:
        reply = self.client.call({"command": command, "properties": props}, timeout=timeout)
        if reply.get("status") != "ok":
            raise BenchError(f"{self.label}: {command} failed: {reply}")
        return reply

    def ping(self) -> None:
        self.call("numwatchers")

    def listed_pids(self) -> set[int]:
        return {int(pid) for pid in self.call("list", name=WATCHER)["pids"]}

    def spawn_waiter(self) -> SpawnWaiter:
        return EventSpawnWaiter(self.pubsub, WATCHER)

    def wait_listed(self, count: int, deadline: float, interval: float = 0.002) -> set[int]:
        """Like the base, on a socket that reconnects every 2 ms (a request sent before the
        daemon binds is queued and delivered the moment it does), so a restarted daemon is
        seen as soon as it answers."""
        probe = zmq.Context.instance().socket(zmq.DEALER)
        probe.linger = 0
        probe.setsockopt(zmq.RECONNECT_IVL, 2)
        probe.connect(self.endpoint)
        pids: set[int] = set()
        try:
            while time.perf_counter() < deadline:
                request_id = uuid.uuid4().hex
                probe.send(json.dumps({"id": request_id, "command": "list",
                                       "properties": {"name": WATCHER}}).encode())  # fmt: skip
                reply = self._probe_reply(probe, request_id, min(deadline, time.perf_counter() + 5))
                if reply is not None and reply.get("status") == "ok":
                    pids = {int(pid) for pid in reply.get("pids", [])}
                    if len(pids) >= count:
                        return pids
                self.check_alive()
                time.sleep(interval)
        finally:
            probe.close(linger=0)
        return pids

    @staticmethod
    def _probe_reply(probe: zmq.Socket, request_id: str, deadline: float) -> dict | None:
        while (remaining := deadline - time.perf_counter()) > 0:
            if not probe.poll(max(1, int(remaining * 1000))):
                continue
            try:
                reply = json.loads(probe.recv())
            except ValueError:
                continue
            if isinstance(reply, dict) and reply.get("id") == request_id:
                return reply
        return None

    def stop_daemon(self) -> None:
        self.call("quit")

    def close_clients(self) -> None:
        if self._client is not None:
            self._client.stop()
            self._client = None


class Ours(CircusSystem):
    key = "ours"
    label = "ours (circusd + papa-kernel)"
    can_reattach = True
    daemon_names = ("circusd", "papa-kernel")

    def __init__(self, installs: Installs, workdir: Path, count: int) -> None:
        super().__init__(installs, workdir, count)
        self.papa_socket = workdir / "papa.sock"
        self.max_processes = max(count, 1024)  # room for what a run scales to

    def circus_section(self) -> str:
        # max_processes: a --sizes above the default process limit (1024) is measured too
        return (
            super().circus_section()
            + f"papa_endpoint = {self.papa_socket}\n"
            + f"max_processes = {self.max_count()}\n"
        )

    def watcher_options(self) -> str:
        """The workers' stdout/stderr go to /dev/null when papa-kernel could not hold their
        pipes: it needs three fds per worker (two pipes and a pidfd), one without them, and
        the hard RLIMIT_NOFILE of a container may be below 30,000 (``sleep`` writes nothing)."""
        if FDS_PER_CAPTURED_WORKER * self.max_count() + FD_MARGIN <= nofile_limit():
            return ""
        return "close_child_stdout = true\nclose_child_stderr = true\n"

    def max_count(self) -> int:
        return max(self.count, self.max_processes)

    def argv(self) -> list[str]:
        if self.installs.ours_source is not None:  # python -m, so PYTHONPATH decides
            command = [str(self.installs.ours_bin / "python"), "-m", "circus.cli.circusd"]
        else:
            command = [str(self.installs.ours_bin / "circusd")]
        return [*command, str(self.config_path), "--log-output", str(self.workdir / "circusd.log")]

    def environment(self) -> dict[str, str]:
        env = super().environment()
        if self.installs.ours_source is not None:  # circusd and the kernel it starts
            env["PYTHONPATH"] = str(self.installs.ours_source)
        return env

    def kernel_pid(self) -> int | None:
        try:
            pid = int((self.workdir / "papa.sock.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if procfs.alive(pid) else None

    def worker_parents(self) -> list[int]:
        kernel = self.kernel_pid()
        return [kernel] if kernel else []

    def daemon_pids(self) -> list[int]:
        assert self.proc is not None
        return [self.proc.pid, *self.worker_parents()]

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "circusd.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) + "\n" + super().log_tail(lines)


class Circus019(CircusSystem):
    key = "circus019"
    label = "circus 0.19.0"
    check_delay = 0.1  # the original respawns only every check_delay (default 1 s)

    def argv(self) -> list[str]:
        return [str(self.installs.circus019_bin / "circusd"), str(self.config_path),
                "--log-output", str(self.workdir / "circusd.log")]  # fmt: skip

    def worker_parents(self) -> list[int]:
        return [self.proc.pid] if self.proc is not None else []

    def daemon_pids(self) -> list[int]:
        return self.worker_parents()

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "circusd.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) + "\n" + super().log_tail(lines)


class EventSpawnWaiter(SpawnWaiter):
    """Listens to ``watcher.<name>.spawn`` on the daemon's PUB socket (no polling)."""

    method = "spawn event on the PUB socket"

    def __init__(self, endpoint: str, watcher: str) -> None:
        self.endpoint = endpoint
        self.topic = f"watcher.{watcher}.spawn".encode()
        self.socket: zmq.Socket | None = None

    def prepare(self) -> None:
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.linger = 0
        self.socket.setsockopt(zmq.SUBSCRIBE, self.topic)
        self.socket.connect(self.endpoint)
        time.sleep(0.5)  # a subscription takes a moment to reach the publisher

    def drain(self) -> None:
        assert self.socket is not None
        while self.socket.poll(0):
            self.socket.recv_multipart()

    def wait_new(self, known: set[int], deadline: float) -> int | None:
        assert self.socket is not None
        while (remaining := deadline - time.perf_counter()) > 0:
            if not self.socket.poll(max(1, int(remaining * 1000))):
                continue
            frames = self.socket.recv_multipart()
            try:
                pid = int(json.loads(frames[1])["process_pid"])
            except (IndexError, KeyError, TypeError, ValueError):
                continue
            if pid not in known:
                return pid
        return None

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close(linger=0)
            self.socket = None
