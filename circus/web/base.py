"""Request handlers' common ground: security headers, the session, CSRF, errors without
tracebacks. Pages subclass :class:`PageHandler`, the JSON API :class:`ApiHandler`."""

from __future__ import annotations

import hmac
import json
import logging
import urllib.parse
from typing import Any

import tornado.web

from circus.web.auth import Session
from circus.web.circusd import Disconnected, Refused

log = logging.getLogger(__name__)

SESSION_COOKIE = "circus_session"
#: Content-Security-Policy of every response: scripts, styles and connections from this
#: origin only; no inline script or style, no plugins, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
#: The most a JSON request body may hold.
MAX_JSON_BODY = 64 * 1024

ERROR_CODES = {
    400: "bad_request",
    401: "login_required",
    403: "forbidden",
    404: "not_found",
    405: "method",
    413: "bad_request",
    429: "rate_limited",
    500: "internal",
    503: "disconnected",
}


class ApiError(tornado.web.HTTPError):
    """An error answered as ``{"error": {"code", "message", "field"?, ...}}``."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, **extra: Any
    ):
        super().__init__(status, reason=None)
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra


class BaseHandler(tornado.web.RequestHandler):
    """Security headers, the session and CSRF; errors never show a traceback."""

    @property
    def web(self) -> Any:
        """The :class:`circus.web.app.WebState` of the server."""
        return self.settings["web"]

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)
        self.set_header("Cache-Control", "no-store")

    # --- session -----------------------------------------------------------------------------

    def get_current_user(self) -> Session | None:
        sid = self.get_cookie(SESSION_COOKIE)
        return self.web.sessions.get(sid) if sid else None

    @property
    def session(self) -> Session | None:
        return self.current_user

    def start_session(self, user: str) -> Session:
        old = self.session
        if old is not None:  # no session fixation: a login always gets a fresh id
            self.web.sessions.end(old.sid)
        session = self.web.sessions.create(user)
        self.set_cookie(SESSION_COOKIE, session.sid, **self.cookie_flags())
        self._current_user = session
        return session

    def cookie_flags(self) -> dict[str, Any]:
        """HttpOnly, SameSite=Strict, and Secure under TLS: circushttpd's own, or a proxy's
        that says so in X-Forwarded-Proto (read only with ``--xheaders``)."""
        return {**self.web.cookie_flags, "secure": self.web.tls or self.request.protocol == "https"}

    def end_session(self) -> None:
        session = self.session
        if session is not None:
            self.web.sessions.end(session.sid)
        self.clear_cookie(SESSION_COOKIE, **self.cookie_flags())
        self._current_user = None

    # --- CSRF --------------------------------------------------------------------------------

    @property
    def csrf_token(self) -> str:
        """The token forms and API calls send back: the session's own secret when logged in,
        tornado's double-submit token before (the login form)."""
        session = self.session
        if session is not None:
            return session.csrf
        return self.xsrf_token.decode("ascii")

    def check_xsrf_cookie(self) -> None:
        """Every POST/PUT/PATCH/DELETE must carry the token (``_xsrf`` field or
        ``X-XSRFToken`` header); 403 ``csrf`` otherwise."""
        sent = (
            (self.get_body_argument("_xsrf", None) if self._is_form() else None)
            or self.request.headers.get("X-Xsrftoken")
            or self.request.headers.get("X-Csrftoken")
        )
        if not sent:
            raise ApiError(
                403, "csrf", "missing CSRF token (form field _xsrf or header X-XSRFToken)"
            )
        session = self.session
        if session is not None:
            if not hmac.compare_digest(sent.encode("utf-8", "replace"), session.csrf.encode()):
                raise ApiError(403, "csrf", "wrong CSRF token for this session; reload the page")
            return
        try:
            super().check_xsrf_cookie()
        except tornado.web.HTTPError:
            raise ApiError(403, "csrf", "wrong or expired CSRF token; reload the page") from None

    def _is_form(self) -> bool:
        kind = self.request.headers.get("Content-Type", "")
        return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))

    # --- errors ------------------------------------------------------------------------------

    def is_api(self) -> bool:
        return self.request.path.startswith("/api/")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            error = {"code": exc.code, "message": exc.message, **exc.extra}
            if exc.field is not None:
                error["field"] = exc.field
        else:
            message = self._reason if status_code != 500 else "internal error (see the server log)"
            if isinstance(exc, tornado.web.HTTPError) and exc.log_message and status_code < 500:
                message = exc.log_message % exc.args if exc.args else exc.log_message
            error = {"code": ERROR_CODES.get(status_code, "error"), "message": message}
        if self.is_api() or not self._wants_html():
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(json.dumps({"error": error}))
        else:
            self.render_error_page(status_code, error)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ApiError):
            return  # an answer, not a failure
        super().log_exception(typ, value, tb)

    def _wants_html(self) -> bool:
        return "text/html" in self.request.headers.get("Accept", "")

    def render_error_page(self, status_code: int, error: dict[str, Any]) -> None:
        try:
            self.render("error.html", status_code=status_code, error=error)
        except Exception:  # a broken template must not turn an error into a traceback
            log.exception("error page failed")
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(f"{status_code}: {error['message']}\n")

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        session = self.session
        namespace.update(
            csrf_token=self.csrf_token,
            user=session.user if session else None,
            endpoint=self.web.link.endpoint,
            auth_mode=self.web.authenticator.mode,
        )
        return namespace


class PageHandler(BaseHandler):
    """A page of the console: logged-in users only (others go to ``/login?next=...``)."""

    def prepare(self) -> None:
        if self.session is None:
            if self.request.method in ("GET", "HEAD"):
                target = urllib.parse.quote(self.request.uri or "/", safe="/")
                self.redirect(f"/login?next={target}")
                return
            raise ApiError(401, "login_required", "log in first")


class ApiHandler(BaseHandler):
    """A JSON route under ``/api/``: logged-in users only; errors as JSON."""

    #: Routes that answer without a session (login, session).
    public = False

    def prepare(self) -> None:
        if not self.public and self.session is None:
            raise ApiError(401, "login_required", "log in first (POST /api/login)")

    def reply(self, data: dict[str, Any], status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(data))

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object (``{}`` when empty); 400 otherwise."""
        body = self.request.body
        if len(body) > MAX_JSON_BODY:
            raise ApiError(400, "bad_request", f"request body over {MAX_JSON_BODY} bytes")
        if not body.strip():
            return {}
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "bad_request", f"request body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "bad_request", "request body must be a JSON object")
        return data

    async def call(self, command: str, **props: Any) -> dict[str, Any]:
        """A circusd command; its errors as API errors (503 disconnected, 409 circusd)."""
        try:
            return await self.web.link.call(command, **props)
        except Disconnected as exc:
            raise ApiError(503, "disconnected", f"circusd is not reachable: {exc}") from None
        except Refused as exc:
            if str(exc).startswith("program ") and str(exc).endswith(" not found"):
                raise ApiError(404, "not_found", str(exc)) from None
            raise ApiError(409, "circusd", str(exc)) from None
