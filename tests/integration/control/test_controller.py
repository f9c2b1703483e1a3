"""The controller and every command over real ZeroMQ sockets (ipc and tcp), real processes."""

from __future__ import annotations

import json
import os
import signal
import stat
import time

import pytest
import support
import zmq
from arbiter_server import Server

from circus.client import CircusClient

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["ipc", "tcp"])
def server(request):
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def client(server):
    with CircusClient(endpoint=server.endpoint, timeout=10) as c:
        yield c


def call(client, command, **props):
    return client.send_message(command, **props)


def call_over_the_uptime_wait(server, client, command, **props):
    """``command`` with ``waiting``, when it starts new processes of a running watcher: it
    replies once they have been up for min_uptime (1 s), which the arbiter waits on its clock:
    jump over it rather than wait it out."""
    with server.jumping_over(1):
        return call(client, command, waiting=True, **props)


def test_status_list_and_counts(client, server):
    assert call(client, "status")["statuses"] == {"Other": "stopped", "sleeper": "active"}
    assert call(client, "status", name="SLEEPER")["status"] == "active"
    assert call(client, "list")["watchers"] == ["other", "sleeper"]
    pids = call(client, "list", name="sleeper")["pids"]
    assert len(pids) == 2 and all(server.alive(pid) for pid in pids)
    assert call(client, "numwatchers")["numwatchers"] == 2
    assert call(client, "numprocesses")["numprocesses"] == 2
    reply = call(client, "numprocesses", name="sleeper")
    assert reply["numprocesses"] == 2 and reply["watcher_name"] == "sleeper"


def test_reply_echoes_id_and_has_time(client):
    reply = client.call({"command": "numwatchers", "properties": {}})
    assert reply["status"] == "ok" and abs(reply["time"] - time.time()) < 60
    assert len(reply["id"]) == 32


def test_unknown_watcher_and_command(client):
    reply = call(client, "status", name="nope")
    assert (reply["status"], reply["errno"], reply["reason"]) == (
        "error",
        3,
        "program nope not found",
    )
    reply = call(client, "frobnicate")
    assert reply["errno"] == 2 and reply["reason"] == "unknown command: 'frobnicate'"


def test_missing_and_mistyped_properties(client):
    reply = call(client, "incr")
    assert reply["errno"] == 3 and "'name' is missing" in reply["reason"]
    reply = call(client, "incr", name="sleeper", nb="lots")
    assert reply["errno"] == 3 and "'nb'" in reply["reason"] and "'lots'" in reply["reason"]


def test_incr_decr_waiting_and_not(client):
    assert call(client, "incr", name="sleeper", waiting=True)["numprocesses"] == 3
    assert len(call(client, "list", name="sleeper")["pids"]) == 3
    assert "numprocesses" not in call(client, "incr", name="sleeper", nb=2)
    support.wait_for(lambda: len(call(client, "list", name="sleeper")["pids"]) == 5)
    assert call(client, "decr", name="sleeper", nb=100, waiting=True)["numprocesses"] == 0
    assert call(client, "decr", name="sleeper", nb=1, waiting=True)["numprocesses"] == 0
    assert call(client, "list", name="sleeper")["pids"] == []


def test_singleton_is_not_changed(client):
    call(client, "add", name="single", cmd="x", options={"singleton": True})
    reply = call(client, "incr", name="single", waiting=True)
    assert reply["singleton"] is True and reply["numprocesses"] == 1


