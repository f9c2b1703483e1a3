"""Sockets as a user gets them wrong. A socket whose port another program holds: the message
names the [socket:NAME] section, and reloadconfig refuses the configuration in its reply
(nothing changes, and the same change can be applied once the port is free) instead of replying
ok and failing in the background. listsockets beside a so_reuseport socket."""

import socket
import subprocess

import pytest
from shared_daemon import shared_circusd
from support import CIRCUSD, WORKER_CMD
from support import free_port as support_free_port

pytestmark = pytest.mark.timeout(60)

#: The configuration the reloadconfig tests start from (one circusd for them all).
BODY = f"[watcher:w]\ncmd = {WORKER_CMD} sleep\n"


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory):
    with shared_circusd(tmp_path_factory.mktemp("ports"), BODY) as shared:
        yield shared


@pytest.fixture
def d(module_daemon):
    """The module's circusd, as it started (checked before the test); after it, its
    configuration is put back (BODY, reloaded: what the test added goes), then its watchers
    (shared_daemon.py)."""
    with module_daemon.test_reloading() as daemon:
        yield daemon


@pytest.fixture
def taken_port():
    """A port some other program listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        yield taken


def socket_section(port: int, use_papa: bool) -> str:
    return f"[socket:web]\nhost = 127.0.0.1\nport = {port}\nuse_papa = {use_papa}\n"


@pytest.mark.parametrize("use_papa", [True, False])
def test_start_on_a_taken_port_names_the_socket(circusd, worker_cmd, taken_port, use_papa):
    port = taken_port.getsockname()[1]
    body = f"[watcher:w]\ncmd = {worker_cmd} sleep\nuse_sockets = true\n"
    d = circusd(body + socket_section(port, use_papa), start=False)
    result = subprocess.run([*CIRCUSD, d.config_path], capture_output=True, text=True,
                            timeout=30, start_new_session=True)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert f"[socket:web] Bind failed on 127.0.0.1:{port}: Address already in use" in (
        result.stderr
    ), result.stderr


@pytest.mark.parametrize("use_papa", [True, False])
def test_reloadconfig_onto_a_taken_port_is_refused_and_can_be_retried(
    d, worker_cmd, taken_port, use_papa
):
    body = BODY
    pids = d.pids("w")
    port = taken_port.getsockname()[1]
    d.write_config(
        body
        + socket_section(port, use_papa)
        + f"[watcher:web]\ncmd = {worker_cmd} sleep\nuse_sockets = true\n"
    )
    reply = d.call("reloadconfig")  # not waiting: it used to say ok, then fail in the log
    assert reply["status"] == "error", reply
    assert "[socket:web]" in reply["reason"], reply
    assert f"Bind failed on 127.0.0.1:{port}: Address already in use" in reply["reason"], reply
    assert d.pids("w") == pids
    assert d.ok("list")["watchers"] == ["w"]
    assert d.ok("listsockets")["sockets"] == []

    taken_port.close()  # the port is free now: the same reloadconfig applies the change
    changes = d.ok("reloadconfig", waiting=True)["changes"]
    assert changes["added"] == ["web"], changes
    [held] = d.ok("listsockets")["sockets"]
    assert (held["name"], held["port"]) == ("web", port)
    assert len(d.pids("web")) == 1 and d.pids("w") == pids


@pytest.mark.parametrize("use_papa", [True, False])
def test_reloadconfig_onto_a_unix_path_that_cannot_be_bound_is_refused(d, tmp_path, use_papa):
    body = BODY
    missing = tmp_path / "nowhere" / "u.sock"
    plain = tmp_path / "plain-file"
    plain.write_text("not a socket")
    d.write_config(
        body
        + f"[socket:u]\npath = {missing}\nuse_papa = {use_papa}\n"
        + f"[socket:f]\npath = {plain}\nreplace = true\nuse_papa = {use_papa}\n"
    )
    reply = d.call("reloadconfig")
    assert reply["status"] == "error", reply
    assert (
        f"[socket:u]: Bind failed on {missing}: no directory {missing.parent}" in (reply["reason"])
    ), reply
    assert f"[socket:f]: {plain} exists and is not a socket" in reply["reason"], reply
    assert d.ok("listsockets")["sockets"] == [] and plain.read_text() == "not a socket"


def test_listsockets_with_a_so_reuseport_socket_beside_others(d, tmp_path):
    # the command sorted by fd again, and None (a reuseport socket has no fd) < int crashed it:
    # "command 'listsockets' failed: TypeError: '<' not supported between ..."
    port = support_free_port()
    d.write_config(
        f"[socket:rp]\nhost = 127.0.0.1\nport = {port}\nso_reuseport = true\n"
        f"[socket:u]\npath = {tmp_path}/u.sock\n" + BODY
    )
    d.ok("reloadconfig", waiting=True)
    sockets = d.ok("listsockets")["sockets"]
    assert [(s["name"], s["fd"] is None) for s in sockets] == [("u", False), ("rp", True)]
