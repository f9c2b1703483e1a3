"""Plugins of a circusd whose endpoints need CURVE: circusd passes the keys to circus-plugin,
and the plugin's event subscriber, call() and cast() authenticate."""

from __future__ import annotations

from pathlib import Path

import pytest
import support
from support import wait_for

from circus.client import CircusClient

pytestmark = pytest.mark.timeout(90)


def test_plugin_talks_to_a_curve_circusd(tmp_path, runtime_dir, plugin_package, worker_cmd):
    import zmq.auth

    keys, authorized = tmp_path / "keys", tmp_path / "authorized"
    keys.mkdir()
    authorized.mkdir()
    _, server_secret = zmq.auth.create_certificates(str(keys), "server")
    client_public, client_secret = zmq.auth.create_certificates(str(keys), "plugin")
    (authorized / "plugin.key").write_bytes(Path(client_public).read_bytes())
    out = tmp_path / "calls.jsonl"
    d = support.Circusd(tmp_path / "d")
    d.endpoint = f"tcp://127.0.0.1:{support.free_port()}"
    d.pubsub = f"tcp://127.0.0.1:{support.free_port()}"
    d.write_config(
        f"""
        [watcher:trigger]
        cmd = {worker_cmd} sleep
        use_papa = false

        [watcher:target]
        cmd = {worker_cmd} sleep
        use_papa = false

        [plugin:caller]
        use = myproject.testplugins.Caller
        out = {out}
        curve_secret_key = {client_secret}
        """,
        f"curve_secret_key = {server_secret}\ncurve_public_keys = {authorized}\n",
    )
    try:
        d.start(wait=False)
        with CircusClient(endpoint=d.endpoint, timeout=5, curve_secret_key=client_secret,
                          curve_server_key=str(keys / "server.key")) as client:  # fmt: skip

            def call(command: str, **props: object) -> dict:
                return client.call({"command": command, "properties": props})

            wait_for(lambda: _quiet(call, "status", name="plugin:caller") == "active",
                     timeout=30, message="the plugin runs")  # fmt: skip

            def called() -> bool:  # an event reached the plugin, which called circusd
                call("set", name="trigger", options={"graceful_timeout": 3})
                return out.exists() and '"status": "ok"' in out.read_text()

            wait_for(called, timeout=30, interval=0.3, message="the plugin's call answered")
            wait_for(lambda: call("numprocesses", name="target")["numprocesses"] >= 2,
                     message="the plugin's cast applied")  # fmt: skip
    finally:
        _stop(d, client_secret, keys / "server.key")


def _quiet(call, command: str, **props: object) -> str | None:
    try:
        return call(command, **props).get("status")
    except Exception:
        return None


def _stop(d, client_secret: str, server_public: Path) -> None:
    """cleanup() talks without CURVE: quit with the keys first."""
    import contextlib

    with contextlib.suppress(Exception), CircusClient(
        endpoint=d.endpoint, timeout=5, curve_secret_key=client_secret,
        curve_server_key=str(server_public),
    ) as client:  # fmt: skip
        client.call({"command": "quit", "properties": {"stop_workers": True}})
    d.cleanup()