def test_add_start_options_get_set_rm(client, server):
    reply = call(client, "add", name="w2", cmd="sleep 5", options={"numprocesses": "2"})
    assert reply["status"] == "ok"
    assert call(client, "status", name="w2")["status"] == "stopped"
    again = call(client, "add", name="W2", cmd="x")
    assert again["errno"] == 5 and "already exist" in again["reason"]
    started = call(client, "start", name="w2", waiting=True)
    assert len(started["info"]["started"]) == 2
    options = {"env": {"A": "1"}, "numprocesses": 1}
    reply = call_over_the_uptime_wait(server, client, "set", name="w2", options=options)
    assert reply["status"] == "ok"
    assert call(client, "get", name="w2", keys=["env", "numprocesses"])["options"] == {
        "env": {"A": "1"},
        "numprocesses": 1,
    }
    assert call(client, "options", name="w2")["options"]["cmd"] == "sleep 5"
    assert call(client, "get", name="w2", keys=["nope"])["reason"] == "'nope' option not found"
    bad = call(client, "set", name="w2", options={"env": {"A": 2}})
    assert bad["errno"] == 3 and "'A'" in bad["reason"]
    pids = call(client, "list", name="w2")["pids"]
    assert call(client, "rm", name="w2", waiting=True)["status"] == "ok"
    assert call(client, "status", name="w2")["status"] == "error"
    assert pids and not any(server.alive(pid) for pid in pids)


def test_add_start_waiting_reports_started(client):
    reply = call(client, "add", name="w3", cmd="x", start=True, waiting=True)
    assert len(reply["started"]) == 1 and reply["kept"] == []


def test_rm_nostop_leaves_processes(client, server):
    pids = call(client, "list", name="sleeper")["pids"]
    assert call(client, "rm", name="sleeper", nostop=True, waiting=True)["status"] == "ok"
    assert call(client, "list")["watchers"] == ["other"]
    assert all(server.alive(pid) for pid in pids)


def test_start_stop_restart_with_match(client):
    reply = call(client, "stop", name="s*", waiting=True)
    assert reply["info"] is None
    assert call(client, "status")["statuses"] == {"Other": "stopped", "sleeper": "stopped"}
    assert call(client, "start", name="o.*", match="regex", waiting=True)["status"] == "ok"
    assert call(client, "status", name="other")["status"] == "active"
    assert call(client, "start", name="*", waiting=True)["status"] == "ok"  # several
    assert call(client, "status")["statuses"] == {"Other": "active", "sleeper": "active"}
    before = set(call(client, "list", name="sleeper")["pids"])
    info = call(client, "restart", name="sleeper", match="simple", waiting=True)["info"]
    assert set(info["stopped"]) == before and len(info["started"]) == 2
    assert call(client, "restart", name="x*")["reason"] == "program x* not found"
    assert call(client, "stop", name="s", match="bogus")["reason"].startswith(
        "unknown match method bogus"
    )
    assert call(client, "stop", waiting=True)["status"] == "ok"
    assert call(client, "status")["statuses"] == {"Other": "stopped", "sleeper": "stopped"}


def test_reload_and_reloadconfig(client, server):
    before = set(call(client, "list", name="sleeper")["pids"])
    reply = call_over_the_uptime_wait(server, client, "reload", name="sleeper")
    assert set(reply["info"]["stopped"]) == before
    assert call_over_the_uptime_wait(server, client, "reload")["status"] == "ok"
    changes = call(client, "reloadconfig", waiting=True)["changes"]
    assert changes == {"added": [], "removed": [], "changed": [], "restart": []}


def test_signal_reaches_the_process(client, server):
    pid = call(client, "list", name="sleeper")["pids"][0]
    reply = call(client, "signal", name="sleeper", pid=pid, signum="USR1")
    assert reply["status"] == "ok"
    assert server.signals() == [(pid, signal.SIGUSR1)]
    support.wait_for(lambda: not server.alive(pid))  # USR1 kills a program that does not catch it
    assert call(client, "signal", name="sleeper", signum="KILL", childpid=3)["errno"] == 5
    assert call(client, "signal", name="sleeper", signum="NOPE")["reason"].startswith(
        "signal invalid"
    )
    assert call(client, "signal", name="sleeper", pid=1, signum="HUP")["errno"] == 3


def test_kill_escalates_after_graceful_timeout(ipc_server):
    with CircusClient(endpoint=ipc_server.endpoint, timeout=10) as c:
        call(c, "add", name="stub", cmd="x", options={"graceful_timeout": 30})
        ipc_server.make_stubborn("stub")
        call(c, "start", name="stub", waiting=True)
        pid = call(c, "list", name="stub")["pids"][0]
        started = time.monotonic()
        reply = call(
            c,
            "kill",
            name="stub",
            pid=str(pid),
            signum="TERM",
            graceful_timeout="0.3",
            waiting=True,
        )
        assert reply["status"] == "ok" and not ipc_server.alive(pid)
        assert 0.3 <= time.monotonic() - started < 5  # not the watcher's 30 s
        assert ipc_server.signals()[-2:] == [(pid, signal.SIGTERM), (pid, signal.SIGKILL)]
        assert ipc_server.exit_code(pid) == -signal.SIGKILL
        assert call(c, "kill", name="stub", pid=1)["errno"] == 3


