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

Before each test the state is checked against the one recorded at the start (the watchers
and their status, the target and number of processes of the active ones): a test never sees
what another left. After each test the state is put back: added watchers removed, started
watchers stopped (and what their processes left behind killed), stopped ones started, targets
and counts restored; the target of a stopped watcher is read (and set back) when the test named
it in a call (``daemon.call`` records the names), which keeps the checks to a few calls. A test
that changes other options of a watcher sets them back itself. The tests' calls go through one
client per thread, not one per call.
A test that rewrites the configuration and reloads it uses ``test_reloading()`` instead of
``test()``: the configuration the daemon started with is written back and reloaded after the
test (which removes what the test added), before the watchers are put back. Tests that need a
fresh daemon (they kill it or test its start-up) keep their own (the ``circusd`` fixture).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

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
        shared = Shared(daemon, settle, body, circus_extra)
        try:
            yield shared
        finally:
            shared.close()
    finally:
        started.__exit__(None, None, None)


class Shared:
    """A started :class:`support.Circusd` and the state its tests must find it in."""

    def __init__(
        self,
        daemon: support.Circusd,
        settle: Callable[[support.Circusd], object] | None = None,
        body: str = "",
        circus_extra: str = "",
    ) -> None:
        """``body`` and ``circus_extra``: the configuration the daemon started with (written
        back by :meth:`test_reloading`)."""
        self.daemon = daemon
        self.body, self.circus_extra = body, circus_extra
        self._client = daemon.client()
        names = self._ok("list")["watchers"]
        self.on_demand = {
            name for name in names if self._get(name, "on_demand")
        }  # fmt: skip
        support.wait_for(self._settled, message="the shared circusd's watchers started")
        if settle is not None:
            support.wait_for(
                lambda: settle(daemon), timeout=60, message="the shared circusd settled"
            )
        #: the watchers the current test named in its calls (their targets are checked)
        self.touched: set[str] = set()
        self.baseline: dict[str, tuple] = {}
        self.baseline = self.state()
        self._log_position = 0
        self._log_text = ""
        # The tests' calls: one client per thread (a client per call costs more CPU than the
        # call), recording the watchers named.
        local = threading.local()
        self._clients: list = []

        def recording_call(command: str, timeout: float = 10, **props):
            if isinstance(props.get("name"), str):
                self.touched.add(props["name"].lower())
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = daemon.client()
                self._clients.append(client)
            return client.call({"command": command, "properties": props}, timeout=timeout)

        daemon.call = recording_call  # type: ignore[method-assign]

    def close(self) -> None:
        del self.daemon.call  # the cleanup's quit: a client of its own
        for client in [self._client, *self._clients]:
            client.stop()

    def _ok(self, command: str, **props) -> dict:
        reply = self._client.call({"command": command, "properties": props})
        assert reply.get("status") != "error", reply
        return reply

    def _get(self, name: str, key: str):
        return self._ok("get", name=name, keys=[key])["options"][key]

    def _pids(self, name: str) -> list[int]:
        return self._ok("list", name=name)["pids"]

    def _target(self, name: str) -> int:
        """The watcher's target number of processes (incr/decr/set change it)."""
        return int(self._get(name, "numprocesses"))

    def _settled(self) -> bool:
        """Every active watcher (but an on_demand one, waiting for a client) runs its count."""
        return all(
            status != "active" or name in self.on_demand
            or len(self._pids(name)) == self._target(name)
            for name, status in self._ok("status")["statuses"].items()
        )  # fmt: skip

    def state(self) -> dict[str, tuple]:
        """Each watcher's status; for an active one, or one the test named, its target; for
        an active one, the number of processes it runs. (A stopped watcher's target changes
        only by a command naming it, or when the processes it was started with exit.)"""
        found = {}
        for name, status in self._ok("status")["statuses"].items():
            if status == "active":
                found[name] = (status, self._target(name), len(self._pids(name)))
            elif name in self.touched or name not in self.baseline:
                found[name] = (status, self._target(name))
            else:
                found[name] = (status, self.baseline[name][1])
        return found

    def log(self) -> str:
        """circusd's log since the current test started (read incrementally)."""
        with open(self.daemon.log_path, errors="replace") as handle:
            handle.seek(self._log_position)
            self._log_text += handle.read()
            self._log_position = handle.tell()
        return self._log_text

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
        self._log_position = os.path.getsize(self.daemon.log_path)
        self._log_text = ""
        try:
            yield self.daemon
        finally:
            self.put_back()

    @contextlib.contextmanager
    def test_reloading(self) -> Iterator[support.Circusd]:
        """:meth:`test` for a test that rewrites the configuration and reloads it: after the
        test, the configuration the daemon started with is written back and reloaded, then the
        watchers are put back."""
        with self.test() as daemon:
            try:
                yield daemon
            finally:
                daemon.write_config(self.body, self.circus_extra)
                reply = self._client.call({"command": "reloadconfig",
                                           "properties": {"waiting": True}})  # fmt: skip
                assert reply.get("status") == "ok", f"the configuration not put back: {reply}"

    def put_back(self) -> None:
        """Remove the watchers added, stop those started, start those stopped, and put the
        targets and numbers of processes back."""
        statuses = self._ok("status")["statuses"]
        for name in statuses:
            if name not in self.baseline:
                self._stop(name, remove=True)
        for name, (status, target, *running) in self.baseline.items():
            now = statuses.get(name)
            if status == "stopped":
                if now != "stopped":
                    self._stop(name)
                if (now != "stopped" or name in self.touched) and self._target(name) != target:
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
        self.touched = set()

    def _stop(self, name: str, remove: bool = False) -> None:
        """Stop (or remove) watcher ``name``, then kill what its processes left running."""
        left = [child for pid in self._pids(name) for child in support.descendants(pid)]
        self._ok("rm" if remove else "stop", name=name, waiting=True)
        support.kill_pids(left)
        support.wait_dead(left)  # orphans: pid 1 may reap them late
