"""Log in and out: the ``/login`` form, ``/logout``, and their JSON twins under ``/api/``.

A login is checked by :class:`circus.web.auth.Authenticator` (password hashing runs off the
event loop), counted by the rate limiter when wrong, and starts a fresh session (new id, new
CSRF secret) when right.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from circus.web.base import ApiError, ApiHandler, BaseHandler

log = logging.getLogger(__name__)


def safe_next(target: str | None) -> str:
    """Only local paths are followed after a login (no open redirect to another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def check_credentials(handler: BaseHandler, fields: dict[str, Any]) -> str:
    """The user name for valid credentials; :class:`ApiError` 401/429/400 otherwise."""
    web = handler.web
    address = handler.request.remote_ip or "?"
    wait = web.limiter.retry_after(address)
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            f"too many wrong logins; try again in {int(wait) + 1} s",
            retry_after=int(wait) + 1,
        )
    authenticator = web.authenticator
    token, user, password = (fields.get(k) for k in ("token", "username", "password"))
    for name, value in (("token", token), ("username", user), ("password", password)):
        if value is not None and not isinstance(value, str):
            raise ApiError(400, "invalid", f"{name} must be a string", field=name)
    if authenticator.mode == "token":
        if not token:
            raise ApiError(400, "invalid", "token is required", field="token")
        ok, user = authenticator.check_token(token), "token"
    else:
        if not user:
            raise ApiError(400, "invalid", "username is required", field="username")
        if not password:
            raise ApiError(400, "invalid", "password is required", field="password")
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, authenticator.check_password, user, password)
    if not ok:
        web.limiter.failed(address)
        log.warning("wrong login for %r from %s", user, address)
        raise ApiError(
            401,
            "bad_credentials",
            "wrong user name or password" if user != "token" else "wrong token",
        )
    log.info("%s logged in from %s", user, address)
    return str(user)


class LoginPage(BaseHandler):
    """``GET /login`` renders the form (``?token=`` logs in at once); ``POST /login`` checks it."""

    async def get(self) -> None:
        token = self.get_query_argument("token", None)
        if token and self.web.authenticator.mode == "token":
            await self._login({"token": token})
            return
        self.render("login.html", next=safe_next(self.get_query_argument("next", None)), error=None)

    async def post(self) -> None:
        fields = {k: self.get_body_argument(k, None) for k in ("token", "username", "password")}
        await self._login(fields)

    async def _login(self, fields: dict[str, Any]) -> None:
        target = safe_next(self.get_argument("next", None))
        try:
            user = await check_credentials(self, fields)
        except ApiError as exc:
            self.set_status(exc.status_code)
            self.render("login.html", next=target, error=exc.message)
            return
        self.start_session(user)
        self.redirect(target)


class LogoutPage(BaseHandler):
    """``POST /logout``: ends the session, back to the login form."""

    def post(self) -> None:
        self.end_session()
        self.redirect("/login")


class ApiLogin(ApiHandler):
    """``POST /api/login`` ``{"username", "password"}`` or ``{"token"}``."""

    public = True

    async def post(self) -> None:
        user = await check_credentials(self, self.json_body())
        session = self.start_session(user)
        self.reply({"user": user, "csrf": session.csrf})


class ApiLogout(ApiHandler):
    """``POST /api/logout``."""

    public = True

    def post(self) -> None:
        self.end_session()
        self.reply({"ok": True})


class ApiSession(ApiHandler):
    """``GET /api/session``: who is logged in and the CSRF token (answers logged out too)."""

    public = True

    def get(self) -> None:
        session = self.session
        link = self.web.link
        self.reply(
            {
                "user": session.user if session else None,
                "auth": self.web.authenticator.mode,
                "csrf": self.csrf_token,
                "endpoint": link.endpoint if session else None,
                "connected": link.connected if session else None,
            }
        )
