"""circusd-stats: follows circusd's processes through its events and publishes their stats.

Each interval (1 s by default) it publishes, for whoever subscribed (see
:mod:`circus.stats.publisher`), the original's messages:

- ``stat.<watcher>.<pid>``: the process sample (:mod:`circus.stats.procstat`) with
  ``"subtopic": pid`` and ``"name": null``;
- ``stat.<watcher>``: ``{"pid": [pids], "cpu": average, "mem": sum, "age": oldest}``;
- ``stat.circus.<pid>`` / ``stat.circus``: the same for circusd, circusd-stats and circushttpd
  (``"name"`` says which);
- ``stat.sockets.<fd>`` / ``stat.sockets``: socket hits and backlog (:mod:`circus.stats.sockets`).

Which pids: one ``list`` per watcher at start, then circusd's events (``spawn`` adds a pid,
``reap`` removes it, ``stop``/``remove`` drop a watcher's), not a listing every tick. A full
listing is repeated every :data:`RESYNC_INTERVAL` seconds only to repair what events cannot tell
(events dropped by ZeroMQ, a circusd restarted meanwhile); a pid whose /proc entry vanished is
dropped at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable
from typing import Any

import zmq.asyncio

from circus.client import AsyncCircusClient
from circus.errors import CircusError
from circus.events import AsyncEventSubscriber, resource_name
from circus.procinfo import pid_exists
from circus.stats import socket_sources
from circus.stats.procstat import ProcSampler, Sample
from circus.stats.publisher import TOPIC_PREFIX, StatsPublisher
from circus.stats.sockets import SocketWatch

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 1.0  # seconds between two publications, as the original
RESYNC_INTERVAL = 30.0  # seconds between two full listings (repairs lost events)
RETRY_INTERVAL = 1.0  # seconds between two attempts to reach circusd (at most the interval)
SOCKETS_SETTLE = 0.5  # seconds after a watcher event before sockets are listed again
CALL_TIMEOUT = 5.0
# Watchers shown under "circus" (their pids), not as watchers, as in the original.
CIRCUS_PROCESSES = ("circusd-stats", "circushttpd")
CIRCUS = "circus"
SOCKETS = "sockets"


def aggregate(samples: list[Sample]) -> dict[str, Any]:
    """The ``stat.<watcher>`` body, as the original's: average cpu, summed memory, oldest
    age, and the pids."""
    stats = samples
    cpu = [s.cpu for s in stats]
    return {
        "pid": [s.pid for s in stats],
        "cpu": sum(cpu) / len(cpu) if cpu else 0.0,
        "mem": sum(s.mem for s in stats),
        "age": max((s.age for s in stats), default="N/A"),
    }


class StatsStreamer:
    """Connects to circusd (``endpoint``, ``pubsub_endpoint``) and publishes on
    ``stats_endpoint``; :meth:`run` until :meth:`stop`. ``inherited_sockets``: ``{name: fd}``
    of circusd's sockets given to this process (see :mod:`circus.stats.socket_sources`);
    ``curve_*``: CURVE client certificates for a circusd that requires them."""

    def __init__(
        self,
        endpoint: str,
        pubsub_endpoint: str,
        stats_endpoint: str,
        interval: float = DEFAULT_INTERVAL,
        resync_interval: float = RESYNC_INTERVAL,
        inherited_sockets: dict[str, int] | None = None,
        curve_secret_key: str | None = None,
        curve_server_key: str | None = None,
    ) -> None:
        self._inherited = dict(inherited_sockets or {})
        self._curve: dict[str, Any] = {
            "curve_secret_key": curve_secret_key,
            "curve_server_key": curve_server_key,
        }
        self.endpoint = endpoint
        self.pubsub_endpoint = pubsub_endpoint
        self.stats_endpoint = stats_endpoint
        self.interval = interval
        self.resync_interval = resync_interval
        self.retry_interval = min(RETRY_INTERVAL, interval)
        self.pids: dict[str, dict[int, None]] = {}  # watcher (topic name) -> pids (ordered set)
        self.circus_pids: dict[int, str] = {os.getpid(): "circusd-stats"}
        self.sampler = ProcSampler()
        self.publisher = StatsPublisher(stats_endpoint)
        self._stopped = asyncio.Event()
        self._resync_now = asyncio.Event()
        self._sockets: SocketWatch | None = None
        self._sockets_task: asyncio.Task[None] | None = None
        self._client: AsyncCircusClient | None = None

    def stop(self) -> None:
        self._stopped.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        context = zmq.asyncio.Context()
        self._client = AsyncCircusClient(
            context=context, endpoint=self.endpoint, timeout=CALL_TIMEOUT, **self._curve
        )
        self._sockets = SocketWatch(loop)
        self.publisher.attach(loop)
        events = AsyncEventSubscriber(
            self.pubsub_endpoint, ["watcher."], context=context, **self._curve
        )
        tasks = [
            asyncio.create_task(self._follow_events(events), name="events"),
            asyncio.create_task(self._resync_loop(), name="resync"),
            asyncio.create_task(self._publish_loop(), name="publish"),
        ]
        for task in tasks:
            task.add_done_callback(self._task_ended)
        log.info("circusd-stats %d publishing on %s", os.getpid(), self.stats_endpoint)
        try:
            await self._stopped.wait()
        finally:
            if self._sockets_task is not None:
                tasks.append(self._sockets_task)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            events.close()
            self._client.stop()
            self._sockets.close()
            self.publisher.close()
            self.sampler.close()
            context.destroy(linger=0)
            log.info("circusd-stats stopped")

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        """A task of :meth:`run` ends only when cancelled: anything else stops circusd-stats
        (with the reason logged) rather than leaving it half working."""
        if task.cancelled() or self._stopped.is_set():
            return
        error = task.exception()
        log.error("circusd-stats stops: its %s task ended", task.get_name(), exc_info=error)
        self.stop()

    # --- what to follow ---------------------------------------------------------------------

    async def _call(self, command: str, **props: Any) -> dict[str, Any]:
        assert self._client is not None
        reply = await self._client.send_message(command, **props)
        if reply.get("status") == "error":
            raise CircusError(f"{command}: {reply.get('reason')}")
        return reply

    async def resync(self) -> None:
        """List every watcher's pids, circusd's pid and the sockets (start, and now and then)."""
        circus_pids = {os.getpid(): "circusd-stats"}
        circusd = next((p for p, n in self.circus_pids.items() if n == "circusd"), None)
        # dstats only when needed: it costs circusd a scan of /proc for its children
        if circusd is None or not pid_exists(circusd):
            info = (await self._call("dstats")).get("info") or {}
            circusd = info.get("pid") if isinstance(info.get("pid"), int) else None
        if circusd is not None:
            circus_pids[circusd] = "circusd"
        found: dict[str, dict[int, None]] = {}
        for name in (await self._call("list")).get("watchers", []):
            pids = [int(p) for p in (await self._call("list", name=name)).get("pids", [])]
            topic_name = resource_name(name)
            if topic_name == "circushttpd" and len(pids) == 1:
                circus_pids[pids[0]] = "circushttpd"
            if topic_name not in CIRCUS_PROCESSES and topic_name != "circusd":
                found[topic_name] = dict.fromkeys(pids)
        for gone in set(self._all_pids()) - {p for pids in found.values() for p in pids}:
            self.sampler.forget(gone)
        for pid in {p for pids in found.values() for p in pids} & set(self._all_pids()):
            self.sampler.refresh_cmdline(pid)
        self.pids = found
        self.circus_pids = circus_pids
        log.debug("listed circusd's processes: %d watchers", len(found))
        await self._sync_sockets()

    def _all_pids(self) -> Iterable[int]:
        for pids in self.pids.values():
            yield from pids

    async def _sync_sockets(self) -> None:
        assert self._sockets is not None
        listed = (await self._call("listsockets")).get("sockets", [])
        kernel = (await self._call("globaloptions")).get("options", {}).get("papa_endpoint")
        await socket_sources.sync(self._sockets, listed, kernel, self._inherited)

    async def _resync_loop(self) -> None:
        failing = False  # one warning while circusd cannot be reached, not one a second
        while True:
            try:
                await self.resync()
                delay = self.resync_interval
                if failing:
                    log.info("circusd answers again at %s", self.endpoint)
                failing = False
            except (CircusError, OSError) as exc:
                if failing:
                    log.debug("still cannot list circusd's processes: %s", exc)
                else:
                    log.warning(
                        "cannot list circusd's processes at %s: %s (trying again every %g s)",
                        self.endpoint,
                        exc,
                        self.retry_interval,
                    )
                failing = True
                delay = self.retry_interval
            self._resync_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._resync_now.wait()

    async def _follow_events(self, events: AsyncEventSubscriber) -> None:
        async for topic, payload in events:
            try:
                self.handle_event(topic, payload)
            except Exception:  # a malformed event must not stop the stream
                log.exception("cannot handle event %s %r", topic, payload)

    def handle_event(self, topic: str, payload: Any) -> None:
        """Apply one circusd event (``watcher.<name>.<event>``) to the followed pids."""
        watcher, _, event = topic[len("watcher.") :].rpartition(".")
        if not watcher or not isinstance(payload, dict):
            return
        pid = payload.get("process_pid")
        if watcher in CIRCUS_PROCESSES or watcher == "circusd":
            if event in ("spawn", "reap"):
                self._resync_now.set()  # circushttpd restarted: learn its new pid
            return
        if event == "spawn" and isinstance(pid, int):
            self.pids.setdefault(watcher, {})[pid] = None
        elif event == "reap" and isinstance(pid, int):
            if self.pids.get(watcher, {}).pop(pid, 0) is None:
                self.sampler.forget(pid)
        elif event in ("stop", "remove"):
            for gone in self.pids.pop(watcher, {}):
                self.sampler.forget(gone)
        if event in ("start", "stop", "add", "remove", "reload"):
            self._schedule_socket_sync()  # a reloaded configuration may have changed sockets

    def _schedule_socket_sync(self) -> None:
        if self._sockets_task is not None and not self._sockets_task.done():
            return

        async def later() -> None:
            await asyncio.sleep(SOCKETS_SETTLE)
            try:
                await self._sync_sockets()
            except (CircusError, OSError) as exc:
                log.warning("cannot list circusd's sockets: %s", exc)

        self._sockets_task = asyncio.create_task(later(), name="sockets")

    # --- publishing -----------------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            next_tick += self.interval
            now = loop.time()
            if next_tick < now:  # fell behind (suspended, overloaded): skip, do not burst
                next_tick = now + self.interval
            await asyncio.sleep(next_tick - now)
            self.publish_once()

    def publish_once(self) -> None:
        """Sample and publish everything somebody subscribed to."""
        publisher = self.publisher
        publisher.drain_subscriptions()
        if not publisher.has_subscribers:
            return
        for watcher, pids in list(self.pids.items()):
            if pids and publisher.wants(watcher):
                self._publish_processes(watcher, pids, None)
        if publisher.wants(CIRCUS):
            self._publish_processes(CIRCUS, dict.fromkeys(self.circus_pids), self.circus_pids)
        if self._sockets is not None and len(self._sockets) and publisher.wants(SOCKETS):
            bodies, total = self._sockets.collect()
            for body in bodies:
                publisher.publish(SOCKETS, {**body, "subtopic": body["fd"]}, body["fd"])
            publisher.publish(SOCKETS, total)
        publisher.drain_subscriptions()

    def _publish_processes(
        self, name: str, pids: dict[int, None], names: dict[int, str] | None
    ) -> None:
        samples = self.sampler.sample_many(list(pids), names, (time.time(), time.monotonic()))
        if len(samples) != len(pids):  # gone (their reap events may follow)
            for gone in set(pids) - {s.pid for s in samples}:
                pids.pop(gone, None)
        prefix = f"{TOPIC_PREFIX}{name}."
        self.publisher.send_many([(f"{prefix}{s.pid}".encode(), s.body) for s in samples])
        self.publisher.publish(name, aggregate(samples))