def test_stats_dstats_sockets_globaloptions(client, server):
    infos = call(client, "stats")["infos"]
    assert set(infos) == {"Other", "sleeper"} and len(infos["sleeper"]) == 2
    pid = call(client, "list", name="sleeper")["pids"][0]
    one = call(client, "stats", name="sleeper", process=pid, extended=True)
    assert one["process"] == pid and one["info"]["pid"] == pid and one["info"]["extended"]
    assert call(client, "stats", name="sleeper")["name"] == "sleeper"
    assert call(client, "stats", name="sleeper", process=1)["errno"] == 3
    assert call(client, "dstats")["info"]["pid"] == os.getpid()
    assert [(s["fd"], s["name"]) for s in call(client, "listsockets")["sockets"]] == [
        (3, "local"),
        (4, "web"),
    ]
    options = call(client, "globaloptions")["options"]
    assert options["endpoint"] == server.endpoint
    assert call(client, "globaloptions", option="pubsub_endpoint")["options"] == {
        "pubsub_endpoint": server.pubsub_endpoint
    }
    assert "not an existing option" in call(client, "globaloptions", option="x")["reason"]


def test_listen_on_control_socket_is_an_error(client):
    reply = call(client, "listen")
    assert reply["errno"] == 3 and reply["reason"] == "invalid message. use a pub/sub socket"


def test_ipython_without_ipykernel_is_a_clear_error(client):
    reply = call(client, "ipython")
    assert reply["status"] == "error" and "ipykernel is not installed" in reply["reason"]


# --- waiting, concurrency, casts --------------------------------------------------------------


def test_not_waiting_replies_at_once_and_other_commands_go_on(ipc_server):
    with CircusClient(endpoint=ipc_server.endpoint, timeout=10) as c:
        call(c, "add", name="slow", cmd="x", options={"graceful_timeout": 8})
        ipc_server.make_stubborn("slow")
        assert call(c, "start", name="slow", waiting=True)["status"] == "ok"
        [pid] = call(c, "list", name="slow")["pids"]
        started = time.monotonic()
        assert call(c, "stop", name="slow")["status"] == "ok"  # graceful_timeout is 8 s
        assert time.monotonic() - started < 4  # long enough for a loaded machine
        assert call(c, "status", name="slow")["status"] == "stopping"
        # the 8 s are waited on the arbiter's clock: jump over them rather than wait them out
        support.wait_for(lambda: ipc_server.timer_armed(7), message="the graceful wait")
        assert (pid, signal.SIGKILL) not in ipc_server.signals()
        assert call(c, "status", name="slow")["status"] == "stopping"
        ipc_server.jump(8)
        support.wait_for(lambda: call(c, "status", name="slow")["status"] == "stopped", timeout=20)
        assert ipc_server.signals()[-2:] == [(pid, signal.SIGTERM), (pid, signal.SIGKILL)]


def test_waiting_command_does_not_block_others(ipc_server):
    with (
        CircusClient(endpoint=ipc_server.endpoint, timeout=10) as c1,
        CircusClient(endpoint=ipc_server.endpoint, timeout=10) as c2,
    ):
        call(c1, "add", name="slow", cmd="x", options={"graceful_timeout": 8})
        ipc_server.make_stubborn("slow")
        call(c1, "start", name="slow", waiting=True)
        [pid] = call(c1, "list", name="slow")["pids"]
        c1.socket.send(
            json.dumps(
                {"id": "w", "command": "stop", "properties": {"name": "slow", "waiting": True}}
            ).encode()
        )
        support.wait_for(lambda: call(c2, "status", name="slow")["status"] == "stopping")
        started = time.monotonic()
        assert call(c2, "numwatchers")["numwatchers"] == 3
        assert time.monotonic() - started < 4  # not the 8 s of the stop (a loaded machine)
        # the 8 s are waited on the arbiter's clock: jump over them rather than wait them out
        support.wait_for(lambda: ipc_server.timer_armed(7), message="the graceful wait")
        assert (pid, signal.SIGKILL) not in ipc_server.signals()
        assert not c1.socket.poll(0)  # the waiting stop has not replied yet
        ipc_server.jump(8)
        assert c1.socket.poll(20000)
        assert json.loads(c1.socket.recv())["id"] == "w"
        assert (pid, signal.SIGKILL) in ipc_server.signals()  # it waited for the escalation


