"""The JSON API of circushttpd against a real circusd, over real HTTP."""

from __future__ import annotations

import pytest
import support


@pytest.mark.read_only
def test_watchers_listed_with_status_count_and_pids(daemon, httpd):
    client = httpd.client()
    resp = client.get("/api/watchers")
    assert resp.status == 200
    (watcher,) = resp.json()["watchers"]
    assert watcher["name"] == "sleeper"
    assert watcher["status"] == "active"
    assert watcher["numprocesses"] == 2
    assert sorted(watcher["pids"]) == sorted(daemon.pids("sleeper"))
    assert watcher["processes"] == 2


@pytest.mark.read_only
def test_watcher_detail_lists_processes_with_pid_age_status(daemon, httpd):
    detail = httpd.client().get("/api/watchers/sleeper").json()["watcher"]
    pids = daemon.pids("sleeper")
    assert sorted(p["pid"] for p in detail["processes"]) == sorted(pids)
    for process in detail["processes"]:
        assert process["status"] == "running"
        assert process["age"] >= 0
        assert process["wid"] in (1, 2)
    assert detail["options"]["cmd"] == "sleep 1000"


@pytest.mark.read_only
def test_status_reports_circusd(daemon, httpd):
    client = httpd.client()
    # a call that timed out on a loaded machine says "disconnected" until the next one answers
    status = support.wait_for(
        lambda: (reply := client.get("/api/status").json())["connected"] and reply,
        timeout=30,
        message="circushttpd connected to circusd",
    )
    assert status["connected"] is True and status["error"] is None
    assert status["circusd"]["pid"] == daemon.proc.pid


@pytest.mark.puts_back
def test_incr_decr_and_numprocesses(daemon, httpd):
    client = httpd.client()
    assert client.post("/api/watchers/sleeper/incr", {"nb": 2}).json() == {
        "ok": True,
        "numprocesses": 4,
    }
    support.wait_for(lambda: len(daemon.pids("sleeper")) == 4, timeout=20)
    assert client.post("/api/watchers/sleeper/decr", {}).json()["numprocesses"] == 3
    assert (
        client.post("/api/watchers/sleeper/numprocesses", {"value": 1}).json()["numprocesses"] == 1
    )
    support.wait_for(lambda: len(daemon.pids("sleeper")) == 1, timeout=20)


@pytest.mark.puts_back
def test_stop_and_start(daemon, httpd):
    client = httpd.client()
    assert client.post("/api/watchers/sleeper/stop").status == 200
    support.wait_for(lambda: daemon.call("status", name="sleeper")["status"] == "stopped")
    assert client.post("/api/watchers/sleeper/start").status == 200
    support.wait_for(lambda: len(daemon.pids("sleeper")) == 2, timeout=20)


@pytest.mark.puts_back
def test_kill_one_process(daemon, httpd):
    client = httpd.client()
    victim = daemon.pids("sleeper")[0]
    resp = client.post("/api/watchers/sleeper/kill", {"pid": victim, "signum": "KILL"})
    assert resp.status == 200, resp.body
    support.wait_for(lambda: not support.pid_alive(victim) and victim not in daemon.pids("sleeper"))


@pytest.mark.puts_back
def test_add_watcher_and_field_errors(daemon, httpd):
    client = httpd.client()
    resp = client.post("/api/watchers", {"name": "extra", "cmd": "sleep 500", "start": True})
    assert resp.status == 201, resp.body
    assert resp.json()["watcher"]["name"] == "extra"
    dup = client.post("/api/watchers", {"name": "extra", "cmd": "sleep 500"})
    assert dup.status == 409 and dup.error["field"] == "name"
    bad = client.post(
        "/api/watchers", {"name": "x2", "cmd": "sleep 1", "options": {"numprocess": 2}}
    )
    assert bad.status == 400, bad.body
    assert bad.error["field"] == "options.numprocess"
    assert "numprocesses" in bad.error["message"]  # circusd's "did you mean"
    missing = client.post("/api/watchers", {"name": "x3"})
    assert missing.status == 400 and missing.error["field"] == "cmd"
    for name in ("a\nb", "a b", "a/b", "x" * 129):
        bad_name = client.post("/api/watchers", {"name": name, "cmd": "true"})
        assert bad_name.status == 400 and bad_name.error["field"] == "name", name
    reserved = client.post("/api/watchers", {"name": "circushttpd", "cmd": "true"})
    assert reserved.status == 409 and reserved.error["field"] == "name"


