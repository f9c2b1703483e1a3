"""circus.wire.ssh without a server: the --ssh syntax, the forward targets and which message
each ssh log gets (the messages themselves are checked against a real sshd in
tests/integration/circusd/test_ssh.py)."""

from __future__ import annotations

import pytest

from circus.wire.ssh_address import SshServer, TunnelError, forward_target
from circus.wire.ssh_log import classify


@pytest.mark.parametrize(
    ("text", "host", "user", "port", "shown"),
    [
        ("web1", "web1", None, None, "web1"),
        ("deploy@web1", "web1", "deploy", None, "deploy@web1"),
        ("deploy@web1.example.com:2222", "web1.example.com", "deploy", 2222, None),
        ("root@[::1]:22", "::1", "root", 22, "root@[::1]:22"),
        ("10.0.0.1:22", "10.0.0.1", None, 22, None),
    ],
)
def test_server_syntax(text, host, user, port, shown):
    server = SshServer.parse(text)
    assert (server.host, server.user, server.port) == (host, user, port)
    assert str(server) == (shown or text)
    assert server.destination == (f"{user}@{host}" if user else host)


@pytest.mark.parametrize("text", ["", "a@b:c", "a@b:0", "a@b:70000", "u@::1", "a b", "@host"])
def test_bad_server_syntax(text):
    with pytest.raises(TunnelError, match="expected user@host or user@host:port"):
        SshServer.parse(text)


@pytest.mark.parametrize(
    ("endpoint", "target"),
    [
        ("ipc:///run/circus/circus.sock", "/run/circus/circus.sock"),
        ("tcp://127.0.0.1:5555", "127.0.0.1:5555"),
        ("tcp://*:5555", "127.0.0.1:5555"),
        ("tcp://0.0.0.0:5555", "127.0.0.1:5555"),
    ],
)
def test_forward_targets(endpoint, target):
    assert forward_target(endpoint) == target


@pytest.mark.parametrize("endpoint", ["udp://1.2.3.4:5", "tcp://host", "inproc://x", "ipc://"])
def test_endpoints_that_cannot_be_forwarded(endpoint):
    with pytest.raises(TunnelError, match="cannot go through an ssh tunnel"):
        forward_target(endpoint)


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ("root@h: Permission denied (publickey).", "refused the login"),
        ("Host key verification failed.", "is unknown (not in known_hosts)"),
        (
            "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!\nOffending ED25519 key in "
            "/k/known_hosts:3\nHost key verification failed.",
            "has CHANGED since it was recorded (recorded in /k/known_hosts:3)",
        ),
        ("ssh: connect to host h port 22: Connection refused", "cannot reach the ssh server"),
        ("ssh: Could not resolve hostname h: Name or service not known", "cannot reach"),
        ("Connection timed out during banner exchange", "cannot reach"),
        ("something new", "ssh to u@h failed: something new"),
    ],
)
def test_each_log_gets_its_own_message(log, expected):
    assert expected in classify(log, "u@h", 255)
