"""``HttpObserver``: fetch a URL every ``loop_rate`` seconds, report to statsd, and restart a
watcher when the request fails.

Options: those of :class:`~circus.plugins.statsd.StatsdEmitter` (``application_name`` defaults
to ``http_observer``), ``loop_rate`` (seconds, default 60), ``check_url`` (default
``http://localhost/``), ``timeout`` (seconds, default 10), ``restart_on_error`` (a watcher name;
default none).

Metrics (prefix ``circus.<application_name>.watcher``): ``http_stats.request_time:<ms>|ms`` for
an answer in the 2xx range; otherwise ``http_stats.error:1|c`` and
``http_stats.error.<code>:1|c`` (``599`` when no HTTP answer came: refused, timed out...), and,
when ``restart_on_error`` names a watcher, a ``restart`` of it and
``http_stats.restart_on_error:1|c``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from circus.plugins.statsd import BaseObserver

if TYPE_CHECKING:  # imported by the plugin process: circusd's config check would load OpenSSL
    from tornado.httpclient import AsyncHTTPClient

log = logging.getLogger(__name__)

#: The code counted when no HTTP answer came (tornado's convention).
NO_ANSWER = 599


class HttpObserver(BaseObserver):
    """Checks ``check_url`` every ``loop_rate`` seconds."""

    name = "http_observer"
    config_options: ClassVar[dict[str, str]] = {
        "check_url": "str", "timeout": "seconds", "restart_on_error": "str",
    }  # fmt: skip
    default_app_name = "http_observer"

    def __init__(self, *args: Any, **config: Any):
        super().__init__(*args, **config)
        self.check_url = config.get("check_url", "http://localhost/")
        self.timeout = float(config.get("timeout", 10))
        self.restart_on_error = config.get("restart_on_error") or None
        self.http_client: AsyncHTTPClient | None = None

    def handle_init(self) -> None:
        # made here: a tornado client belongs to the loop current when it is made
        from tornado.httpclient import AsyncHTTPClient

        self.http_client = AsyncHTTPClient(force_instance=True)
        super().handle_init()

    def handle_stop(self) -> None:
        super().handle_stop()
        if self.http_client is not None:
            self.http_client.close()

    async def look_after(self) -> None:
        from tornado.httpclient import HTTPClientError

        assert self.http_client is not None
        try:
            response = await self.http_client.fetch(
                self.check_url, request_timeout=self.timeout, raise_error=False
            )
        except HTTPClientError as exc:
            code = exc.code
        except Exception as exc:  # refused, timed out, bad URL...: no HTTP answer
            log.info("%s: %s", self.check_url, exc)
            code = NO_ANSWER
        else:
            if response.error is None:
                self.statsd.timed(
                    "http_stats.request_time", int((response.request_time or 0) * 1000)
                )
                return
            code = response.code
        self._failed(code)

    def _failed(self, code: int) -> None:
        log.warning("%s: request failed (%s)", self.check_url, code)
        self.statsd.increment("http_stats.error")
        self.statsd.increment(f"http_stats.error.{code}")
        if self.restart_on_error:
            self.cast("restart", name=self.restart_on_error)
            self.statsd.increment("http_stats.restart_on_error")