@pytest.mark.read_only
def test_validation_errors_name_the_field(httpd):
    client = httpd.client()
    cases = [
        ("/api/watchers/sleeper/incr", {"nb": "lots"}, "nb"),
        ("/api/watchers/sleeper/incr", {"nb": 0}, "nb"),
        ("/api/watchers/sleeper/numprocesses", {}, "value"),
        ("/api/watchers/sleeper/numprocesses", {"value": -1}, "value"),
        ("/api/watchers/sleeper/signal", {}, "signum"),
        ("/api/watchers/sleeper/signal", {"signum": "$(rm)"}, "signum"),
        ("/api/watchers/sleeper/kill", {"pid": "abc"}, "pid"),
    ]
    for path, body, field in cases:
        resp = client.post(path, body)
        assert resp.status == 400, (path, body, resp.body)
        assert resp.error == {"code": "invalid", "field": field, "message": resp.error["message"]}
    not_json = client.post("/api/watchers/sleeper/incr", b"{nope")
    assert not_json.status == 400 and not_json.error["code"] == "bad_request"
    unknown_signal = client.post("/api/watchers/sleeper/signal", {"signum": "NOPE"})
    assert unknown_signal.status == 409 and "signal" in unknown_signal.error["message"]
    assert client.post("/api/watchers/nope/start").status == 404
    assert client.post("/api/watchers/sleeper/explode").status == 404


@pytest.mark.read_only
def test_errors_are_json_never_a_traceback(httpd):
    client = httpd.client()
    for path in ("/api/nothing", "/api/watchers/sleeper/stats/x"):
        resp = client.get(path)
        assert resp.status == 404
        assert resp.error["code"] == "not_found"
        assert b"Traceback" not in resp.body


@pytest.mark.puts_back
def test_list_follows_changes_made_elsewhere_at_once(daemon, httpd):
    """Changes made with circusctl show in the list (the per-watcher cache is dropped by
    their events)."""
    client = httpd.client()
    assert client.get("/api/watchers").json()["watchers"][0]["numprocesses"] == 2
    daemon.ok("incr", name="sleeper")
    support.wait_for(
        lambda: client.get("/api/watchers").json()["watchers"][0]["processes"] == 3, timeout=20
    )
    assert client.get("/api/watchers").json()["watchers"][0]["numprocesses"] == 3


@pytest.mark.puts_back
def test_a_raising_hook_is_in_the_watcher_list_and_detail(daemon, httpd):
    """circusd's ``hook_failed`` (a hook whose last run raised) reaches the console's API, as
    ``gave_up`` and ``reload_failed`` do: the list and a watcher's page show it."""
    # json.loads called as a hook (watcher, arbiter, hook_name, ...) raises TypeError
    daemon.ok(
        "add",
        name="hooked",
        cmd="sleep 1000",
        start=True,
        options={"hooks.after_start": "json.loads, true"},
    )
    client = httpd.client()

    def listed():
        watchers = client.get("/api/watchers").json()["watchers"]
        (entry,) = [w for w in watchers if w["name"] == "hooked"]
        return entry["hook_failed"]

    failed = support.wait_for(listed, timeout=10)
    assert set(failed) == {"after_start"}
    assert "json.loads" in failed["after_start"]["reason"]
    assert "TypeError" in failed["after_start"]["reason"]
    detail = client.get("/api/watchers/hooked").json()["watcher"]
    assert detail["hook_failed"] == failed
    sleeper = client.get("/api/watchers/sleeper").json()["watcher"]
    assert sleeper["hook_failed"] is None and sleeper["flapping"] is None
