"""A small real arbiter for the control-channel tests, served in a background thread.

Imported as ``mini_arbiter`` (conftest.py puts this directory on sys.path).

``MiniArbiter`` implements the ``circus.control.api`` protocols with real state: its watchers run
real ``sleep`` processes (asyncio subprocesses), signals are real, stop waits for the exits. It is
deliberately simple (no respawn, no kernel): it exists to test the controller, the commands,
the clients and circusctl over real ZeroMQ sockets, not the arbiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import psutil
import zmq
import zmq.asyncio

from circus.control.controller import Controller
from circus.errors import AlreadyExistError, MessageError
from circus.events import EventPublisher, event_topic

# Workers outlive any test (the fixture kills them); "stubborn" ones ignore SIGTERM.
WORKER = "import time; time.sleep(120)"
STUBBORN_WORKER = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(120)"
)


class MiniWatcher:
    def __init__(
        self, arbiter: MiniArbiter, name: str, cmd: str, options: Mapping[str, Any] | None = None
    ):
        options = dict(options or {})
        self.arbiter = arbiter
        self.name = name
        self.cmd = cmd
        self.singleton = bool(options.pop("singleton", False))
        self.numprocesses = int(options.pop("numprocesses", 1))
        self.stop_signal = int(options.pop("stop_signal", signal.SIGTERM))
        self.graceful_timeout = float(options.pop("graceful_timeout", 2.0))
        self.env = dict(options.pop("env", {}))
        self.stubborn = bool(options.pop("stubborn", False))
        self.extra = options
        self.procs: list[asyncio.subprocess.Process] = []
        self._status = "stopped"
        self._lock = asyncio.Lock()
        self.signals: list[tuple[int, int]] = []
        self.exits: list[tuple[int, int | None]] = []

    def status(self) -> str:
        return self._status

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.returncode is None]

    def outdated_pids(self) -> list[int]:
        return []  # direct children: never adopted, never outdated

    def _event(self, event: str, **payload: Any) -> None:
        payload.setdefault("time", time.time())
        self.arbiter.publish(event_topic(self.name, event)[len("watcher.") :], payload)

    async def _spawn(self) -> int:
        code = STUBBORN_WORKER if self.stubborn else WORKER
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            start_new_session=True,
            stdout=asyncio.subprocess.PIPE if self.stubborn else None,
        )
        if self.stubborn:  # wait until SIGTERM is ignored
            await proc.stdout.readline()
        self.procs.append(proc)
        self.arbiter.spawned.append(proc.pid)
        self._event("spawn", process_pid=proc.pid)
        return proc.pid

    async def _reap(self, proc: asyncio.subprocess.Process, signum: int, timeout: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)
        self._event("kill", process_pid=proc.pid)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        self.procs.remove(proc)
        self.exits.append((proc.pid, proc.returncode))
        self._event("reap", process_pid=proc.pid, exit_code=proc.returncode)

    async def _converge(self) -> tuple[list[int], list[int]]:
        started = []
        while len(self.pids()) < self.numprocesses:
            started.append(await self._spawn())
        stopped = []
        while len(self.pids()) > self.numprocesses:
            proc = self.procs[0]
            stopped.append(proc.pid)
            await self._reap(proc, self.stop_signal, self.graceful_timeout)
        return started, stopped

    async def start(self) -> dict[str, list[int]]:
        async with self._lock:
            kept = self.pids()
            self._status = "starting"
            started, _ = await self._converge()
            self._status = "active"
            self._event("start")
            return {"started": started, "kept": kept}

    async def stop(self) -> None:
        async with self._lock:
            await self._stop()

    async def _stop(self) -> list[int]:
        self._status = "stopping"
        stopped = self.pids()
        await asyncio.gather(
            *(self._reap(p, self.stop_signal, self.graceful_timeout) for p in list(self.procs))
        )
        self._status = "stopped"
        self._event("stop")
        return stopped

    async def restart(self) -> dict[str, list[int]]:
        async with self._lock:
            stopped = await self._stop()
            started, _ = await self._converge()
            self._status = "active"
            return {"stopped": stopped, "started": started, "kept": []}

    async def reload(self, graceful: bool = True, sequential: bool = False):
        return await self.restart()

    async def incr(self, nb: int = 1) -> int:
        async with self._lock:
            self.numprocesses += nb
            if self._status == "active":
                await self._converge()
            return self.numprocesses

    async def decr(self, nb: int = 1) -> int:
        async with self._lock:
            self.numprocesses = max(0, self.numprocesses - nb)
            if self._status == "active":
                await self._converge()
            return self.numprocesses

    async def set_options(self, options: Mapping[str, Any]) -> None:
        async with self._lock:
            for key, value in options.items():
                if key == "numprocesses":
                    self.numprocesses = value
                elif key == "env":
                    self.env = dict(value)
                else:
                    self.extra[key] = value
                self._event("updated")
            if self._status == "active":
                await self._converge()

    def options(self) -> dict[str, Any]:
        return {
            "numprocesses": self.numprocesses,
            "cmd": self.cmd,
            "env": self.env,
            "singleton": self.singleton,
            "stop_signal": self.stop_signal,
            "graceful_timeout": self.graceful_timeout,
            **self.extra,
        }

    def get_options(self, keys: Sequence[str]) -> dict[str, Any]:
        options = self.options()
        for key in keys:
            if key not in options:
                raise MessageError(f"{key!r} option not found")
        return {key: options[key] for key in keys}

    async def signal(
        self,
        signum: int,
        pid: int | None = None,
        childpid: int | None = None,
        children: bool = False,
        recursive: bool = False,
    ) -> None:
        for target in [pid] if pid else self.pids():
            self.signals.append((target, signum))
            os.kill(target, signum)

    async def kill(
        self,
        signum: int | None = None,
        pid: int | None = None,
        graceful_timeout: float | None = None,
    ) -> None:
        procs = [p for p in self.procs if pid is None or p.pid == pid]
        await asyncio.gather(
            *(
                self._reap(
                    p,
                    signum or self.stop_signal,
                    self.graceful_timeout if graceful_timeout is None else graceful_timeout,
                )
                for p in procs
            )
        )

    def stats(self, pid: int | None = None, extended: bool = False) -> dict[str, Any]:
        pids = self.pids() if pid is None else [pid]
        if pid is not None and pid not in self.pids():
            raise MessageError(f"process {str(pid)!r} not found in {self.name!r}")
        result = {}
        for one in pids:
            proc = psutil.Process(one)
            result[str(one)] = {
                "pid": one,
                "cmdline": os.path.basename(proc.cmdline()[0]),
                "username": proc.username(),
                "nice": proc.nice(),
                "mem_info1": "1.00M",
                "mem_info2": "2.00M",
                "cpu": 0.0,
                "mem": 0.1,
                "ctime": "0:00.01",
                "children": [],
            }
            if extended:
                result[str(one)]["extended"] = True
        return result


class MiniArbiter:
    def __init__(self, endpoint: str, pubsub_endpoint: str, endpoint_owner: str | None = None):
        self.endpoint = endpoint
        self.pubsub_endpoint = pubsub_endpoint
        self.stats_endpoint = None
        self.multicast_endpoint = None
        self.check_delay = 5.0
        self.endpoint_owner = endpoint_owner
        self.pid = os.getpid()
        self._watchers: dict[str, MiniWatcher] = {}
        self.spawned: list[int] = []
        self.quit_called: list[bool] = []
        self.controller: Controller | None = None
        self.publisher: EventPublisher | None = None

    @property
    def watchers(self) -> list[MiniWatcher]:
        return [self._watchers[k] for k in sorted(self._watchers)]

    def numwatchers(self) -> int:
        return len(self._watchers)

    def numprocesses(self) -> int:
        return sum(len(watcher.pids()) for watcher in self._watchers.values())

    def get_watcher(self, name: str) -> MiniWatcher:
        try:
            return self._watchers[name.lower()]
        except KeyError:
            raise MessageError(f"program {name} not found") from None

    def match_watchers(self, pattern: str, method: str = "glob") -> list[MiniWatcher]:
        if method == "simple":
            return [self.get_watcher(pattern)]
        regex = re.compile(
            fnmatch.translate(pattern.lower()) if method == "glob" else pattern.lower()
        )
        found = [w for w in self.watchers if regex.match(w.name.lower())]
        if not found:
            raise MessageError(f"program {pattern} not found")
        return found

    async def add_watcher(self, name, cmd, args=None, options=None, start=False):
        if name.lower() in self._watchers:
            raise AlreadyExistError(f"{name!r} already exist")
        watcher = MiniWatcher(self, name, cmd, options)
        self._watchers[name.lower()] = watcher
        self.publish(f"{name.lower()}.add", {"time": time.time()})
        if start:
            await watcher.start()
        return watcher

    async def rm_watcher(self, name: str, nostop: bool = False) -> None:
        watcher = self._watchers.pop(name.lower())
        if not nostop:
            await watcher.stop()

    async def start_watchers(self, watchers=None) -> None:
        for watcher in watchers or self.watchers:
            await watcher.start()

    async def stop_watchers(self, watchers=None) -> None:
        await asyncio.gather(*(w.stop() for w in watchers or self.watchers))

    async def restart(self, watchers=None) -> None:
        for watcher in watchers or self.watchers:
            await watcher.restart()

    async def reload(self, graceful: bool = True, sequential: bool = False) -> None:
        await self.restart()

    async def reload_config(self) -> dict[str, list[str]]:
        return {"added": [], "removed": [], "changed": []}

    async def quit(self, stop_workers: bool = False) -> None:
        self.quit_called.append(stop_workers)
        if stop_workers:
            await self.stop_watchers()
        if self.controller is not None:
            await self.controller.stop()

    def sockets_info(self) -> list[dict[str, Any]]:
        return [
            {"fd": 7, "name": "web", "backlog": 2048, "host": "127.0.0.1", "port": 8080},
            {"fd": 5, "name": "local", "backlog": 128, "path": "/tmp/x.sock"},
        ]

    def global_options(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "pubsub_endpoint": self.pubsub_endpoint,
            "stats_endpoint": self.stats_endpoint,
            "check_delay": self.check_delay,
            "multicast_endpoint": self.multicast_endpoint,
        }

    def circusd_info(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "cmdline": "python",
            "username": "root",
            "nice": 0,
            "mem_info1": "30.00M",
            "mem_info2": "100.00M",
            "cpu": 0.0,
            "mem": 0.1,
            "ctime": "0:00.10",
            "children": [],
        }

    def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        if self.publisher is not None:
            self.publisher.publish(f"watcher.{topic}", payload)


class Server:
    """Runs a MiniArbiter with its Controller and EventPublisher on a loop in a thread."""

    def __init__(
        self,
        endpoint: str,
        pubsub_endpoint: str,
        settings: Any = None,
        watchers: Sequence[tuple[str, dict[str, Any]]] = (),
    ):
        self.endpoint = endpoint
        self.pubsub_endpoint = pubsub_endpoint
        self.settings = settings or SimpleNamespace()
        self.arbiter = MiniArbiter(
            endpoint, pubsub_endpoint, getattr(self.settings, "endpoint_owner", None)
        )
        self._initial = watchers
        self.loop = asyncio.new_event_loop()
        self.context = zmq.asyncio.Context()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro, timeout: float = 20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        arbiter = self.arbiter
        arbiter.publisher = EventPublisher(
            self.pubsub_endpoint, self.settings, context=self.context
        )
        arbiter.controller = Controller(arbiter, self.endpoint, self.settings, context=self.context)
        await arbiter.controller.start()
        for name, options in self._initial:
            watcher = await arbiter.add_watcher(name, "sleep", options=options)
            if options.get("autostart", True):
                await watcher.start()

    def start(self) -> Server:
        self.run(self._start())
        return self

    async def _stop(self) -> None:
        arbiter = self.arbiter
        for watcher in list(arbiter._watchers.values()):
            for proc in list(watcher.procs):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if arbiter.controller is not None:
            await arbiter.controller.stop()
        if arbiter.publisher is not None:
            arbiter.publisher.close()

    def stop(self) -> None:
        try:
            self.run(self._stop())
        finally:
            for pid in self.arbiter.spawned:  # whatever rm --nostop left behind
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
            self.context.destroy(linger=0)
