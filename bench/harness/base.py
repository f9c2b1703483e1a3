"""The interface every system under test implements, and what they share."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness import procfs

WATCHER = "sleepers"  # the one watcher / program of every configuration
SLEEP_SECONDS = "100000"  # workers outlive any run; the harness kills them


class BenchError(RuntimeError):
    """A system did not do what a scenario needs (with the tail of its log)."""


@dataclass(frozen=True)
class Installs:
    """Where the programs under test live."""

    repo: Path
    ours_bin: Path
    circus019_bin: Path
    supervisor_bin: Path
    sleep: str
    ours_source: Path | None = None  # run our circusd from this source tree instead

    @classmethod
    def find(cls, repo: Path, ours_source: Path | None = None) -> Installs:
        return cls(
            repo=repo,
            ours_bin=repo / ".venv" / "bin",
            circus019_bin=repo / ".venv-circus019" / "bin",
            supervisor_bin=repo / ".venv-supervisor" / "bin",
            sleep=shutil.which("sleep") or "/bin/sleep",
            ours_source=ours_source,
        )

    def missing(self, system_key: str) -> str | None:
        """Why ``system_key`` cannot run here (a missing program), or None."""
        needed = {
            "ours": self.ours_bin / "circusd",
            "circus019": self.circus019_bin / "circusd",
            "supervisor": self.supervisor_bin / "supervisord",
        }.get(system_key)
        if needed is not None and not needed.exists():
            return f"{needed} not found (make compat-venvs)"
        return None


class System:
    """One daemon (or the raw baseline) running ``count`` sleep workers in ``workdir``.

    Subclasses set ``key``/``label`` and implement the hooks; the scenarios only use this API.
    """

    key = ""
    label = ""
    has_control = True  # False for the raw baseline (nothing to ask)
    can_reattach = False  # True when workers survive a restart of the daemon
    daemon_names: tuple[str, ...] = ()  # labels of daemon_pids(), in that order

    def __init__(self, installs: Installs, workdir: Path, count: int) -> None:
        self.installs = installs
        self.workdir = workdir
        self.count = count
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "daemon.log"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "run").mkdir(mode=0o700, exist_ok=True)

    # -- to implement ---------------------------------------------------------------------
    def argv(self) -> list[str]:
        raise NotImplementedError

    def write_config(self) -> None:
        """Write the configuration for ``self.count`` workers."""

    def worker_parents(self) -> list[int]:
        """Pids whose children are the workers (empty while not known yet)."""
        raise NotImplementedError

    def daemon_pids(self) -> list[int]:
        """The processes whose RSS and CPU are the system's cost."""
        raise NotImplementedError

    def ping(self) -> None:
        """One cheap control round trip."""
        raise NotImplementedError

    def listed_pids(self) -> set[int]:
        """Worker pids the daemon reports as running."""
        raise NotImplementedError

    def spawn_waiter(self) -> SpawnWaiter:
        raise NotImplementedError

    def stop_daemon(self) -> None:
        """Ask the daemon to exit the way an operator restarting it would (returns at once)."""
        raise NotImplementedError

    def close_clients(self) -> None:
        """Close control/event connections (before a restart and at the end)."""

    def wait_listed(self, count: int, deadline: float, interval: float = 0.01) -> set[int]:
        """Ask for the running workers until ``count`` are listed or ``deadline`` passes
        (the daemon may not answer yet: errors count as "not yet")."""
        pids: set[int] = set()
        while time.perf_counter() < deadline:
            self.check_alive()
            try:
                pids = self.listed_pids()
            except Exception:
                self.close_clients()
                pids = set()
            if len(pids) >= count:
                return pids
            time.sleep(interval)
        return pids

    # -- shared ---------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["XDG_RUNTIME_DIR"] = str(self.workdir / "run")
        return env

    def launch(self) -> None:
        """Start the daemon (not waiting for anything)."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                cwd=self.workdir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(
                f"{self.label} exited with {self.proc.returncode}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_daemon_exit(self, timeout: float = 120.0) -> None:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{self.label} did not exit within {timeout}s") from None

    def teardown(self) -> None:
        """End the daemon, its helpers and every worker (all descendants of this harness)."""
        self.close_clients()
        procfs.kill_and_reap_children()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.returncode = -9  # reaped above; keeps Popen from waiting again


class SpawnWaiter:
    """Tells when a replacement worker appears after one was killed."""

    method = ""

    def prepare(self) -> None:
        """Called once before the first kill (subscriptions, connections)."""

    def drain(self) -> None:
        """Forget notifications that arrived between two measurements."""

    def before_kill(self, victim: int) -> None:
        """Called just before ``victim`` is killed."""

    def wait_new(self, known: set[int], deadline: float) -> int | None:
        """A worker pid not in ``known``, as soon as it is seen; None at ``deadline``."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class ProcSpawnWaiter(SpawnWaiter):
    """Watches the workers' parent in /proc (does not wake the daemon up in any way)."""

    method = "/proc poll every 0.5 ms"

    def __init__(self, system: System) -> None:
        self.system = system

    def wait_new(self, known: set[int], deadline: float) -> int | None:
        while time.perf_counter() < deadline:
            for parent in self.system.worker_parents():
                for pid in procfs.children(parent):
                    if pid not in known:
                        return pid
            time.sleep(0.0005)
        return None
