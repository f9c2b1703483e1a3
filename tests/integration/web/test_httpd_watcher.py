"""``[circus] httpd = true``: circusd runs circushttpd as its support watcher ``circushttpd``."""

from __future__ import annotations

import os

import psutil
import support
from web_clients import WebClient

from circus.config.support import httpd_token_file


def start_with_httpd(circusd, port: int, extra: str = ""):
    return circusd(
        "[watcher:sleeper]\ncmd = sleep 1000\n",
        circus_extra=f"httpd = true\nhttpd_port = {port}\n{extra}",
    )


def answers(client: WebClient) -> bool:
    try:
        return client.get("/api/session").status == 200
    except OSError:
        return False


def httpd_pid(daemon) -> int:
    support.wait_for(lambda: daemon.try_call("list", name="circushttpd").get("pids"), timeout=20)
    return int(daemon.pids("circushttpd")[0])


def test_httpd_runs_as_a_support_watcher_with_a_token_file_and_ends_with_a_killed_circusd(
    circusd,
):
    """One circusd for both (a circusd and its circushttpd cost ~0.45 s of CPU to start)."""
    port = support.free_port()
    daemon = start_with_httpd(circusd, port)
    assert daemon.ok("status", name="circushttpd")["status"] == "active"
    pid = httpd_pid(daemon)
    assert psutil.Process(pid).ppid() == daemon.proc.pid  # a direct child of circusd
    token_file = httpd_token_file(port)
    support.wait_for(lambda: os.path.exists(token_file), timeout=20)
    assert os.stat(token_file).st_mode & 0o077 == 0
    with open(token_file) as f:
        token = f.read().strip()
    client = WebClient(f"http://localhost:{port}")
    support.wait_for(lambda: answers(client), timeout=20, message="circushttpd listening")
    assert client.login(token=token).status == 200
    watchers = {w["name"]: w for w in client.get("/api/watchers").json()["watchers"]}
    assert watchers["circushttpd"]["support"] is True
    assert watchers["sleeper"]["processes"] == 1

    # circushttpd ends with a killed circusd
    with support.subreaper():
        daemon.kill9()
        support.wait_for(lambda: not support.pid_alive(pid), timeout=30)


def test_httpd_on_every_address_needs_an_auth_file(circusd, capsys):
    daemon = circusd(
        "[watcher:sleeper]\ncmd = sleep 1000\n",
        circus_extra=f"httpd = true\nhttpd_host = 0.0.0.0\nhttpd_port = {support.free_port()}\n",
        start=False,
    )
    from circus.cli import circusd as circusd_cli

    # circusd --check-config as a call of its main, as tests/integration/circusd/test_cli.py
    # does (test_third_party_commands.py runs it as a process)
    code = circusd_cli.main([daemon.config_path, "--check-config"])
    out, err = capsys.readouterr()
    assert code != 0
    assert "httpd_host" in out + err
    assert "httpd_auth_file" in out + err
