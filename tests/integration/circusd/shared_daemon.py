"""One circusd shared by the tests of a module, put back as each test found it.

A circusd start and stop (with its kernel) costs ~0.25 s of CPU, and most circusd tests only
add, start, stop, scale or signal watchers. A module puts the watchers those tests use in one
config (``autostart = false`` for those a test starts itself) and shares the daemon:

    @pytest.fixture(scope="module")
    def module_daemon(tmp_path_factory):
        with shared_circusd(tmp_path_factory.mktemp("d"), BODY) as shared:
            yield shared

    @pytest.fixture
    def d(module_daemon):
        with module_daemon.test() as daemon:
            yield daemon

Before each test the state is checked against the one recorded at the start (the watchers,
their status and target number of processes, and the number an active one runs): a test
never sees what another left. A test that changes other options of a watcher sets them back
itself. After each test the state is put back: added watchers removed, started watchers
stopped (and what their processes left behind killed), stopped ones started, targets and
counts restored.
Tests that need a fresh daemon (they kill it, test its start-up or reload its config) keep
their own (the ``circusd`` fixture).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import psutil
import pytest
import support


@contextlib.contextmanager
def shared_circusd(workdir, body: str, circus_extra: str = "", env: dict[str, str] | None = None,
                   settle: Callable[[support.Circusd], object] | None = None
                   ) -> Iterator[Shared]:  # fmt: skip
    """:func:`support.module_circusd` (``env``: more variables for circusd) as a :class:`Shared`
    (``settle``: what to wait for before the state is recorded, beyond the watchers' counts)."""
    with pytest.MonkeyPatch.context() as patch:  # circusd's environment, read as it starts
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        started = support.module_circusd(workdir, body, circus_extra)
        daemon = started.__enter__()
    try:
        shared = Shared(daemon, settle)
        try:
            yield shared
        finally:
            shared.close()
    finally:
        started.__exit__(None, None, None)


class Shared:
    """A started :class:`support.Circusd` and the state its tests must find it in."""

    def __init__(
        self, daemon: support.Circusd, settle: Callable[[support.Circusd], object] | None = None
    ) -> None:
        self.daemon = daemon
        self._client = daemon.client()
        self.on_demand = {
            name
            for name in self._ok("list")["watchers"]
            if self._ok("get", name=name, keys=["on_demand"])["options"]["on_demand"]
        }
        support.wait_for(self._settled, message="the shared circusd's watchers started")
        if settle is not None:
            support.wait_for(
                lambda: settle(daemon), timeout=60, message="the shared circusd settled"
            )
        self.baseline = self.state()
        self.log_offset = 0

    def close(self) -> None:
        self._client.stop()

    def _ok(self, command: str, **props) -> dict:
        reply = self._client.call({"command": command, "properties": props})
        assert reply.get("status") != "error", reply
        return reply

    def _pids(self, name: str) -> list[int]:
        return self._ok("list", name=name)["pids"]

    def _target(self, name: str) -> int:
        return int(self._ok("numprocesses", name=name)["numprocesses"])

    def _settled(self) -> bool:
        """Every active watcher (but an on_demand one, waiting for a client) runs its count."""
        return all(
            status != "active" or name in self.on_demand
            or len(self._pids(name)) == self._target(name)
            for name, status in self._ok("status")["statuses"].items()
        )  # fmt: skip

    def state(self) -> dict[str, tuple]:
        """Each watcher's status and target number of processes, and for an active one the
        number it runs."""
        return {
            name: (status, self._target(name))
            + ((len(self._pids(name)),) if status == "active" else ())
            for name, status in self._ok("status")["statuses"].items()
        }

    def log(self) -> str:
        """circusd's log since the current test started."""
        return self.daemon.log()[self.log_offset :]

    @contextlib.contextmanager
    def test(self) -> Iterator[support.Circusd]:
        """The daemon for one test: checked before, put back after."""
        try:
            support.wait_for(lambda: self.state() == self.baseline, timeout=10,
                             message="the shared circusd as it started")  # fmt: skip
        except AssertionError:
            raise AssertionError(
                f"the shared circusd is not as it started: {self.state()} != {self.baseline}"
            ) from None
        self.log_offset = len(self.daemon.log())
        try:
            yield self.daemon
        finally:
            self.put_back()

    def put_back(self) -> None:
        """Remove the watchers added, stop those started, start those stopped, and put the
        number of processes back."""
        statuses = self._ok("status")["statuses"]
        for name in statuses:
            if name not in self.baseline:
                self._stop(name, remove=True)
        for name, (status, target, *running) in self.baseline.items():
            now = statuses.get(name)
            if status == "stopped":
                if now != "stopped":
                    self._stop(name)
                if self._target(name) != target:
                    self._ok("set", name=name, options={"numprocesses": target}, waiting=True)
            elif name in self.on_demand and running == [0]:
                if now == "active" and not self._pids(name) and self._target(name) == target:
                    continue
                self._stop(name)  # an on_demand watcher waiting for its first client: re-arm
                if self._target(name) != target:
                    self._ok("set", name=name, options={"numprocesses": target}, waiting=True)
                self._ok("start", name=name, waiting=True)
            else:
                if now != "active":
                    self._ok("start", name=name, waiting=True)
                if (self._target(name), len(self._pids(name))) != (target, *running):
                    support.restore_numprocesses(self.daemon, name, running[0])

    def _stop(self, name: str, remove: bool = False) -> None:
        """Stop (or remove) watcher ``name``, then kill what its processes left running."""
        left: list[psutil.Process] = []
        for pid in self._pids(name):
            with contextlib.suppress(psutil.Error):
                left += psutil.Process(pid).children(recursive=True)
        self._ok("rm" if remove else "stop", name=name, waiting=True)
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.kill()
                proc.wait(timeout=10)
