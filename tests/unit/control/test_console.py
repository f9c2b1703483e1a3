"""How circusctl prints replies (the original's formats, kept byte-compatible)."""

from __future__ import annotations

from circus.control.commands import get_commands

COMMANDS = get_commands()
ERROR = {"status": "error", "reason": "program x not found", "errno": 3}


def console(name, reply):
    return COMMANDS[name].console_msg(reply)


def ok(**fields):
    return {"status": "ok", "time": 1.0, **fields}


def test_default_ok_and_error():
    for name in (
        "add",
        "quit",
        "reload",
        "reloadconfig",
        "restart",
        "rm",
        "set",
        "signal",
        "start",
        "stop",
        "kill",
    ):
        assert console(name, ok()) == "ok"
        assert console(name, ERROR) == "error: program x not found"


def test_status():
    assert console("status", {"status": "active", "time": 1}) == "active"
    assert (
        console("status", ok(statuses={"b": "active", "B2": "stopped", "a": "stopped"}))
        == "B2: stopped\na: stopped\nb: active"
    )
    # the original printed a bare "error" here
    assert console("status", ERROR) == "error: program x not found"


def test_status_shows_outdated_processes():
    assert console("status", {"status": "active", "outdated": [12, 13]}) == (
        "active (outdated: 12,13)"
    )
    reply = ok(statuses={"a": "active", "b": "active"}, outdated={"b": [7]})
    assert console("status", reply) == "a: active\nb: active (outdated: 7)"


def test_list():
    assert console("list", ok(watchers=["a", "b"])) == "a,b"
    assert console("list", ok(pids=[1, 2])) == "1,2"
    assert console("list", ok(pids=[])) == ""
    assert console("list", ok(pids=[1, 2], outdated=[1])) == "1,2"  # scripts parse the pids
    assert console("list", ERROR).startswith("error:")


def test_incr_decr():
    assert console("incr", ok()) == "ok"
    assert console("incr", ok(numprocesses=4)) == "4"
    assert console("decr", ok(numprocesses=0)) == "0"
    assert (
        console("incr", ok(numprocesses=1, singleton=True))
        == "This watcher is a Singleton - not changing the number of processes"
    )


def test_numbers():
    assert console("numwatchers", ok(numwatchers=2)) == "2"
    assert console("numprocesses", ok(numprocesses=5, watcher_name="w")) == "5"


def test_options_in_reply_order_with_env_and_none():
    text = console(
        "options",
        ok(options={"cmd": "sleep 1", "env": {"B": "2", "A": "1"}, "send_hup": False, "uid": None}),
    )
    assert text == "cmd: sleep 1\nenv: A=1,B=2\nsend_hup: False\nuid: "


def test_get_keeps_requested_order():
    assert console("get", ok(options={"numprocesses": 2, "env": {}})) == "numprocesses: 2\nenv: "


def test_globaloptions():
    assert (
        console(
            "globaloptions",
            ok(options={"endpoint": "ipc:///x", "check_delay": 5.0, "stats_endpoint": None}),
        )
        == "endpoint: ipc:///x\ncheck_delay: 5.0\nstats_endpoint: "
    )
    assert console("globaloptions", ERROR) == "error: program x not found"


def test_listsockets():
    reply = ok(
        sockets=[
            {"fd": 5, "name": "web", "backlog": 1, "host": "127.0.0.1", "port": 80},
            {"fd": 6, "name": "u", "backlog": 1, "path": "/run/u.sock"},
        ]
    )
    assert (
        console("listsockets", reply)
        == "5:socket 'web' at 127.0.0.1:80\n6:socket 'u' at /run/u.sock"
    )


def test_listsockets_reuseport_socket_has_no_fd():
    """A kernel-held so_reuseport socket has no shared fd (each worker binds its own)."""
    reply = ok(sockets=[{"fd": None, "name": "rp", "backlog": 1, "host": "0.0.0.0", "port": 81}])
    assert (
        console("listsockets", reply)
        == "-:socket 'rp' at 0.0.0.0:81 (so_reuseport: each process binds its own)"
    )


INFO = {
    "pid": 12,
    "cmdline": "sleep",
    "username": "root",
    "nice": 0,
    "mem_info1": "1.45M",
    "mem_info2": "2.44M",
    "cpu": 0.0,
    "mem": 0.006,
    "ctime": "0:00.0",
}


def test_stats_all_watchers_one_watcher_one_process():
    child = dict(INFO, pid=13)
    line = "12  sleep root 0 1.45M 2.44M 0.0 0.006 0:00.0"
    reply = ok(infos={"Other": {}, "w": {"12": dict(INFO, children=[child])}})
    assert console("stats", reply) == (
        "Other:\nw:\n12: " + line + "\n   13  sleep root 0 1.45M 2.44M 0.0 0.006 0:00.0"
    )
    assert (
        console("stats", ok(name="w", info={"12": INFO, "14": "No such process (stopped?)"}))
        == f"w:\n12: {line}\n14: No such process (stopped?)"
    )
    assert console("stats", ok(process=12, info=INFO)) == f"12: {line}\n"


def test_stats_extended_prints_what_the_hook_added():
    """``stats --extended``: the keys the extended_stats hook added to a process or a child
    are printed under its line, one per line (sorted), values as JSON unless text."""
    line = "12  sleep root 0 1.45M 2.44M 0.0 0.006 0:00.0"
    child = dict(INFO, pid=13, requests=7)
    info = dict(INFO, age=1.5, started=1.0, wid=1, create_time=1.0, children=[child])
    info.update(load="high", workers={"busy": 2, "idle": 1})
    assert console("stats", ok(process=12, info=info)) == (
        f"12: {line}\n"
        "    load: high\n"
        '    workers: {"busy": 2, "idle": 1}\n'
        "   13  sleep root 0 1.45M 2.44M 0.0 0.006 0:00.0\n"
        "       requests: 7\n"
    )
    assert console("stats", ok(name="w", info={"12": dict(INFO, load=3)})) == (
        f"w:\n12: {line}\n    load: 3"
    )


def test_stats_tolerates_missing_fields():
    assert (
        console("stats", ok(process=1, info={"pid": 1}))
        == "1: 1  N/A N/A N/A N/A N/A N/A N/A N/A\n"
    )


def test_dstats():
    reply = ok(info=dict(INFO, children=[dict(INFO, pid=20)]))
    assert console("dstats", reply) == (
        "Main Process:\n    12  sleep root 0 1.45M 2.44M 0.0 0.006 0:00.0\n"
        "Children:\n    20  sleep root 0 1.45M 2.44M 0.0 0.006 0:00.0"
    )


def test_ipython_error():
    assert console("ipython", ERROR) == "error: program x not found"
