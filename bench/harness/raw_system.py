"""The raw baseline: a Python process that ``os.posix_spawn``s N sleeps in a loop.

It is launched and observed exactly like the daemons (same /proc watcher), and it also prints
the duration of its loop measured inside the process.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.base import SLEEP_SECONDS, BenchError, Installs, System

SCRIPT = """
import os, sys, time
sleep, count, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
devnull = os.open(os.devnull, os.O_RDWR)
actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
env = dict(os.environ)
start = time.perf_counter()
for _ in range(count):
    os.posix_spawn(sleep, [sleep, seconds], env, file_actions=actions, setsid=True)
print(f"loop {time.perf_counter() - start:.6f}", flush=True)
sys.stdin.read()  # stay the workers' parent until the harness ends everything
"""


class Raw(System):
    key = "raw"
    label = "raw posix_spawn loop"
    has_control = False

    def __init__(self, installs: Installs, workdir: Path, count: int) -> None:
        super().__init__(installs, workdir, count)
        self.log_path = workdir / "raw.out"

    def argv(self) -> list[str]:
        return [sys.executable, "-c", SCRIPT, self.installs.sleep, str(self.count), SLEEP_SECONDS]

    def launch(self) -> None:
        import subprocess

        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, env=self.environment(),
            )  # fmt: skip

    def loop_seconds(self) -> float:
        """The spawn loop's duration measured inside the process."""
        for line in self.log_path.read_text().splitlines():
            if line.startswith("loop "):
                return float(line.split()[1])
        raise BenchError(f"raw spawner printed no timing:\n{self.log_tail()}")

    def worker_parents(self) -> list[int]:
        return [self.proc.pid] if self.proc is not None else []

    def daemon_pids(self) -> list[int]:
        return []

    def teardown(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()
        super().teardown()
