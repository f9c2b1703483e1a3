"""circushttpd --discover: the Circusds page and /api/discovery list the circusds that answered,
behind the console's login and CSRF checks. The circusd runs in a network namespace and
announces its CURVE endpoint on its veth; circushttpd (here) probes on the test bridge only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import netns
import pytest
import support

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))  # web_clients.py
from web_clients import Httpd, WebClient

from circus.cli import circushttpd

pytestmark = pytest.mark.timeout(180)

GROUP = "udp://237.219.251.97:12027"


def test_circusds_page_lists_what_answered(tmp_path, curve_keys):
    netns.require()
    keys = curve_keys
    with netns.Namespaces(1, multicast=True) as ns:
        daemon = support.Circusd(tmp_path / "d")
        daemon.endpoint = "tcp://0.0.0.0:5555"
        daemon.write_config(
            "[watcher:sleeper]\ncmd = sleep 600\nuse_papa = false\n",
            f"curve_secret_key = {keys['server_secret']}\n"
            f"curve_public_keys = {keys['authorized']}\n"
            f"multicast_endpoint = {GROUP}\nmulticast_interfaces = lo {ns[0].inner}\n",
        )
        with open(daemon.log_path, "ab") as log:
            ns.popen(
                0,
                [*support.CIRCUSD, daemon.config_path],
                cwd=daemon.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        support.wait_for(lambda: " ready: " in daemon.log(), timeout=40, message="circusd ready")
        endpoint = f"tcp://{ns[0].address}:5555"
        (tmp_path / "h").mkdir()
        httpd = Httpd(
            tmp_path / "h",
            endpoint,
            "--curve-secret-key",
            keys["client_secret"],
            "--curve-server-key",
            keys["server_public"],
            "--discover",
            "--discover-interface",
            ns.bridge,
        )
        try:
            stranger = WebClient(httpd.base)
            assert stranger.get("/api/discovery").status == 401
            assert stranger.get("/connect").status == 302  # to the login form
            client = httpd.client()

            def listed() -> list[dict]:
                return client.get("/api/discovery").json().get("circusds") or []

            (entry,) = support.wait_for(listed, timeout=30, message="the circusd is listed")
            assert (entry["endpoint"], entry["sender"], entry["curve"]) == (
                endpoint,
                ns[0].address,
                True,
            )
            assert entry["curve_public_key"] == keys["key"]
            state = client.get("/api/discovery").json()
            assert state["enabled"] is True and state["current"] == endpoint
            assert state["interfaces"] == [ns.bridge] and state["error"] is None
            page = client.get("/connect")
            assert page.status == 200 and b'id="discovery-table"' in page.body
            assert b'href="/connect"' in client.get("/").body  # in the navigation
            # a probe on demand needs the session's CSRF token
            assert client.post("/api/discovery", csrf=False).status == 403
            again = client.post("/api/discovery")
            assert again.status == 200 and again.json()["circusds"][0]["endpoint"] == endpoint
        finally:
            httpd.stop()


def test_discovery_off_by_default_and_bad_options(tmp_path, runtime_dir):
    (tmp_path / "h").mkdir()
    httpd = Httpd(tmp_path / "h", f"ipc://{tmp_path}/nobody.sock")
    try:
        client = httpd.client()
        assert client.get("/api/discovery").json() == {
            "enabled": False,
            "current": f"ipc://{tmp_path}/nobody.sock",
        }
        refused = client.post("/api/discovery")
        assert refused.status == 409 and refused.error["code"] == "disabled"
    finally:
        httpd.stop()
    # one circushttpd process refuses a bad option (its exit code and message); the other bad
    # options go through the same check here (it runs before anything starts)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "circus.cli.circushttpd",
            "--port",
            "0",
            "--discover-interface",
            "lo",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert result.returncode == circushttpd.EXIT_CANNOT_START, result.stderr
    assert "circushttpd: --discover-interface needs --discover" in result.stderr
    for args, message in [
        (["--discover", "--discover-interface", "nosuch0"], "no network interface named"),
        (["--discover", "--multicast", "udp://10.0.0.1:1"], "--multicast: expected udp://"),
    ]:
        with pytest.raises(circushttpd.StartError, match=message):
            circushttpd._check_discovery_args(circushttpd.build_parser().parse_args(args))
