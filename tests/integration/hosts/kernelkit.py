"""Helpers for the KernelHost tests: a real papa-kernel started per test, and cleanup."""

from __future__ import annotations

import os
import select
import subprocess

from support import kill_tree

from circus.hosts.kernel_boot import RUN_NOW, boot_command

READY = "papa-kernel ready "
#: A kernel whose wall clock (``time.time``: ``started=``, output and exit times) is off from
#: this machine's by ``{skew}`` seconds, as a remote host's may be.
SKEWED_CLOCK = "import time\n_wall = time.time\ntime.time = lambda: _wall() + {skew!r}\n"
START_TIMEOUT = 15.0


class RunningKernel:
    """A papa-kernel started in the foreground by a test."""

    def __init__(self, directory: str, tcp: bool = False, clock_skew: float = 0.0):
        self.directory = directory
        self.path = os.path.join(directory, "k.sock")
        self.log = os.path.join(directory, "kernel.log")
        self.proc = subprocess.Popen(
            [
                # as circusd starts it: python -S (papa_kernel is stdlib-only; without site a
                # Python start costs ~14 instead of ~37 ms of CPU)
                *boot_command(
                    SKEWED_CLOCK.format(skew=clock_skew) + RUN_NOW if clock_skew else RUN_NOW
                ),
                "--socket",
                self.path,
                "--force",
                "--log-file",
                self.log,
                "--log-level",
                "debug",
                *(["--tcp", "127.0.0.1:0"] if tcp else []),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith(READY):
            self.stop()
            raise RuntimeError(f"papa-kernel did not start: {line!r} {self.proc.stderr.read()!r}")
        fields = dict(item.partition("=")[::2] for item in line.split()[2:])
        self.tcp_endpoint = f"tcp://{fields['tcp']}" if "tcp" in fields else None

    @property
    def endpoint(self) -> str:
        return f"ipc://{self.path}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        kill_tree(self.proc.pid)
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()
