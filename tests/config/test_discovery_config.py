"""[circus] multicast_endpoint and multicast_interfaces: discovery announces ``endpoint`` on
loopback only unless the operator names other interfaces, and then only a CURVE-protected TCP
endpoint other machines can reach (circus.config.checks.check_discovery)."""

from __future__ import annotations

import pytest


@pytest.fixture
def curve_keys(tmp_path):
    """A (fake) secret key file and a public keys directory: the config checks they exist."""
    secret = tmp_path / "server.key_secret"
    secret.write_text("not read by the config loader\n")
    public = tmp_path / "authorized"
    public.mkdir()
    return f"curve_secret_key = {secret}\ncurve_public_keys = {public}\n"


def test_off_by_default_and_loopback_when_on(load):
    assert load("[circus]\n").circus.multicast_endpoint is None
    config = load("[circus]\nmulticast_endpoint = udp://237.219.251.97:12027\n")
    assert config.circus.multicast_endpoint == "udp://237.219.251.97:12027"
    assert config.circus.multicast_interfaces == ("lo",)
    assert not config.warnings


@pytest.mark.parametrize(
    "endpoint",
    ["ipc:///run/circus/circus.sock", "tcp://127.0.0.1:5555", "tcp://localhost:5555"],
)
def test_non_loopback_interface_refused_for_an_endpoint_without_curve(load, endpoint):
    (problem,) = load.problems(
        f"""
        [circus]
        endpoint = {endpoint}
        multicast_endpoint = udp://237.219.251.97:12027
        multicast_interfaces = lo eth0
        """
    )
    assert (problem.line, problem.section, problem.key) == (5, "circus", "multicast_interfaces")
    message = str(problem)
    assert "multicast_interfaces = lo eth0" in message and endpoint in message
    assert "on eth0" in message and "CURVE" in message


def test_loopback_curve_endpoint_is_still_refused_beyond_loopback(load, curve_keys):
    """CURVE-protected but bound to 127.0.0.1: nobody on eth0 could connect to it."""
    (problem,) = load.problems(
        "[circus]\nendpoint = tcp://127.0.0.1:5555\n"
        + curve_keys
        + "multicast_endpoint = udp://237.219.251.97:12027\nmulticast_interfaces = eth0\n"
    )
    assert problem.key == "multicast_interfaces"


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3"])
def test_curve_tcp_endpoint_may_be_announced_on_other_interfaces(load, curve_keys, host):
    config = load(
        f"[circus]\nendpoint = tcp://{host}:5555\n"
        + curve_keys
        + "multicast_endpoint = udp://237.219.251.97:12027\nmulticast_interfaces = eth0, lo\n"
    )
    assert config.circus.multicast_interfaces == ("eth0", "lo")


def test_interfaces_without_multicast_endpoint_warn(load):
    config = load("[circus]\nmulticast_interfaces = eth0\n")
    (warning,) = config.warnings
    assert warning.key == "multicast_interfaces" and "no effect" in str(warning)


@pytest.mark.parametrize("value", ["", "eth0/1", "a-very-long-interface-name"])
def test_bad_interface_names(load, value):
    (problem,) = load.problems(
        "[circus]\nmulticast_endpoint = udp://237.219.251.97:12027\n"
        f"multicast_interfaces = {value}\n"
    )
    assert problem.key == "multicast_interfaces" and "interface names" in str(problem)