def test_cast_gets_no_reply_but_runs(ipc_server):
    with CircusClient(endpoint=ipc_server.endpoint, timeout=10) as c:
        c.cast("incr", name="sleeper", nb=1)
        assert not c.socket.poll(300)
        support.wait_for(lambda: len(call(c, "list", name="sleeper")["pids"]) == 3)
        c.cast("incr", name="nope")  # an error: logged, still no reply
        assert not c.socket.poll(300)
        c.socket.send(b'{"msg_type": "cast", "properties": 3}')  # malformed cast: no reply
        assert not c.socket.poll(300)


# --- malformed input ----------------------------------------------------------------------------


@pytest.fixture
def raw(server):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(server.endpoint)
    yield sock
    sock.close(0)
    ctx.term()


def raw_call(sock, body: bytes) -> dict:
    sock.send(body)
    assert sock.poll(5000), f"no reply to {body!r}"
    return json.loads(sock.recv())


@pytest.mark.parametrize(
    "body, errno, fragment, mid",
    [
        (b"", 1, "empty message", None),
        (b"not json", 1, "json invalid", None),
        (b"[1]", 1, "must be a JSON object", None),
        (b'{"id": 5}', 3, "'command' is missing", 5),
        (b'{"id": 5, "command": null}', 3, "'command' is missing", 5),
        (b'{"id": 5, "command": ["x"]}', 3, "'command' must be a string", 5),
        (b'{"id": 5, "command": "list", "properties": 3}', 3, "'properties' must be", 5),
        (b'{"id": 5, "command": "status", "properties": {"name": 3}}', 3, "'name'", 5),
    ],
)
def test_malformed_messages_get_error_replies(raw, body, errno, fragment, mid):
    reply = raw_call(raw, body)
    assert reply["status"] == "error" and reply["errno"] == errno
    assert fragment in reply["reason"] and reply["id"] == mid


DEEP = b"[" * 100_000 + b"]" * 100_000  # json.loads raised RecursionError on this


@pytest.mark.parametrize(
    "body, mid",
    [
        (b'{"id": "d1", "command": "status", "properties": {"name": ' + DEEP + b"}}", "d1"),
        (b'{"command": "status", "properties": {"x": ' + DEEP + b'}, "id": "d2"}', "d2"),
        (b'{"command": "list", "id": 7, "properties": ' + b"{" * 50_000, None),
        (b"[" * 100_000, None),
    ],
)
def test_deep_nesting_gets_an_error_reply(raw, body, mid):
    reply = raw_call(raw, body)
    assert reply["status"] == "error" and reply["errno"] == 1, reply
    assert "nesting deeper than 32 levels" in reply["reason"] and reply["id"] == mid
    assert raw_call(raw, b'{"id": 1, "command": "numwatchers"}')["numwatchers"] == 2


def test_nesting_up_to_the_limit_is_accepted(raw):
    deep_ok = b"[" * 30 + b"]" * 30  # 30 + the request object + properties = 32 levels
    reply = raw_call(raw, b'{"id": "n", "command": "list", "properties": {"x": ' + deep_ok + b"}}")
    assert reply["status"] == "ok" and reply["id"] == "n"


