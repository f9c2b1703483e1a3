"""Clients for circushttpd tests: HTTP with a cookie jar and CSRF token, a WebSocket, and a
circushttpd subprocess."""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import support


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def error(self) -> dict:
        return self.json()["error"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class _FromAddress(urllib.request.HTTPHandler):
    """http:// connections from a given local address (127.0.0.2: another client)."""

    def __init__(self, address: str):
        super().__init__()
        self.address = address

    def http_open(self, req):
        connect = functools.partial(http.client.HTTPConnection, source_address=(self.address, 0))
        return self.do_open(connect, req)


class WebClient:
    """A browser-like client: a cookie jar, the CSRF token, no automatic redirects; with
    ``source``, its connections come from that local address."""

    def __init__(self, base: str, context=None, source: str | None = None):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()]
        if source is not None:
            handlers.append(_FromAddress(source))
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self.opener = urllib.request.build_opener(*handlers)
        self.csrf: str | None = None

    def request(self, method, path, body=None, headers=None, csrf=True, form=None) -> Response:
        headers = dict(headers or {})
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            headers.setdefault("X-XSRFToken", self.csrf)
        if method not in ("GET", "HEAD") and data is None:
            data = b""
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with self.opener.open(req, timeout=20) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.headers, exc.read())

    def get(self, path, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw) -> Response:
        return self.request("POST", path, body if body is not None else {}, **kw)

    def session(self) -> dict:
        data = self.get("/api/session").json()
        self.csrf = data["csrf"]
        return data

    def login(self, **credentials) -> Response:
        self.session()
        resp = self.post("/api/login", credentials)
        if resp.status == 200:
            self.csrf = resp.json()["csrf"]
        return resp

    def cookie(self, name: str):
        return next((c for c in self.jar if c.name == name), None)


class Httpd:
    """A circushttpd subprocess."""

    def __init__(
        self, workdir, endpoint: str, *args: str, host: str = "127.0.0.1", tls: bool = False
    ):
        self.port = support.free_port()
        self.token_file = os.path.join(str(workdir), "httpd.token")
        self.log_path = os.path.join(str(workdir), "httpd.log")
        argv = [sys.executable, "-m", "circus.cli.circushttpd", "--host", host]
        argv += ["--port", str(self.port), "--endpoint", endpoint, "--log-level", "debug"]
        if "--auth-file" not in args:
            argv += ["--token-file", self.token_file]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv + list(args), stdout=log, stderr=subprocess.STDOUT)
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._context = None
        if tls:
            import ssl

            self._context = ssl.create_default_context()
            self._context.check_hostname = False
            self._context.verify_mode = ssl.CERT_NONE
        support.wait_for(self._ready, timeout=20, message="circushttpd listening")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"circushttpd exited {self.proc.returncode}:\n{self.log()}")
        try:
            url = self.base + "/api/session"
            urllib.request.urlopen(url, timeout=2, context=self._context).read()
            return True
        except OSError:
            return False

    @property
    def token(self) -> str:
        with open(self.token_file) as f:
            return f.read().strip()

    def client(self, login: bool = True) -> WebClient:
        client = WebClient(self.base)
        if login:
            resp = client.login(token=self.token)
            assert resp.status == 200, resp.body
        return client

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class WsClient:
    """A WebSocket to circushttpd's /ws with the session cookie of a :class:`WebClient`."""

    def __init__(self, conn):
        self.conn = conn
        self.pending: list[dict] = []
        self.batches = 0  # batch frames received

    @classmethod
    async def connect(cls, web: WebClient, origin: str | None = None, cookie: bool = True):
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        headers = {"Origin": origin or web.base}
        if cookie:
            headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in web.jar)
        url = web.base.replace("https://", "wss://").replace("http://", "ws://") + "/ws"
        request = HTTPRequest(url, headers=headers, validate_cert=False)
        return cls(await websocket_connect(request))

    async def send(self, message: dict) -> None:
        await self.conn.write_message(json.dumps(message))

    async def next(self, timeout: float = 15.0) -> dict | None:
        """The next message (those of a ``batch`` frame one by one); None once closed."""
        import asyncio

        if self.pending:
            return self.pending.pop(0)
        text = await asyncio.wait_for(self.conn.read_message(), timeout)
        if text is None:
            return None
        message = json.loads(text)
        if message.get("type") == "batch":
            self.batches += 1
            self.pending = list(message["messages"])
            return self.pending.pop(0)
        return message

    async def wait_for(self, predicate, timeout: float = 20.0) -> dict:
        """The first message matching ``predicate`` (others are skipped)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no matching websocket message in time")
            try:
                message = await self.next(remaining)
            except TimeoutError:
                continue
            if message is None:
                raise AssertionError("websocket closed")
            if predicate(message):
                return message

    def close(self) -> None:
        self.conn.close()
