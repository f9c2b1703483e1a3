"""The real Arbiter on a FakeHost, with its real controller and PUB socket, served on a loop
in a thread: what the control-channel tests talk to over real ZeroMQ.

Imported as ``arbiter_server`` (conftest.py puts this directory on sys.path). The arbiter is
started by its own ``astart()`` from an INI file (so ``reloadconfig`` reads it again); only the
processes are fake (:class:`circus.testing.FakeHost`, standing for papa-kernel): nothing is
forked, signals and exits are recorded in ``server.host``.

The loop's clock is the real one plus an offset that :meth:`Server.jump` moves forward, so a
test that needs a long timer of the arbiter to expire (a graceful_timeout of 8 s) jumps over
it instead of waiting it out; everything else runs in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from circus import procinfo
from circus.config import load_config
from circus.testing import FakeHost, arbiter_on
from circus.testing.fakehost import FIRST_FAKE_PID, FakeProcess

DEFAULT_WATCHERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("sleeper", {"numprocesses": 2, "hooks.extended_stats": "arbiter_server.extended_stats"}),
    ("Other", {"autostart": False}),
)
DEFAULT_SOCKETS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("local", {"path": "{tmp}/x.sock"}),
    ("web", {"host": "127.0.0.1", "port": 8080}),
)
#: What ``stats`` shows for a fake process (psutil cannot see it).
FAKE_INFO = {
    "cmdline": "sleep",
    "username": "nobody",
    "nice": 0,
    "mem_info1": "1.00M",
    "mem_info2": "2.00M",
    "cpu": 0.0,
    "mem": 0.1,
    "ctime": "0:00.01",
    "children": [],
}


def extended_stats(watcher, arbiter, hook_name, pid, stats, **kwargs) -> bool:
    """The ``extended_stats`` hook of the sleeper: marks what it saw."""
    stats["extended"] = True
    return True


class JumpableLoop(asyncio.SelectorEventLoop):
    """A real event loop whose clock can be moved forward (:meth:`jump`): timers due by the
    new time fire at once, later ones keep their remaining delay."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def time(self) -> float:
        return super().time() + self.offset

    def timer_due_after(self, seconds: float) -> bool:
        """True if a timer is due ``seconds`` or more from now (read from another thread)."""
        now = self.time()
        return any(not h.cancelled() and h.when() - now >= seconds for h in list(self._scheduled))


def _section(header: str, options: Mapping[str, Any], tmp: Path) -> str:
    lines = [f"[{header}]"]
    for key, value in options.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        lines.append(f"{key} = {str(value).format(tmp=tmp)}")
    return "\n".join(lines) + "\n"


class Server:
    """Runs the arbiter of ``tmp/circus.ini`` on a FakeHost, on a loop in a thread."""

    def __init__(
        self,
        tmp: Path,
        endpoint: str,
        pubsub_endpoint: str,
        circus: Mapping[str, Any] | None = None,
        watchers: Sequence[tuple[str, dict[str, Any]]] = DEFAULT_WATCHERS,
        sockets: Sequence[tuple[str, dict[str, Any]]] = DEFAULT_SOCKETS,
    ):
        self.endpoint = endpoint
        self.pubsub_endpoint = pubsub_endpoint
        settings = {
            "endpoint": endpoint,
            "pubsub_endpoint": pubsub_endpoint,
            "papa_endpoint": f"ipc://{tmp}/papa.sock",  # only its lock file is made
            **(circus or {}),
        }
        text = _section("circus", settings, tmp)
        text += "".join(
            _section(f"watcher:{name}", {"cmd": "sleep 120", **opts}, tmp)
            for name, opts in watchers
        )
        text += "".join(_section(f"socket:{name}", opts, tmp) for name, opts in sockets)
        self.config_path = tmp / "circus.ini"
        self.config_path.write_text(text)
        self.host = FakeHost(persistent=True)
        self.host.on_spawn = self._on_spawn
        self._stubborn: set[str] = set()
        self.arbiter = arbiter_on(
            self.host,
            load_config(str(self.config_path)),
            record=False,  # astart binds the real PUB socket
            config_path=str(self.config_path),
        )
        self.loop = JumpableLoop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._real_get_info = procinfo.get_info

    def run(self, coro, timeout: float = 20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> Server:
        procinfo.get_info = self._get_info
        try:
            self.run(self.arbiter.astart())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in self.host.processes.values():  # the test is over: no graceful_timeout waits
            proc.ignores.clear()
        try:
            self.run(self.arbiter.quit(stop_workers=True))
        finally:
            procinfo.get_info = self._real_get_info
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    # --- the clock ------------------------------------------------------------------------------

    def jump(self, seconds: float) -> None:
        """Move the arbiter's clock ``seconds`` forward (as if that time had passed)."""

        async def move() -> None:
            self.loop.offset += seconds

        self.run(move())

    @contextlib.contextmanager
    def jumping_over(self, seconds: float) -> Iterator[None]:
        """For a blocking call in the block that makes the arbiter wait on a timer of
        ``seconds`` (a reload waits min_uptime, 1 s, for its new processes): jump the clock
        over that timer once it is armed, rather than wait it out."""
        done = threading.Event()

        def jump_once_armed() -> None:
            while not done.is_set():
                if self.timer_armed(seconds / 2):
                    self.jump(seconds)
                    return
                done.wait(0.005)

        thread = threading.Thread(target=jump_once_armed, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(10)

    def timer_armed(self, seconds: float) -> bool:
        """True once the arbiter waits on a timer due ``seconds`` or more from now."""
        return self.loop.timer_due_after(seconds)

    # --- the fake processes -------------------------------------------------------------------

    def make_stubborn(self, watcher: str) -> None:
        """Processes of ``watcher`` spawned from now on ignore SIGTERM."""
        self._stubborn.add(f"circus.{watcher.lower()}.")

    def stopped(self) -> bool:
        """True once the arbiter quit (the ``quit`` command or :meth:`stop`)."""
        return self.arbiter._stopped.is_set()

    def alive(self, pid: int) -> bool:
        return any(p.pid == pid and p.running for p in self.host.processes.values())

    def signals(self) -> list[tuple[int, int]]:
        """(pid, signum) of every signal sent to a process, in order."""
        return [(c.pid or 0, c.signum or 0) for c in self.host.ops("signal")]

    def exit_code(self, pid: int) -> int | None:
        return self.host.by_pid(pid).exit_code

    def _on_spawn(self, proc: FakeProcess) -> None:
        if any(proc.name.startswith(prefix) for prefix in self._stubborn):
            proc.ignores.add(signal.SIGTERM)

    def _get_info(self, pid: int, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if pid >= FIRST_FAKE_PID:
            return {"pid": pid, **FAKE_INFO}
        return self._real_get_info(pid, *args, **kwargs)
