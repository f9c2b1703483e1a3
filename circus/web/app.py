"""The tornado application of circushttpd: its shared state and its routes.

Routes owned by the server are listed here; the pages come from :mod:`circus.web.pages`
(``PAGE_ROUTES``), their templates from ``templates/`` and their files from ``static/``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import tornado.web

from circus.web import api, login, pages
from circus.web.auth import Authenticator, RateLimiter, SessionStore
from circus.web.base import BaseHandler
from circus.web.circusd import CircusdLink
from circus.web.tail import TailManager
from circus.web.ws import EventSocket

if TYPE_CHECKING:
    from circus.web.discovery import DiscoveredList  # circushttpd --discover imports it

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE_DIR = os.path.join(HERE, "templates")
STATIC_DIR = os.path.join(HERE, "static")
#: Largest request body accepted at all (the JSON API limits its bodies further).
MAX_BODY = 1024 * 1024


@dataclass
class WebState:
    """What every handler shares (``self.settings["web"]``)."""

    link: CircusdLink
    authenticator: Authenticator
    tls: bool = False
    allowed_origins: frozenset[str] = frozenset()
    sessions: SessionStore = field(default_factory=SessionStore)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    sockets: set = field(default_factory=set)
    tails: TailManager = None  # type: ignore[assignment]
    discovery: DiscoveredList | None = None  # circushttpd --discover

    def __post_init__(self) -> None:
        if self.tails is None:
            self.tails = TailManager(self.link)
        self.sessions.on_end(self._session_ended)

    @property
    def cookie_flags(self) -> dict[str, Any]:
        return {"httponly": True, "samesite": "Strict", "secure": self.tls, "path": "/"}

    def _session_ended(self, session: Any) -> None:
        for socket in list(self.sockets):
            if socket.session is session:
                socket.end()

    async def close(self) -> None:
        for socket in list(self.sockets):
            socket.close(1001, "server stopping")
        await self.tails.close()
        if self.discovery is not None:
            await self.discovery.close()
        await self.link.close()


class NotFoundHandler(BaseHandler):
    """Any other path: 404 (JSON under /api/, a small page otherwise)."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)


def routes() -> list[tuple[str, type]]:
    name = r"([^/]+)"
    return [
        (r"/login", login.LoginPage),
        (r"/logout", login.LogoutPage),
        (r"/api/login", login.ApiLogin),
        (r"/api/logout", login.ApiLogout),
        (r"/api/session", login.ApiSession),
        (r"/api/status", api.ApiStatus),
        (r"/api/watchers", api.ApiWatchers),
        (rf"/api/watchers/{name}", api.ApiWatcher),
        (rf"/api/watchers/{name}/stats", api.ApiWatcherStats),
        (rf"/api/watchers/{name}/output", api.ApiOutput),
        (rf"/api/watchers/{name}/([a-z]+)", api.ApiAction),
        (r"/api/stats", api.ApiStats),
        (r"/api/kernel", api.ApiKernel),
        (r"/api/discovery", api.ApiDiscovery),
        (r"/ws", EventSocket),
        *pages.PAGE_ROUTES,
    ]


def make_app(state: WebState, *, debug: bool = False) -> tornado.web.Application:
    return tornado.web.Application(
        routes(),
        default_handler_class=NotFoundHandler,
        template_path=TEMPLATE_DIR,
        static_path=STATIC_DIR,
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"httponly": True, "samesite": "Strict", "secure": state.tls},
        cookie_secret=secrets.token_bytes(32),
        serve_traceback=False,
        debug=debug,
        websocket_max_message_size=4096,
        websocket_ping_interval=20,
        web=state,
    )
