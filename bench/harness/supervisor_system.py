"""supervisor 4.3.0: supervisord from its own venv, driven over XML-RPC on a unix socket."""

from __future__ import annotations

import http.client
import socket
import time
import xmlrpc.client
from pathlib import Path

from harness import procfs
from harness.base import (
    SLEEP_SECONDS,
    WATCHER,
    BenchError,
    Installs,
    ProcSpawnWaiter,
    SpawnWaiter,
    System,
)

LIVE_STATES = ("STARTING", "RUNNING")


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over HTTP on a unix socket (what supervisorctl does); keeps the connection."""

    def __init__(self, path: str, timeout: float = 30.0) -> None:
        super().__init__()
        self.unix_path = path
        self.timeout = timeout

    def make_connection(self, host):
        if self._connection and host == self._connection[0]:
            return self._connection[1]
        self._connection = host, _UnixHTTPConnection(self.unix_path, self.timeout)
        return self._connection[1]


class Supervisor(System):
    key = "supervisor"
    label = "supervisor 4.3.0"

    def __init__(self, installs: Installs, workdir: Path, count: int) -> None:
        super().__init__(installs, workdir, count)
        self.config_path = workdir / "supervisord.conf"
        self.socket_path = workdir / "supervisor.sock"
        self._proxy = None

    def write_config(self) -> None:
        logs = self.workdir / "childlogs"
        logs.mkdir(exist_ok=True)
        hard = procfs.raise_nofile_limit()
        minfds = min(hard, 8 * self.count + 1024)
        self.config_path.write_text(
            f"[unix_http_server]\nfile = {self.socket_path}\n\n"
            f"[supervisord]\nlogfile = {self.workdir / 'supervisord.log'}\n"
            f"pidfile = {self.workdir / 'supervisord.pid'}\nchildlogdir = {logs}\n"
            f"nodaemon = true\nminfds = {minfds}\nminprocs = {self.count + 200}\n\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            f"[supervisorctl]\nserverurl = unix://{self.socket_path}\n\n"
            f"[program:{WATCHER}]\ncommand = {self.installs.sleep} {SLEEP_SECONDS}\n"
            f"numprocs = {self.count}\nprocess_name = %(program_name)s_%(process_num)d\n"
        )

    def argv(self) -> list[str]:
        return [str(self.installs.supervisor_bin / "supervisord"), "-n",
                "-c", str(self.config_path)]  # fmt: skip

    def worker_parents(self) -> list[int]:
        return [self.proc.pid] if self.proc is not None else []

    def daemon_pids(self) -> list[int]:
        return self.worker_parents()

    @property
    def rpc(self):
        if self._proxy is None:
            transport = _UnixTransport(str(self.socket_path))
            self._proxy = xmlrpc.client.ServerProxy("http://localhost", transport=transport)
        return self._proxy

    def ping(self) -> None:
        self.rpc.supervisor.getState()

    def process_infos(self) -> list[dict]:
        try:
            return self.rpc.supervisor.getAllProcessInfo()
        except (OSError, xmlrpc.client.Error) as exc:
            self.close_clients()
            raise BenchError(f"supervisor: getAllProcessInfo failed: {exc}") from None

    def listed_pids(self) -> set[int]:
        return {info["pid"] for info in self.process_infos()
                if info["pid"] and info["statename"] in LIVE_STATES}  # fmt: skip

    def names_by_pid(self) -> dict[int, str]:
        return {info["pid"]: f"{info['group']}:{info['name']}" for info in self.process_infos()}

    def spawn_waiter(self) -> SpawnWaiter:
        return ProcSpawnWaiter(self)

    def stop_daemon(self) -> None:
        self.rpc.supervisor.shutdown()

    def close_clients(self) -> None:
        if self._proxy is not None:
            self._proxy("close")()
            self._proxy = None

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "supervisord.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) + "\n" + super().log_tail(lines)


class RpcSpawnWaiter(SpawnWaiter):
    """Polls supervisor's getProcessInfo for the victim's slot (every request wakes
    supervisord's loop, so this flatters it; kept as a second opinion)."""

    method = "getProcessInfo poll every 1 ms"

    def __init__(self, system: Supervisor) -> None:
        self.system = system
        self.names: dict[int, str] = {}
        self.name = ""

    def prepare(self) -> None:
        self.names = self.system.names_by_pid()

    def before_kill(self, victim: int) -> None:
        self.name = self.names[victim]

    def wait_new(self, known: set[int], deadline: float) -> int | None:
        while time.perf_counter() < deadline:
            info = self.system.rpc.supervisor.getProcessInfo(self.name)
            if info["pid"] and info["pid"] not in known and info["statename"] in LIVE_STATES:
                return info["pid"]
            time.sleep(0.001)
        return None
