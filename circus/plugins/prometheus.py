"""``PrometheusExporter``: circusd's watchers and processes as Prometheus metrics.

Not in the original Circus. A plugin (``[plugin:prometheus]``, ``use =
circus.plugins.prometheus.PrometheusExporter``) that serves ``/metrics`` in Prometheus' text
format with the ``prometheus_client`` library (the optional extra ``circus-kernel[prometheus]``).

What it serves (``namespace`` defaults to ``circus``):

- per watcher: ``circus_watcher_processes``, ``circus_watcher_active`` (1 when the watcher's
  status is ``active``), ``circus_watcher_flapping`` (1 while circusd holds it stopped as
  flapping or after it gave up), ``circus_watcher_cpu_percent`` and
  ``circus_watcher_rss_bytes`` (sums over its processes), and the counters
  ``circus_watcher_spawns_total``, ``circus_watcher_exits_total`` and
  ``circus_watcher_restarts_total`` (a process started to replace one that ended), counted
  from circusd's events since the exporter started;
- per process (labels ``watcher``, ``pid``, ``wid``): ``circus_process_cpu_percent``,
  ``circus_process_memory_percent``, ``circus_process_rss_bytes``, ``circus_process_vms_bytes``
  and ``circus_process_age_seconds``;
- ``circus_up``: 1 when the last refresh reached circusd.

Figures come from circusd's ``stats`` and ``status`` commands, refreshed every ``loop_rate``
seconds (default 5) on the plugin's loop; a scrape only reads the last snapshot, so scrapes
never reach circusd and a process that ended leaves no stale series behind. The HTTP server
is ``prometheus_client``'s own (one thread), bound to ``host`` (default ``127.0.0.1``) and
``port`` (default 9325).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from circus.plugins.base import CircusPlugin
from circus.procinfo import figure, info_bytes
from papa_kernel.records import field, frozen_record, record

if TYPE_CHECKING:
    from tornado.ioloop import PeriodicCallback

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9325
DEFAULT_LOOP_RATE = 5.0
#: Status details (extra keys of circusd's ``status`` reply) that mean "held as flapping".
FLAPPING_KEYS = ("flapping", "gave_up")


@frozen_record
class ProcessFigures:
    """One process' figures from a ``stats`` reply."""

    watcher: str
    pid: int
    wid: str
    cpu: float
    memory_percent: float
    rss: int
    vms: int
    age: float


@record
class Snapshot:
    """What the last refresh saw; scrapes read it, the refresh replaces it whole."""

    up: bool = False
    statuses: dict[str, str] = field(default_factory=dict)
    flapping: frozenset[str] = frozenset()
    processes: tuple[ProcessFigures, ...] = ()


def processes_of(stats_reply: Mapping[str, Any]) -> tuple[ProcessFigures, ...]:
    """The processes of a ``stats`` reply (every watcher: ``infos`` -> watcher -> pid)."""
    found = []
    for watcher, infos in sorted(stats_reply.get("infos", {}).items()):
        if not isinstance(infos, Mapping):
            continue
        for key, info in infos.items():
            if not (isinstance(info, Mapping) and str(key).isdigit()):
                continue  # spawn_count and the hook's extended keys sit beside the pids
            found.append(
                ProcessFigures(
                    watcher=watcher,
                    pid=int(key),
                    wid=str(info.get("wid", "")),
                    cpu=figure(info.get("cpu")),
                    memory_percent=figure(info.get("mem")),
                    rss=info_bytes(info.get("mem_info1", 0)),
                    vms=info_bytes(info.get("mem_info2", 0)),
                    age=figure(info.get("age")),
                )
            )
    return tuple(found)


def flapping_of(status_reply: Mapping[str, Any]) -> frozenset[str]:
    """Watchers that a ``status`` reply marks as flapping or given up (detail keys)."""
    held: set[str] = set()
    for key in FLAPPING_KEYS:
        detail = status_reply.get(key)
        if isinstance(detail, Mapping):
            held.update(detail)
        elif isinstance(detail, list | tuple):
            held.update(str(name) for name in detail)
    return frozenset(held)


