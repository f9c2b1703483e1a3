"""A real circusd plus a real circushttpd in front of it, for the browser tests, the
screenshots (tests/web/screenshots.py) and the benchmark (bench/web.py).

circushttpd runs in token mode on 127.0.0.1 and a free port, its token in a 0600 file;
:meth:`Console.login` opens ``/login?token=...`` in a browser context, which then holds the
session cookie. With ``stats=True`` circusd runs circusd-stats (``statsd = true``, the support
watcher ``circusd-stats``). :meth:`Console.cleanup` ends circushttpd, circusd (and with it
circusd-stats), the kernel and the workers.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
import urllib.parse

import browser
import support


class Console:
    """circusd (``support.Circusd``) and circushttpd on a free port, in ``workdir``."""

    def __init__(self, workdir, config_body: str = "", circus_extra: str = "", stats: bool = False):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.run_dir = os.path.join(self.workdir, "run")
        os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
        daemon_dir = os.path.join(self.workdir, "circusd")
        self.stats_endpoint = f"ipc://{daemon_dir}/stats.sock" if stats else None
        if stats:
            circus_extra += f"statsd = true\nstats_endpoint = {self.stats_endpoint}\n"
        self.circusd = support.Circusd(daemon_dir, config_body, circus_extra)
        self.port = support.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token_path = os.path.join(self.workdir, "token")
        self.httpd_log = os.path.join(self.workdir, "circushttpd.log")
        self.httpd: subprocess.Popen | None = None

    @property
    def token(self) -> str:
        with open(self.token_path) as f:
            return f.read().strip()

    def env(self) -> dict[str, str]:
        return {**os.environ, "XDG_RUNTIME_DIR": self.run_dir}

    def start(self) -> Console:
        self.start_circusd()
        self.start_httpd()
        return self

    def start_circusd(self) -> None:
        """Start (or start again) circusd, with our private runtime directory."""
        old = os.environ.get("XDG_RUNTIME_DIR")
        os.environ["XDG_RUNTIME_DIR"] = self.run_dir  # circusd inherits it (support.Circusd)
        try:
            self.circusd.start()
        finally:
            if old is None:
                os.environ.pop("XDG_RUNTIME_DIR", None)
            else:
                os.environ["XDG_RUNTIME_DIR"] = old

    def start_httpd(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "circus.cli.circushttpd",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--endpoint",
            self.circusd.endpoint,
            "--token-file",
            self.token_path,
            "--log-level",
            "debug",
        ]
        with open(self.httpd_log, "ab") as log:
            self.httpd = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        support.wait_for(self._httpd_ready, timeout=20, message="circushttpd ready")

    def _httpd_ready(self) -> bool:
        if self.httpd is not None and self.httpd.poll() is not None:
            raise AssertionError(f"circushttpd exited with {self.httpd.returncode}:\n{self.log()}")
        try:
            return self.get("/api/session")[0] == 200
        except OSError:
            return False

    def log(self) -> str:
        with open(self.httpd_log, errors="replace") as f:
            return f.read()

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
        """``GET path`` without a session: (status, JSON body or {})."""
        return self.request("GET", path, headers=headers)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(data or b"{}")
        except ValueError:
            return response.status, {"_raw": data.decode("utf-8", "replace")}

    def login(self, context, path: str = "/"):
        """A new page of ``context`` (Playwright), logged in, showing ``path``."""
        return self.open(context.new_page(), path)

    def open(self, page, path: str = "/"):
        """``page`` logs in (a new session) and shows ``path``; returns ``page``."""
        page.goto(f"{self.url}/login?token={self.token}&next={path}")
        return page

    def visit(self, page, path: str = "/"):
        """``page`` shows ``path``, with the session its context has, or a new one if that one
        is gone (sent to the login form); returns ``page``. (A new login ends the context's
        session: a request of the page shown before, still in flight, would then get a 401 and
        send that page to the login form, aborting this navigation.)"""
        page.goto(f"{self.url}{path}")
        if urllib.parse.urlsplit(page.url).path == "/login":
            self.open(page, path)
        return page

    def ready(self, page) -> None:
        """Wait until ``page`` has rendered (``body[data-ready=true]``); on a time-out fail with
        what the page did, the daemons' states and logs, and what circushttpd answers now."""
        browser.wait_ready(page, lambda: self.explain(page.context))

    def explain(self, context=None) -> str:
        """The state of circusd and circushttpd: their processes, their logs' ends and, with
        a browser ``context``, circushttpd's answer to ``/api/watchers`` with its session."""
        parts = []
        for name, proc in (("circushttpd", self.httpd), ("circusd", self.circusd.proc)):
            parts.append(f"{name}: {_process_state(proc)}")
        if context is not None:
            cookies = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies(self.url))
            try:
                status, body = self.get("/api/watchers", headers={"Cookie": cookies})
                parts.append(f"GET /api/watchers now: {status} {json.dumps(body)[:600]}")
            except OSError as exc:
                parts.append(f"GET /api/watchers now: {exc!r}")
        parts.append(f"circushttpd's log (end):\n{self.log()[-6000:]}")
        parts.append(f"circusd's log (end):\n{self.circusd.log()[-4000:]}")
        return "\n".join(parts)

    def stop_httpd(self) -> None:
        _terminate(self.httpd)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.stop_httpd()
        self.circusd.cleanup()


def _process_state(proc: subprocess.Popen | None) -> str:
    """``pid N, State: ...`` from /proc, or how it ended."""
    if proc is None:
        return "not started"
    if proc.poll() is not None:
        return f"pid {proc.pid} exited with {proc.returncode}"
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            state = next((line.strip() for line in f if line.startswith("State:")), "?")
    except OSError as exc:
        state = repr(exc)
    return f"pid {proc.pid}, {state}"


def _terminate(proc: subprocess.Popen | None) -> None:
    """SIGTERM ``proc`` (SIGKILL after 10 s) and reap it."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
