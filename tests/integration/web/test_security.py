"""circushttpd is secure by default: every route needs a login, every change a CSRF token,
cookies and headers are locked down, wrong passwords are rate limited, and a bind reachable
from other machines refuses to start without password authentication."""

from __future__ import annotations

import asyncio
import io
import os
import re
import ssl
import stat
import subprocess
import sys
import urllib.request

import pytest
import support
from web_clients import WebClient, WsClient

from circus.cli import circushttpd

# circus.web.app and circus.web.base (tornado.web) are imported by the tests that use them, not
# at collection: tornado.web costs every xdist worker ~60 ms of CPU, and each collects every
# file (docs/dev/test-suite.md, "pytest's own cost")

PUBLIC = {"/login", "/logout", "/api/login", "/api/logout", "/api/session"}


def concrete(pattern: str) -> str:
    """A real path for a route pattern: NAME -> sleeper, ACTION -> stop."""
    path = pattern.replace("([^/]+)", "sleeper", 1).replace("([^/]+)", "sleeper")
    return path.replace("([a-z]+)", "stop")


def protected_paths() -> list[str]:
    from circus.web.app import routes

    paths = [concrete(p) for p, _ in routes() if p not in PUBLIC]
    assert "/ws" in paths and "/api/watchers" in paths and "/" in paths
    return paths


@pytest.mark.read_only
def test_every_route_refused_without_a_login(daemon, httpd):
    before = daemon.pids("sleeper")
    anonymous = WebClient(httpd.base)
    anonymous.session()  # has a CSRF token, but no session
    for path in protected_paths():
        if path == "/ws":
            continue  # below
        got = anonymous.get(path, headers={"Accept": "text/html"})
        if path.startswith("/api/"):
            assert got.status == 401, (path, got.body)
            assert got.error["code"] == "login_required"
        else:
            assert got.status == 302, (path, got.status)
            assert got.headers["Location"].startswith("/login?next=")
        posted = anonymous.post(path, {})
        assert posted.status in (401, 405), (path, posted.status, posted.body)
    assert daemon.pids("sleeper") == before  # /api/watchers/sleeper/stop did nothing

    async def websocket():
        with pytest.raises(Exception, match="401"):
            await WsClient.connect(anonymous, cookie=False)

    asyncio.run(websocket())


@pytest.mark.puts_back
def test_state_changes_need_the_session_csrf_token(daemon, httpd):
    client = httpd.client()
    before = daemon.pids("sleeper")
    missing = client.post("/api/watchers/sleeper/stop", csrf=False)
    assert missing.status == 403 and missing.error["code"] == "csrf"
    wrong = client.post("/api/watchers/sleeper/stop", headers={"X-XSRFToken": "x" * 43})
    assert wrong.status == 403 and wrong.error["code"] == "csrf"
    # tornado's double-submit token (the _xsrf cookie's) is not enough once logged in
    xsrf_cookie = client.cookie("_xsrf").value
    double = client.post("/api/watchers/sleeper/stop", headers={"X-XSRFToken": xsrf_cookie})
    assert double.status == 403
    form = client.request("POST", "/logout", form={}, csrf=False)
    assert form.status == 403
    assert daemon.pids("sleeper") == before
    assert client.get("/api/watchers").status == 200  # still logged in
    assert client.post("/api/watchers/sleeper/incr").status == 200  # with the token: fine


@pytest.mark.read_only
def test_login_needs_a_csrf_token_too(httpd):
    client = WebClient(httpd.base)
    resp = client.post("/api/login", {"token": httpd.token}, csrf=False)
    assert resp.status == 403 and resp.error["code"] == "csrf"


@pytest.mark.read_only
def test_session_cookie_flags_and_fresh_session_id(httpd):
    client = WebClient(httpd.base)
    client.session()
    resp = client.post("/api/login", {"token": httpd.token})
    cookie = [v for k, v in resp.headers.items() if k == "Set-Cookie" and "circus_session" in v]
    assert cookie, resp.headers
    flags = cookie[0].lower()
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
    assert "secure" not in flags  # plain http: a Secure cookie would never come back
    first = client.cookie("circus_session").value
    client.csrf = resp.json()["csrf"]
    client.post("/api/login", {"token": httpd.token})
    assert client.cookie("circus_session").value != first  # no session fixation


@pytest.mark.read_only
def test_security_headers_everywhere(httpd):
    from circus.web.base import CSP

    client = httpd.client()
    for path in ("/", "/api/watchers", "/api/nothing", "/login", "/nothing"):
        resp = client.get(path, headers={"Accept": "text/html"})
        assert resp.headers["Content-Security-Policy"] == CSP, path
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    pages = [p for p in protected_paths() if not p.startswith(("/api/", "/ws"))] + ["/login"]
    for path in pages:
        page = client.get(path, headers={"Accept": "text/html"}).body.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), f"inline script in {path}"
        assert not re.search(r"\son[a-z]+\s*=", page), f"inline event handler in {path}"
        assert not re.search(r"<style|\sstyle\s*=", page), f"inline style in {path}"