class EventCounters:
    """Spawns, exits and restarts per watcher, counted from circusd's events.

    A restart is a spawn that replaces a process which ended by itself: a ``reap`` of a pid
    circusd had not announced killing (``kill`` event: stop, decr, kill, max_age) makes the
    watcher's next ``spawn`` a restart; a ``stop`` of the watcher forgets pending ones.
    """

    def __init__(self) -> None:
        self.spawns: Counter[str] = Counter()
        self.exits: Counter[str] = Counter()
        self.restarts: Counter[str] = Counter()
        self._to_replace: Counter[str] = Counter()
        self._killed: set[tuple[str, int]] = set()
        self._lock = threading.Lock()  # the HTTP thread copies while the loop counts

    def on_event(self, watcher: str, action: str, body: Mapping[str, Any] | None = None) -> None:
        pid = (body or {}).get("process_pid")
        with self._lock:
            if action == "kill" and isinstance(pid, int):
                self._killed.add((watcher, pid))
            elif action == "reap":
                self.exits[watcher] += 1
                if (watcher, pid) in self._killed:
                    self._killed.discard((watcher, pid))
                else:
                    self._to_replace[watcher] += 1
            elif action == "spawn":
                self.spawns[watcher] += 1
                if self._to_replace[watcher]:
                    self._to_replace[watcher] -= 1
                    self.restarts[watcher] += 1
            elif action == "stop":
                self._to_replace.pop(watcher, None)
                self._killed = {key for key in self._killed if key[0] != watcher}

    def copy(self) -> tuple[Counter[str], Counter[str], Counter[str]]:
        with self._lock:
            return Counter(self.spawns), Counter(self.exits), Counter(self.restarts)


class SnapshotCollector(Collector):
    """A ``prometheus_client`` collector that renders the exporter's last snapshot."""

    def __init__(self, exporter: PrometheusExporter) -> None:
        self.exporter = exporter

    def collect(self) -> Iterator[Metric]:
        ns = self.exporter.namespace
        snap = self.exporter.snapshot
        spawns, exits, restarts = self.exporter.counters.copy()
        yield GaugeMetricFamily(f"{ns}_up", "1 when the last refresh reached circusd", snap.up)

        per_watcher = {
            "processes": GaugeMetricFamily(
                f"{ns}_watcher_processes", "Processes of the watcher", labels=["watcher"]
            ),
            "active": GaugeMetricFamily(
                f"{ns}_watcher_active", "1 when the watcher is active", labels=["watcher"]
            ),
            "flapping": GaugeMetricFamily(
                f"{ns}_watcher_flapping",
                "1 while circusd holds the watcher stopped as flapping or gave up on it",
                labels=["watcher"],
            ),
            "cpu": GaugeMetricFamily(
                f"{ns}_watcher_cpu_percent",
                "CPU percent of its processes, summed",
                labels=["watcher"],
            ),
            "rss": GaugeMetricFamily(
                f"{ns}_watcher_rss_bytes", "RSS of its processes, summed", labels=["watcher"]
            ),
        }
        counts: Counter[str] = Counter(p.watcher for p in snap.processes)
        cpu: defaultdict[str, float] = defaultdict(float)
        rss: Counter[str] = Counter()
        for proc in snap.processes:
            cpu[proc.watcher] += proc.cpu
            rss[proc.watcher] += proc.rss
        for watcher, status in sorted(snap.statuses.items()):
            per_watcher["processes"].add_metric([watcher], counts[watcher])
            per_watcher["active"].add_metric([watcher], 1 if status == "active" else 0)
            per_watcher["flapping"].add_metric([watcher], 1 if watcher in snap.flapping else 0)
            per_watcher["cpu"].add_metric([watcher], cpu[watcher])
            per_watcher["rss"].add_metric([watcher], rss[watcher])
        yield from per_watcher.values()

        for name, counter, text in (
            ("spawns", spawns, "Processes started"),
            ("exits", exits, "Processes that ended"),
            ("restarts", restarts, "Processes started to replace one that ended"),
        ):
            family = CounterMetricFamily(
                f"{ns}_watcher_{name}", f"{text}, since the exporter started", labels=["watcher"]
            )
            for watcher in sorted(set(counter) | set(snap.statuses)):
                family.add_metric([watcher], counter[watcher])
            yield family

        labels = ["watcher", "pid", "wid"]
        per_process = {
            "cpu": GaugeMetricFamily(f"{ns}_process_cpu_percent", "CPU percent", labels=labels),
            "memory_percent": GaugeMetricFamily(
                f"{ns}_process_memory_percent", "Memory percent of the host", labels=labels
            ),
            "rss": GaugeMetricFamily(f"{ns}_process_rss_bytes", "Resident memory", labels=labels),
            "vms": GaugeMetricFamily(f"{ns}_process_vms_bytes", "Virtual memory", labels=labels),
            "age": GaugeMetricFamily(
                f"{ns}_process_age_seconds", "Seconds since it started", labels=labels
            ),
        }
        for proc in snap.processes:
            values = [proc.watcher, str(proc.pid), proc.wid]
            for attribute, gauge in per_process.items():
                gauge.add_metric(values, getattr(proc, attribute))
        yield from per_process.values()


