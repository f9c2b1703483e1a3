"""Fixtures for circushttpd tests: a real circusd and a real circushttpd over real HTTP."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
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


class WebClient:
    """A browser-like client: a cookie jar, the CSRF token, no automatic redirects."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
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

    def __init__(self, workdir, endpoint: str, *args: str, host: str = "127.0.0.1"):
        self.port = support.free_port()
        self.token_file = os.path.join(str(workdir), "httpd.token")
        self.log_path = os.path.join(str(workdir), "httpd.log")
        argv = [sys.executable, "-m", "circus.cli.circushttpd", "--host", host]
        argv += ["--port", str(self.port), "--endpoint", endpoint, "--log-level", "debug"]
        if "--auth-file" not in args:
            argv += ["--token-file", self.token_file]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv + list(args), stdout=log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        support.wait_for(self._ready, timeout=20, message="circushttpd listening")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"circushttpd exited {self.proc.returncode}:\n{self.log()}")
        try:
            urllib.request.urlopen(self.base + "/api/session", timeout=2).read()
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


SLEEPER = """
[watcher:sleeper]
cmd = sleep 1000
numprocesses = 2
"""


@pytest.fixture
def httpd_factory(tmp_path):
    """``httpd_factory(endpoint, *args)`` starts a circushttpd; all stopped afterwards."""
    started: list[Httpd] = []

    def factory(endpoint: str, *args: str, host: str = "127.0.0.1") -> Httpd:
        server = Httpd(tmp_path / f"h{len(started)}", endpoint, *args, host=host)
        started.append(server)
        return server

    (tmp_path / "h0").mkdir(exist_ok=True)
    for i in range(1, 4):
        (tmp_path / f"h{i}").mkdir(exist_ok=True)
    yield factory
    for server in started:
        with contextlib.suppress(Exception):
            server.stop()


@pytest.fixture
def daemon(circusd):
    """A circusd with one watcher, ``sleeper`` (2 processes)."""
    return circusd(SLEEPER)


@pytest.fixture
def httpd(daemon, httpd_factory):
    """A circushttpd (token login) connected to ``daemon``."""
    return httpd_factory(daemon.endpoint)


@pytest.fixture
def circusd(tmp_path, runtime_dir):
    """Factory: ``circusd(body, circus_extra="")`` starts a circusd; all cleaned up after."""
    started: list[support.Circusd] = []

    def factory(body: str, circus_extra: str = "", start: bool = True, args=()):
        daemon = support.Circusd(tmp_path / f"d{len(started)}", body, circus_extra)
        started.append(daemon)
        if start:
            daemon.start(*args)
        return daemon

    yield factory
    for daemon in started:
        daemon.cleanup()