@pytest.mark.read_only
def test_wrong_logins_are_rate_limited(httpd):
    """Counted per address: this client connects from 127.0.0.2 (the module's other tests,
    from 127.0.0.1, still log in on this shared circushttpd)."""
    client = WebClient(httpd.base, source="127.0.0.2")
    client.session()
    for _ in range(5):
        assert client.post("/api/login", {"token": "wrong" * 8}).status == 401
    blocked = client.post("/api/login", {"token": httpd.token})  # even the right one, for now
    assert blocked.status == 429
    assert blocked.error["code"] == "rate_limited" and blocked.error["retry_after"] > 0
    form = client.request("POST", "/login", form={"token": httpd.token, "_xsrf": client.csrf})
    assert form.status == 429 and b"try again" in form.body
    assert httpd.client().get("/api/watchers").status == 200  # 127.0.0.1 is not blocked


@pytest.mark.read_only
def test_login_redirects_only_to_local_paths(httpd):
    client = WebClient(httpd.base)
    for target, expected in (
        ("/watchers/x", "/watchers/x"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
    ):
        client.jar.clear()
        resp = client.get(f"/login?token={httpd.token}&next={urllib.parse.quote(target)}")
        assert resp.status == 302 and resp.headers["Location"] == expected, target


@pytest.mark.read_only  # the logout ends this test's own session only
def test_websocket_refuses_other_origins_and_closes_on_logout(httpd):
    client = httpd.client()

    async def scenario():
        with pytest.raises(Exception, match="403"):
            await WsClient.connect(client, origin="http://evil.example")
        ws = await WsClient.connect(client)
        await ws.wait_for(lambda m: m["type"] == "hello")
        assert client.post("/api/logout").status == 200
        # circushttpd may still push its link's state (type circusd, sent when its event
        # subscriber connects) before the logout closes the socket; nothing else may come
        message = await ws.next()
        while message is not None and message["type"] == "circusd":
            message = await ws.next()
        assert message is None  # closed by the server

    asyncio.run(scenario())
    assert client.get("/api/watchers").status == 401


def run_httpd(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "circus.cli.circushttpd", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_non_loopback_bind_refused_without_auth_file(capsys):
    """circushttpd's main() refuses before it sets anything up (the exit of a circushttpd
    process that refuses to start: test_auth_file_readable_by_others_refused)."""
    capsys.readouterr()
    assert circushttpd.main(["--host", "0.0.0.0", "--port", str(support.free_port())]) == 1
    assert "refusing to start without --auth-file" in capsys.readouterr().err
    for host in ("::", ""):  # the same check, without a process each
        args = circushttpd.build_parser().parse_args(["--host", host])
        with pytest.raises(circushttpd.StartError, match="refusing to start without --auth-file"):
            circushttpd.check_args(args)


def add_user_in_process(monkeypatch, capsys, auth: str, name: str, stdin: str):
    """``circushttpd --auth-file AUTH --add-user NAME`` with ``stdin``, as a call of its main()
    (one test runs it as a process): its exit status and stderr."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    status = circushttpd.main(["--auth-file", auth, "--add-user", name])
    return status, capsys.readouterr().err


def test_add_user_then_password_login(
    shared_daemon, httpd_factory, tmp_path, runtime_dir, monkeypatch, capsys
):
    auth = str(tmp_path / "users")
    added = run_httpd("--auth-file", auth, "--add-user", "alice", stdin="s3cret pass\n")
    assert added.returncode == 0, added.stderr
    assert stat.S_IMODE(os.stat(auth).st_mode) == 0o600
    with open(auth) as f:
        text = f.read()
    assert text.startswith("alice:scrypt$") and "s3cret" not in text
    status, err = add_user_in_process(monkeypatch, capsys, auth, "bad name", "x\n")
    assert status == 1 and "invalid user name" in err
    status, err = add_user_in_process(monkeypatch, capsys, auth, "bob", "\n")
    assert status == 1 and "empty password" in err
    with open(auth) as f:
        assert f.read() == text  # neither refused user was written

    # a password login may bind every address
    httpd = httpd_factory(shared_daemon.endpoint, "--auth-file", auth, host="0.0.0.0")
    client = WebClient(httpd.base)
    assert client.login(username="alice", password="wrong").status == 401
    assert client.login(username="mallory", password="s3cret pass").status == 401
    missing = client.login(username="alice")
    assert missing.status == 400 and missing.error["field"] == "password"
    assert client.login(username="alice", password="s3cret pass").status == 200
    assert client.get("/api/watchers").status == 200
    assert client.get("/api/session").json()["user"] == "alice"


def test_auth_file_readable_by_others_refused(tmp_path, monkeypatch, capsys):
    auth = tmp_path / "users"
    assert add_user_in_process(monkeypatch, capsys, str(auth), "a", "pw\n") == (0, "")
    os.chmod(auth, 0o644)
    result = run_httpd("--auth-file", str(auth), "--port", str(support.free_port()))
    assert result.returncode == 1 and "chmod 600" in result.stderr


def test_tls_marks_the_session_cookie_secure(shared_daemon, httpd_factory, tmp_path, runtime_dir):
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",  # an RSA key costs ~10x the CPU; any key will do
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    httpd = httpd_factory(shared_daemon.endpoint, "--certfile", cert, "--keyfile", key, tls=True)
    context = ssl.create_default_context(cafile=cert)
    context.check_hostname = False
    client = WebClient(httpd.base, context=context)
    client.session()
    resp = client.post("/api/login", {"token": httpd.token})
    assert resp.status == 200
    cookie = [v for k, v in resp.headers.items() if k == "Set-Cookie" and "circus_session" in v]
    assert "secure" in cookie[0].lower()
