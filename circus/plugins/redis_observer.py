"""``RedisObserver``: a redis server's figures as statsd gauges, and a restart of its watcher
when it stops answering.

The original's plugin and options (``use = circus.plugins.redis_observer.RedisObserver``), on
:class:`~circus.plugins.statsd.BaseObserver` (the statsd options, and ``loop_rate``: seconds
between looks, default 60):

- ``redis_url`` (default ``redis://localhost:6379/0``), ``timeout`` (seconds, default 5);
- ``restart_on_timeout``: the watcher (usually the one running redis-server) to restart when the
  server does not answer within ``timeout``.

Each look sends the gauges ``redis_stats.<key>`` for the keys of :data:`OBSERVE` that the
server's ``INFO`` reports (a key a newer redis no longer reports is skipped, where the original
failed), or counts ``redis_stats.error`` and, when it restarts the watcher,
``redis_stats.restart_on_error``. Needs the ``redis`` client library (the optional extra
``circus-kernel[redis]``).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from circus.plugins.statsd import BaseObserver

try:
    import redis
except ImportError as exc:  # the message circusd --check-config and the plugin's log show
    raise ImportError(
        "RedisObserver needs the redis client library: pip install 'circus-kernel[redis]'"
    ) from exc

log = logging.getLogger(__name__)

#: The ``INFO`` keys sent as gauges (the original's list).
OBSERVE = (
    "pubsub_channels", "connected_slaves", "lru_clock", "connected_clients", "keyspace_misses",
    "used_memory", "used_memory_peak", "total_commands_processed", "used_memory_rss",
    "total_connections_received", "pubsub_patterns", "used_cpu_sys", "used_cpu_sys_children",
    "blocked_clients", "used_cpu_user", "client_biggest_input_buf", "mem_fragmentation_ratio",
    "expired_keys", "evicted_keys", "client_longest_output_list", "uptime_in_seconds",
    "keyspace_hits",
)  # fmt: skip


class RedisObserver(BaseObserver):
    """Sends a redis server's ``INFO`` figures to statsd; restarts ``restart_on_timeout``
    when the server does not answer."""

    name = "redis_observer"
    default_app_name = "redis_observer"
    config_options: ClassVar[dict[str, str]] = {
        "redis_url": "str", "timeout": "seconds", "restart_on_timeout": "str",
    }  # fmt: skip

    def __init__(self, *args: Any, **config: Any) -> None:
        super().__init__(*args, **config)
        url = str(config.get("redis_url", "redis://localhost:6379/0"))
        try:
            timeout = float(config.get("timeout", 5))
        except (TypeError, ValueError):
            raise ValueError(f"timeout: not a number: {config.get('timeout')!r}") from None
        if timeout <= 0:
            raise ValueError(f"timeout: must be > 0 seconds, not {timeout:g}")
        try:
            self.redis = redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        except ValueError as exc:
            raise ValueError(f"redis_url: {exc}") from None
        self.restart_on_timeout = config.get("restart_on_timeout") or None

    def look_after(self) -> None:
        try:
            info = self.redis.info()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("redis did not answer: %s", exc)
            self.statsd.increment("redis_stats.error")
            if self.restart_on_timeout:
                self.cast("restart", name=self.restart_on_timeout)
                self.statsd.increment("redis_stats.restart_on_error")
            self.redis.connection_pool.disconnect()  # a fresh connection next time
            return
        for key in OBSERVE:
            if key in info:
                self.statsd.gauge(f"redis_stats.{key}", info[key])

    def handle_stop(self) -> None:
        super().handle_stop()
        self.redis.close()
