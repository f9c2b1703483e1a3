"""Statsd plugins: :class:`StatsdEmitter` (a counter per event), :class:`FullStats` (gauges of
the watchers' processes), and :class:`BaseObserver`, the base of the plugins that look after
something every ``loop_rate`` seconds and report to statsd.

Wire format (the original's, plain statsd over UDP, one metric per datagram)::

    circus.<application_name>.watcher.<watcher>.<event>:1|c      StatsdEmitter, per event
    circus.<application_name>.watcher._stats.<watcher>.cpu_max:12.5|g    FullStats
    <bucket>:<value>|<type>|@<sample_rate>                        with sample_rate != 1

Options (``[plugin:NAME]`` keys): ``host`` (default ``localhost``), ``port`` (8125),
``sample_rate`` (1.0: appended to each metric as ``|@RATE``; nothing is dropped here, as in the
original), ``application_name`` (``app``); observers add ``loop_rate`` (seconds, default 60).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from circus.plugins.base import CircusPlugin
from circus.procinfo import figure, info_bytes

if TYPE_CHECKING:  # imported by the plugin process (periodic), not by circusd's config check
    from tornado.ioloop import PeriodicCallback

log = logging.getLogger(__name__)


class StatsdClient:
    """Sends statsd metrics over UDP (fire and forget: a lost datagram is not an error)."""

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        prefix: str | None = None,
        sample_rate: float = 1,
    ):
        self.host = host or "localhost"
        self.port = int(port or 8125)
        self.prefix = prefix
        self.sample_rate = sample_rate
        self.socket: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, bucket: str, value: str, sample_rate: float | None = None) -> None:
        """Send ``<prefix>.<bucket>:<value>`` (with ``|@rate`` when the rate is not 1)."""
        rate = sample_rate or self.sample_rate
        if rate != 1:
            value += f"|@{rate}"
        if self.prefix:
            bucket = f"{self.prefix}.{bucket}"
        if self.socket is None:
            return
        try:
            self.socket.sendto(f"{bucket}:{value}".encode(), (self.host, self.port))
        except OSError as exc:  # unresolvable host, no route...: metrics are best effort
            log.debug("statsd %s:%s: %s", self.host, self.port, exc)

    def decrement(self, bucket: str, delta: int = 1) -> None:
        self.increment(bucket, -abs(delta))

    def increment(self, bucket: str, delta: int = 1) -> None:
        self.send(bucket, f"{int(delta)}|c")

    def gauge(self, bucket: str, value: float) -> None:
        self.send(bucket, f"{value}|g")

    def timed(self, bucket: str, value: float) -> None:
        self.send(bucket, f"{value}|ms")

    def stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None


class StatsdEmitter(CircusPlugin):
    """Plugin that sends a statsd counter for every event circusd publishes."""

    name = "statsd"
    default_app_name = "app"
    config_options: ClassVar[dict[str, str]] = {
        "host": "str", "port": "port", "sample_rate": "number", "application_name": "str",
    }  # fmt: skip

    def __init__(
        self,
        endpoint: str,
        pubsub_endpoint: str,
        check_delay: float,
        ssh_server: str | None = None,
        **config: Any,
    ):
        super().__init__(endpoint, pubsub_endpoint, check_delay, ssh_server=ssh_server, **config)
        self.app = config.get("application_name", self.default_app_name)
        self.prefix = f"circus.{self.app}.watcher"
        self.statsd = StatsdClient(
            host=config.get("host", "localhost"),
            port=int(config.get("port", "8125")),
            prefix=self.prefix,
            sample_rate=float(config.get("sample_rate", "1.0")),
        )

    def handle_recv(self, data: Any) -> None:
        watcher_name, action, _msg = self.split_data(data)
        self.statsd.increment(f"{watcher_name}.{action}")

    def stop(self) -> None:
        self.statsd.stop()
        super().stop()


class BaseObserver(StatsdEmitter):
    """A statsd plugin that calls :meth:`look_after` every ``loop_rate`` seconds (default 60;
    it may be a coroutine) instead of counting events."""

    config_options: ClassVar[dict[str, str]] = {"loop_rate": "seconds"}

    def __init__(self, *args: Any, **config: Any):
        super().__init__(*args, **config)
        self.loop_rate = float(config.get("loop_rate", 60))  # seconds
        if self.loop_rate <= 0:
            raise ValueError(f"loop_rate must be > 0 seconds, got {self.loop_rate}")
        self.period: PeriodicCallback | None = None

    def handle_init(self) -> None:
        self.period = periodic(self.look_after, self.loop_rate)

    def handle_stop(self) -> None:
        if self.period is not None:
            self.period.stop()
        self.statsd.stop()

    def handle_recv(self, data: Any) -> None:
        pass

    def look_after(self) -> Awaitable[None] | None:
        raise NotImplementedError()


def periodic(callback: Callable[[], Awaitable[None] | None], seconds: float) -> PeriodicCallback:
    """Start calling ``callback`` every ``seconds`` on the current loop (the plugin's, from
    ``handle_init`` on); a coroutine is awaited before the next call."""
    from tornado.ioloop import PeriodicCallback

    period = PeriodicCallback(callback, seconds * 1000)
    period.start()
    return period


class FullStats(BaseObserver):
    """Every ``loop_rate`` seconds, gauges of each watcher's processes (plugins excluded):
    ``_stats.<watcher>.watchers_num`` (processes), ``cpu_max``, ``cpu_sum``, ``mem_pct_max``,
    ``mem_pct_sum``, ``mem_max``, ``mem_sum`` (RSS bytes), and ``spawn_count`` when circusd
    gives it. A failed ``stats`` call counts ``_stats.error``."""

    name = "full_stats"

    def look_after(self) -> None:
        info = self.call("stats")
        if info.get("status") == "error":
            self.statsd.increment("_stats.error")
            return
        for name, stats in info.get("infos", {}).items():
            if name.startswith("plugin:"):
                continue
            self._watcher_gauges(name, stats)

    def _watcher_gauges(self, name: str, stats: dict[str, Any]) -> None:
        cpus: list[float] = []
        mems: list[float] = []
        rss: list[int] = []
        for key, value in stats.items():
            if key == "spawn_count":
                self.statsd.gauge(f"_stats.{name}.spawn_count", value)
            elif isinstance(value, dict):  # one process ("No such process" strings skipped)
                cpus.append(figure(value.get("cpu")))
                mems.append(figure(value.get("mem")))
                rss.append(info_bytes(value.get("mem_info1")))
        self.statsd.gauge(f"_stats.{name}.watchers_num", len(cpus))
        if not cpus:
            return
        self.statsd.gauge(f"_stats.{name}.cpu_max", max(cpus))
        self.statsd.gauge(f"_stats.{name}.cpu_sum", sum(cpus))
        self.statsd.gauge(f"_stats.{name}.mem_pct_max", max(mems))
        self.statsd.gauge(f"_stats.{name}.mem_pct_sum", sum(mems))
        self.statsd.gauge(f"_stats.{name}.mem_max", max(rss))
        self.statsd.gauge(f"_stats.{name}.mem_sum", sum(rss))