def test_an_over_limit_request_gets_an_error_naming_the_limit(raw):
    body = json.dumps(
        {"command": "add", "properties": {"name": "big", "cmd": "x" * (5 * 1024 * 1024)}, "id": "b"}
    ).encode()
    reply = raw_call(raw, body)
    assert reply["status"] == "error" and reply["errno"] == 3 and reply["id"] == "b"
    assert "exceeds the limit of 4194304 bytes (4 MiB)" in reply["reason"], reply["reason"]
    assert raw_call(raw, b'{"id": 1, "command": "numwatchers"}')["numwatchers"] == 2


def test_a_frame_over_the_transport_cap_disconnects_only_that_sender(raw):
    monitor = raw.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    try:
        raw.send(b'{"id": "huge", "command": "list", "x": "' + b"x" * (17 * 1024 * 1024) + b'"}')
        # ZeroMQ dropped the connection (documented): the event, not a wait for nothing
        assert monitor.poll(10000), "the connection was not dropped"
    finally:
        raw.disable_monitor()
        monitor.close(0)
    assert not raw.poll(0)  # nothing to answer
    support.wait_for(
        lambda: raw_call(raw, b'{"id": 2, "command": "numwatchers"}')["numwatchers"] == 2
    )  # the DEALER reconnects by itself and is served again


@pytest.mark.parametrize(
    "frames, mid",
    [
        ([b'{"id": "m", "command": "list"}', b"extra"], None),
        ([b"junk", b'{"id": "m", "command": "list"}'], "m"),
        ([b"", b"", b"", b"{}"], None),
    ],
)
def test_multi_frame_messages_get_an_error_reply(raw, frames, mid):
    raw.send_multipart(frames)
    assert raw.poll(5000), "no reply to a multi-frame message"
    reply = json.loads(raw.recv())
    assert reply["status"] == "error" and reply["errno"] == 3 and reply["id"] == mid
    assert f"{len(frames)} frames" in reply["reason"] and "DEALER" in reply["reason"]
    assert raw_call(raw, b'{"id": 1, "command": "numwatchers"}')["numwatchers"] == 2


def test_a_req_client_gets_the_error_in_its_envelope(server):
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.linger = 0
    try:
        req.connect(server.endpoint)
        req.send(b'{"id": "r", "command": "list"}')
        assert req.poll(5000), "a REQ client got no reply"
        reply = json.loads(req.recv())
        assert reply["status"] == "error" and reply["id"] == "r"
        assert "REQ sockets are not supported" in reply["reason"] and "DEALER" in reply["reason"]
    finally:
        req.close(0)
        ctx.term()


def test_binary_garbage_does_not_kill_the_server(raw):
    for junk in (b"\x00\xff" * 100, b"{" * 10000, b"[" * 10000, os.urandom(512)):
        assert raw_call(raw, junk)["status"] == "error"
    assert raw_call(raw, b'{"command": "numwatchers"}')["numwatchers"] == 2


# --- quit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("waiting", [False, True])
def test_quit_replies_then_closes(ipc_server, waiting):
    with CircusClient(endpoint=ipc_server.endpoint, timeout=10) as c:
        reply = call(c, "quit", waiting=waiting, stop_workers=True)
        assert reply["status"] == "ok"
        support.wait_for(ipc_server.stopped)
        assert not ipc_server.host.running()  # stop_workers
        support.wait_for(lambda: ipc_server.arbiter.controller._socket is None)


# --- security of the ipc socket -----------------------------------------------------------------


def test_ipc_socket_is_private(ipc_server):
    mode = os.stat(ipc_server.endpoint[len("ipc://") :]).st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_endpoint_owner_restricts_add(tmp_path, runtime_dir):
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name
    server = Server(
        tmp_path, f"ipc://{tmp_path}/c.sock", f"ipc://{tmp_path}/p.sock", {"endpoint_owner": me}
    ).start()
    try:
        with CircusClient(endpoint=server.endpoint, timeout=10) as c:
            reply = call(c, "add", name="a", cmd="x")
            assert reply["errno"] == 3 and "uid does not match endpoint_owner" in reply["reason"]
            assert call(c, "add", name="a", cmd="x", options={"uid": os.getuid()})["status"] == "ok"
            assert call(c, "add", name="b", cmd="x", options={"uid": me})["status"] == "ok"
    finally:
        server.stop()
