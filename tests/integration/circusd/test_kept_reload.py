"""A reload that keeps the running processes because the new ones cannot spawn is visible:
``set``/``reload``/``reloadconfig --waiting`` reply with a ``reload_failed`` key that circusctl
prints, and ``status`` has the same detail until a later reload succeeds, while the original
clients still read a plain ``ok`` and ``active``."""

import pytest
from circusctl_output import ORIGINAL_CIRCUSCTL, OURS, circusctl
from support import wait_for

pytestmark = pytest.mark.timeout(60)


def test_set_to_a_working_dir_that_does_not_exist_says_the_old_processes_are_kept(
    circusd, worker_cmd, tmp_path
):
    d = circusd(f"""
        [watcher:web]
        cmd = {worker_cmd} sleep
        numprocesses = 2
        min_uptime = 0.2
    """)  # min_uptime: the wait of the reload that works, for new processes to be up
    wait_for(lambda: len(d.pids("web")) == 2, message="2 workers")
    old = sorted(d.pids("web"))
    missing = tmp_path / "nonexistent"

    said = circusctl(OURS, d.endpoint, "set", "web", "working_dir", str(missing), "--waiting")
    assert said.startswith("ok\n"), said
    assert "web: reload failed: no new process could be spawned" in said, said
    assert str(missing) in said and "the 2 running processes are kept" in said, said
    assert sorted(d.pids("web")) == old

    reply = d.ok("status", name="web")
    assert reply["status"] == "active", reply
    detail = reply["reload_failed"]
    assert sorted(detail["kept"]) == old and str(missing) in detail["error"], detail
    assert d.ok("status")["reload_failed"] == {"web": detail}
    shown = circusctl(OURS, d.endpoint, "status", "web")
    assert shown.startswith("active (") and shown.endswith(f" (reload failed: {detail['reason']})")
    assert circusctl(OURS, d.endpoint, "status") == f"web: {shown}"
    reload_reply = d.ok("reload", name="web", waiting=True)
    assert reload_reply["reload_failed"]["web"]["kept"] == detail["kept"], reload_reply
    if ORIGINAL_CIRCUSCTL.exists():  # the original client still reads a plain state
        assert circusctl([str(ORIGINAL_CIRCUSCTL)], d.endpoint, "status", "web") == "active"
        assert circusctl([str(ORIGINAL_CIRCUSCTL)], d.endpoint, "reload", "web") == "ok"

    missing.mkdir()  # fixed: the next reload replaces them and the detail goes
    assert circusctl(OURS, d.endpoint, "reload", "web", "--waiting") == "ok"
    wait_for(lambda: not set(d.pids("web")) & set(old), message="new workers")
    assert "reload_failed" not in d.ok("status", name="web")
    assert circusctl(OURS, d.endpoint, "status", "web") == "active"


def test_reloadconfig_with_an_unknown_uid_says_the_old_processes_are_kept(circusd, worker_cmd):
    body = f"[watcher:web]\ncmd = {worker_cmd} sleep\nnumprocesses = 1\n"
    d = circusd(body)
    wait_for(lambda: len(d.pids("web")) == 1, message="1 worker")
    old = d.pids("web")
    d.write_config(body + "uid = nosuchuser\n")
    said = circusctl(OURS, d.endpoint, "reloadconfig", "--waiting")
    assert "web: reload failed: no new process could be spawned" in said, said
    assert "nosuchuser" in said and "the 1 running process is kept" in said, said
    assert d.pids("web") == old
    assert "nosuchuser" in d.ok("status", name="web")["reload_failed"]["error"]