class PrometheusExporter(CircusPlugin):
    """Serves circusd's watchers and processes as Prometheus metrics on ``host:port``.

    Options: ``host`` (default 127.0.0.1), ``port`` (default 9325), ``loop_rate`` (seconds
    between refreshes, default 5), ``namespace`` (metric name prefix, default ``circus``).
    """

    name = "prometheus"
    config_options: ClassVar[dict[str, str]] = {
        "host": "str", "port": "port", "loop_rate": "seconds", "namespace": "str",
    }  # fmt: skip

    def __init__(self, *args: Any, **config: Any) -> None:
        super().__init__(*args, **config)
        self.host = str(config.get("host", DEFAULT_HOST))
        self.port = _option(config, "port", int, DEFAULT_PORT, 0, 65535)
        self.loop_rate = _option(config, "loop_rate", float, DEFAULT_LOOP_RATE, 0.1, 86400)
        self.namespace = str(config.get("namespace", "circus"))
        if not self.namespace.isidentifier():
            raise ValueError(f"namespace: not a metric name prefix: {self.namespace!r}")
        self.snapshot = Snapshot()
        self.counters = EventCounters()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SnapshotCollector(self))
        self._server: Any = None
        self._period: PeriodicCallback | None = None

    def handle_init(self) -> None:
        self._server, _thread = start_http_server(self.port, self.host, self.registry)
        self.port = self._server.server_port  # port = 0: the one the OS chose
        log.info("prometheus exporter serving http://%s:%d/metrics", self.host, self.port)
        from tornado.ioloop import PeriodicCallback

        self._period = PeriodicCallback(self.refresh, self.loop_rate * 1000)
        self._period.start()
        self.loop.add_callback(self.refresh)

    def handle_stop(self) -> None:
        if self._period is not None:
            self._period.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle_recv(self, data: list[bytes]) -> None:
        watcher, action, msg = self.split_data(data)
        try:
            body = self.load_message(msg)
        except ValueError:
            body = None
        self.counters.on_event(watcher, action, body if isinstance(body, Mapping) else None)

    def refresh(self) -> None:
        """Replace the snapshot with circusd's current ``status`` and ``stats``."""
        try:
            status = self.call("status")
            stats = self.call("stats")
        except Exception as exc:  # circusd gone or slow: say so in circus_up, keep serving
            log.warning("prometheus exporter: circusd did not answer: %s", exc)
            self.snapshot = Snapshot(up=False)
            return
        if status.get("status") != "ok" or stats.get("status") != "ok":
            self.snapshot = Snapshot(up=False)
            return
        statuses = {str(k): str(v) for k, v in status.get("statuses", {}).items()}
        self.snapshot = Snapshot(
            up=True,
            statuses=statuses,
            flapping=flapping_of(status),
            processes=processes_of(stats),
        )


def _option(
    config: Mapping[str, Any], key: str, kind: type, default: Any, low: float, high: float
) -> Any:
    """``config[key]`` as ``kind`` within [low, high], or a ValueError naming the key."""
    raw = config.get(key, default)
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: not a {kind.__name__}: {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{key}: {value} is not between {low:g} and {high:g}")
    return value
