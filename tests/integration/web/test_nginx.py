"""deploy/nginx-circushttpd.conf works: nginx terminates TLS in front of circushttpd, passes
the WebSocket upgrade and marks the session cookie Secure (skipped without nginx)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import ssl
import subprocess

import pytest
import support
from web_clients import WebClient, WsClient

NGINX = shutil.which("nginx")
EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "deploy", "nginx-circushttpd.conf"
)

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


def site_config(workdir, upstream: int, http_port: int, https_port: int) -> str:
    """The example, with this test's ports and certificate, IPv4 only."""
    with open(EXAMPLE) as f:
        text = f.read()
    text = text.replace("127.0.0.1:8080", f"127.0.0.1:{upstream}")
    text = re.sub(r"\n\s*listen \[::\][^\n]*", "", text)
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    text = text.replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
    text = text.replace("/etc/ssl/certs/console.example.com.pem", f"{workdir}/cert.pem")
    return text.replace("/etc/ssl/private/console.example.com.key", f"{workdir}/key.pem")


@pytest.fixture
def nginx(tmp_path, daemon, httpd_factory):
    workdir = tmp_path / "nginx"
    workdir.mkdir()
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
            f"{workdir}/key.pem",
            "-out",
            f"{workdir}/cert.pem",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    httpd = httpd_factory(daemon.endpoint, "--xheaders")
    http_port, https_port = support.free_port(), support.free_port()
    (workdir / "site.conf").write_text(site_config(workdir, httpd.port, http_port, https_port))
    (workdir / "nginx.conf").write_text(
        f"pid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; include {workdir}/site.conf; }}\n"
    )
    proc = subprocess.Popen(
        [NGINX, "-c", f"{workdir}/nginx.conf", "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        support.wait_for(lambda: _listening(https_port, proc), timeout=20, message="nginx up")
        yield httpd, http_port, https_port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _listening(port: int, proc) -> bool:
    import socket

    assert proc.poll() is None, "nginx exited"
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_console_through_nginx_with_tls_and_websocket(nginx):
    httpd, http_port, https_port = nginx
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    plain = WebClient(f"http://127.0.0.1:{http_port}")
    redirect = plain.get("/api/watchers")
    assert redirect.status == 301 and redirect.headers["Location"].startswith("https://")

    client = WebClient(f"https://127.0.0.1:{https_port}", context=context)
    client.session()
    resp = client.post("/api/login", {"token": httpd.token})
    assert resp.status == 200, resp.body
    cookie = [v for k, v in resp.headers.items() if k == "Set-Cookie" and "circus_session" in v]
    assert "secure" in cookie[0].lower() and "httponly" in cookie[0].lower()
    client.csrf = resp.json()["csrf"]
    # Secure: set by circushttpd from nginx's X-Forwarded-Proto (--xheaders)
    assert client.get("/api/watchers").json()["watchers"][0]["name"] == "sleeper"
    assert resp.headers["Strict-Transport-Security"]

    async def websocket():
        ws = await WsClient.connect(client)
        hello = await ws.wait_for(lambda m: m["type"] == "hello")
        assert hello["connected"] is True
        assert client.post("/api/watchers/sleeper/incr").status == 200
        await ws.wait_for(lambda m: m["type"] == "event" and m["event"] == "spawn")
        ws.close()

    asyncio.run(asyncio.wait_for(websocket(), 60))
