"""``papa-kernel --init`` as PID 1 of a new PID namespace (``unshare --pid --fork
--mount-proc``, as a container runtime starts it): it reaps the orphans re-parented to it,
SIGTERM stops everything gracefully, and its exit status says how it ended."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import support
from kernel_helpers import KERNEL, Client, Gate, children_of, refused_in_process

pytestmark = pytest.mark.timeout(60)


REASON = support.pid_namespace_unavailable()
if REASON:
    pytestmark = [pytestmark, pytest.mark.skip(reason=REASON)]  # type: ignore[assignment]


class Container:
    """``unshare --pid --fork --mount-proc papa-kernel --init ... -- COMMAND``."""

    def __init__(self, kdir: str, *command: str, grace: float | None = None) -> None:
        self.path = os.path.join(kdir, "k.sock")
        self.log_path = os.path.join(kdir, "kernel.log")
        argv = ["unshare", "--pid", "--fork", "--mount-proc", *KERNEL, "--init", "--socket",
                self.path, "--log-file", self.log_path, "--log-level", "debug"]  # fmt: skip
        if grace is not None:
            argv += ["--graceful-stop", str(grace)]
        if command:
            argv += ["--", *command]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)  # fmt: skip
        ready = self.proc.stdout.readline()
        assert ready.startswith("papa-kernel ready pid=1 "), ready  # PID 1 of its namespace
        # the kernel's pid outside the namespace; None if it had already ended when looked for
        #: (a main command that cannot start ends it within milliseconds of its ready line: a
        #: loaded run found no child of unshare for 10 s)
        self._kernel = support.wait_for(self._kernel_or_end, message="the kernel")[0]

    @property
    def kernel(self) -> int:
        assert self._kernel is not None, "the kernel had ended before it was looked for"
        return self._kernel

    def _kernel_or_end(self) -> list[int | None]:
        children: list[int | None] = list(children_of(self.proc.pid))
        if children:
            return children
        return [None] if self.proc.poll() is not None else []

    def log(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def zombies(self) -> list[int]:
        """Children of the kernel (host pids) that are zombies."""
        return [pid for pid in children_of(self.kernel) if not support.pid_alive(pid)]

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # PID 1 dies: the namespace with it
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


@pytest.fixture
def container(kdir):
    started: list[Container] = []

    def start(*command: str, grace: float | None = None) -> Container:
        started.append(Container(kdir, *command, grace=grace))
        return started[-1]

    with support.subreaper():
        yield start
        for box in started:
            box.close()


def test_orphans_are_reaped_and_main_status_is_the_exit_status(container, kdir):
    # Each subshell exits at once: its sleep is re-parented to PID 1, the kernel. The main
    # command then waits until the test has seen the orphans reaped.
    gate = Gate(kdir)
    orphans = "(sleep 0.2 &); (sleep 0.2 &); (sleep 0.2 &)"
    box = container("sh", "-c", f"{orphans}; read x <{gate.path}; exit 3")
    support.wait_for(lambda: box.log().count("reaped orphan") == 3, message="3 orphans reaped")
    assert box.zombies() == []
    assert box.proc.poll() is None  # the main command still runs
    gate.open()
    assert box.proc.wait(timeout=20) == 3  # the main command's status
    assert "main command exited with status 3" in box.log()


def test_sigterm_stops_hosted_workers_main_and_orphans_then_exits_0(container):
    box = container("sh", "-c", "(sleep 60 &); exec sleep 60")
    client = Client(box.path)
    line = client.cmd("make process web.1 shell=1 sleep\\ 60\\ &\\ exec\\ sleep\\ 60")
    worker = int(line.split("pid=")[1].split()[0])  # a pid in the namespace
    assert worker > 1
    support.wait_for(lambda: len(children_of(box.kernel)) >= 3, message="worker, main, orphan")
    started = time.monotonic()
    os.kill(box.kernel, signal.SIGTERM)  # docker stop
    assert box.proc.wait(timeout=20) == 0
    elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed
    print(f"SIGTERM to exit of PID 1: {elapsed * 1000:.0f} ms")
    assert "SIGTERM: stopping 1 hosted processes" in box.log()


def test_what_ignores_sigterm_is_killed_after_the_grace_and_exit_is_2(container):
    box = container("sleep", "60", grace=0.5)
    client = Client(box.path)
    client.cmd("make process stubborn shell=1 trap\\ ''\\ TERM;\\ sleep\\ 60")
    # the shell forks sleep only after its trap ran (before that, SIGTERM would still end it):
    # wait for a grandchild of the kernel (its main command, sleep, has no children)
    support.wait_for(
        lambda: any(children_of(child) for child in children_of(box.kernel)),
        message="the trap is set (the shell forked sleep)",
    )
    os.kill(box.kernel, signal.SIGTERM)
    assert "no process can be started" in Client(box.path).error("make process x sleep 1")
    assert box.proc.wait(timeout=20) == 2
    assert "SIGKILL to stubborn" in box.log()


def test_sighup_goes_to_the_main_command(container, kdir):
    marker = os.path.join(kdir, "hup")
    box = container("sh", "-c", f"trap 'touch {marker}; exit 0' HUP; while :; do sleep 0.05; done")
    # sh installs its trap before it starts its first sleep
    support.wait_for(lambda: any(children_of(p) for p in children_of(box.kernel)))
    os.kill(box.kernel, signal.SIGHUP)
    support.wait_for(lambda: os.path.exists(marker), message="SIGHUP forwarded")
    assert box.proc.wait(timeout=20) == 0


def test_a_main_command_that_cannot_start_exits_127(container):
    box = container("/nonexistent/circusd")
    assert box.proc.wait(timeout=20) == 127
    assert "cannot start /nonexistent/circusd" in box.log()
    # one exit status in the log, the real one (the stop of nothing once said "exiting with 0")
    assert "exiting with" not in box.log() and "stopped (exit status 127)" in box.log()


def test_init_option_errors(kdir, capsys):
    """What the command line says (its main in this process: each is refused before anything
    starts; tests/kernel/test_cli.py runs the program for its other errors)."""

    def run(*args: str) -> str:
        status, err = refused_in_process(capsys, *args)
        assert status == 2, err
        return err

    assert "needs --init" in run("--socket", os.path.join(kdir, "s"), "sleep")
    assert not os.path.exists(os.path.join(kdir, "s"))
    assert "not with --daemon" in run("--init", "--daemon")
    assert "contradict" in run("--init", "--force")
