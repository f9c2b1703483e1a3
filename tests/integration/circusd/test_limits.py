"""Bounded counts and values (issue 7, items 3 and 5), with a real circusd.

- a process count above the process limit (``[circus] max_processes``, or circusd's
  RLIMIT_NPROC when smaller) is refused: in ``--check-config`` at file:line [section] key, and
  in the reply of ``incr``, ``set`` and ``add``; nothing changes and circusd keeps answering;
- a value longer than 128 KiB (a 900 KB single-word ``cmd`` via ``add``) is refused at once;
- SIGTERM while a large (allowed) count is being spawned ends the spawning at the next batch.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import psutil
import pytest
import support
from shared_daemon import shared_circusd
from support import subreaper, wait_for

from circus.watcher import SPAWN_BATCH

pytestmark = pytest.mark.timeout(120)

CHECK = [sys.executable, "-m", "circus.cli.check_config"]


def check_config(path, preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CHECK, str(path)], capture_output=True, text=True, timeout=60, preexec_fn=preexec_fn
    )


def check_config_here(path, capsys) -> tuple[int, str, str]:
    """``circusd --check-config`` in this process (its output is tested, not its start-up)."""
    from circus.cli import check_config as tool

    code = tool.main([str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_config_refuses_a_count_over_the_limit(tmp_path, capsys):
    path = tmp_path / "big.ini"
    path.write_text("[watcher:web]\ncmd = sleep 10\nnumprocesses = 1000000000\n")
    started = time.monotonic()
    code, _, err = check_config_here(path, capsys)
    assert time.monotonic() - started < 30
    assert code == 1, err
    assert (
        f"error: {path}:3 [watcher:web] numprocesses: 1000000000 processes is over the process "
        "limit of 1024 per watcher ([circus] max_processes)"
    ) in err
    path.write_text(
        "[circus]\nmax_processes = 2000\n[watcher:web]\ncmd = sleep 10\nnumprocesses = 2000\n"
    )
    assert check_config_here(path, capsys)[:2] == (0, "ok\n")
    path.write_text("[circus]\nmax_processes = 99999999\n[watcher:web]\ncmd = sleep 10\n")
    code, _, err = check_config_here(path, capsys)
    assert code == 1 and f"{path}:2 [circus] max_processes" in err


def test_the_limit_follows_rlimit_nproc(tmp_path):
    path = tmp_path / "nproc.ini"
    path.write_text("[watcher:web]\ncmd = sleep 10\nnumprocesses = 300\n")

    def low_nproc():
        resource.setrlimit(
            resource.RLIMIT_NPROC, (200, resource.getrlimit(resource.RLIMIT_NPROC)[1])
        )

    result = check_config(path, preexec_fn=low_nproc)
    assert result.returncode == 1
    assert "over the process limit of 200 per watcher (circusd's RLIMIT_NPROC" in result.stderr


SMALL = f"""
    [watcher:web]
    cmd = {support.WORKER_CMD} sleep
    numprocesses = 1
"""


@pytest.fixture(scope="module")
def module_small(tmp_path_factory):
    with shared_circusd(tmp_path_factory.mktemp("small"), SMALL, "max_processes = 4\n") as shared:
        yield shared


@pytest.fixture
def small(module_small):
    """A circusd whose process limit is 4, with one sleeping worker: the module's, checked
    before the test and put back after (shared_daemon.py)."""
    with module_small.test() as daemon:
        yield daemon


@pytest.fixture
def small_reloading(module_small):
    """Like ``small``, for a test that rewrites the configuration and reloads it: written back
    and reloaded after the test."""
    with module_small.test_reloading() as daemon:
        yield daemon


def _refused(reply: dict, *fragments: str) -> None:
    assert reply["status"] == "error", reply
    for fragment in fragments:
        assert fragment in reply["reason"], reply


@pytest.mark.parametrize("waiting", [False, True])
def test_incr_over_the_limit_is_refused_in_the_reply(small, waiting):
    reply = small.call("incr", name="web", nb=1000000000, waiting=waiting)
    _refused(reply, "1000000001 processes", "process limit of 4", "[circus] max_processes")
    reply = small.call("incr", name="web", nb=4, waiting=waiting)
    _refused(reply, "5 processes")
    assert small.ok("incr", name="web", nb=3, waiting=True)["numprocesses"] == 4
    wait_for(lambda: len(small.pids("web")) == 4, message="4 processes")
    _refused(small.call("incr", name="web", waiting=waiting), "process limit of 4")
    assert small.ok("options", name="web")["options"]["numprocesses"] == 4


@pytest.mark.parametrize("waiting", [False, True])
def test_set_numprocesses_over_the_limit_is_refused(small, waiting):
    props = {"name": "web", "options": {"numprocesses": 5, "graceful_timeout": 7}}
    _refused(small.call("set", waiting=waiting, **props), "5 processes", "limit of 4")
    options = small.ok("options", name="web")["options"]
    assert (options["numprocesses"], options["graceful_timeout"]) == (1, 30.0)
    small.ok("set", name="web", options={"numprocesses": 4}, waiting=True)
    wait_for(lambda: len(small.pids("web")) == 4, message="4 processes")


def test_add_over_the_limit_is_refused(small, worker_cmd):
    reply = small.call(
        "add", name="more", cmd=f"{worker_cmd} sleep", options={"numprocesses": 5}, start=True
    )
    _refused(reply, "5 processes", "process limit of 4")
    assert "more" not in small.ok("list")["watchers"]


def test_a_900kb_cmd_is_refused_at_once(small):
    """A long single word used to block circusd's loop for seconds (shlex is quadratic)."""
    started = time.monotonic()
    reply = small.call("add", name="long", cmd="/bin/" + "a" * 900_000)
    assert time.monotonic() - started < 5
    _refused(reply, "limit of an option is 131072 characters")
    assert "aaaa" * 30 not in reply["reason"]
    assert small.ok("status", name="web")["status"] == "active"


def _workers(daemon, use_papa: bool) -> set[int]:
    root = daemon.kernel_pid() if use_papa else daemon.proc.pid
    try:
        return {c.pid for c in psutil.Process(root).children() if c.name() != "papa-kernel"}
    except (psutil.Error, TypeError):
        return set()


#: Where hooks_for_tests.py is (circusd imports it through PYTHONPATH).
HERE = os.path.dirname(__file__)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("use_papa", [False, True])
def test_sigterm_during_a_large_spawn_ends_it_at_the_next_batch(
    circusd, use_papa, tmp_path, monkeypatch
):
    """2000 processes (allowed by max_processes) are being spawned when SIGTERM comes: circusd
    ends the spawning at the next batch, then quits (and with use_papa = false, stops what it
    started). Before, a local watcher's stop waited for the whole count.

    The SIGTERM is sent by circusd's own before_spawn hook at spawn number 70 (in the second
    batch: the spawning loop is under way), and the spawns are counted by its after_spawn hook:
    what is asserted does not depend on when this test gets the CPU. Spawns that had begun when
    the signal came finish (the rest of batch 2, up to 128); one more batch is allowed for the
    loop to run the quit that halts the spawning. (An earlier spawn number proves the same with
    fewer processes to fork: each costs circusd and the kernel ~2 ms of CPU.)"""
    count, term_at = 2000, 70
    batch_end = (term_at // SPAWN_BATCH + 1) * SPAWN_BATCH
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("HOOK_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", HERE)
    monkeypatch.setenv("SIGTERM_AT_SPAWN", str(term_at))
    with subreaper():
        daemon = circusd(
            f"""
            [watcher:many]
            cmd = /bin/sleep 600
            numprocesses = {count}
            use_papa = {str(use_papa).lower()}
            hooks.before_spawn = hooks_for_tests.sigterm_at_spawn
            hooks.after_spawn = hooks_for_tests.record
            """,
            circus_extra=f"max_processes = {count}\n",
            start=False,
        )
        daemon.start("--log-level", "info", wait=False)
        try:
            daemon.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail("circusd did not quit after SIGTERM")
        lines = log.read_text().splitlines()
        attempts = sum(1 for line in lines if line == "before_spawn many")
        spawned = [int(line.split()[2]) for line in lines if line.startswith("after_spawn many")]
        assert term_at <= attempts <= batch_end + SPAWN_BATCH, attempts
        assert len(spawned) <= attempts
        if use_papa:  # left running in the kernel: stop them (the fixture ends the kernel)
            assert all(support.pid_alive(p) for p in spawned)
        else:  # its own children: stopped before it quit
            assert not [p for p in spawned if support.pid_alive(p)]


def test_reloadconfig_refuses_a_count_over_the_limit_and_applies_a_new_limit(
    small_reloading, worker_cmd
):
    small = small_reloading
    over = """
        [watcher:web]
        cmd = {cmd} sleep
        numprocesses = 6
        """
    small.write_config(over.format(cmd=worker_cmd), "max_processes = 4\n")
    _refused(small.call("reloadconfig"), "circus.ini:10 [watcher:web] numprocesses", "limit of 4")
    assert small.ok("options", name="web")["options"]["numprocesses"] == 1
    small.write_config(over.format(cmd=worker_cmd), "max_processes = 6\n")
    small.ok("reloadconfig", waiting=True)
    wait_for(lambda: len(small.pids("web")) == 6, message="6 processes")
    _refused(small.call("incr", name="web"), "7 processes", "process limit of 6")


@pytest.mark.timeout(240)
def test_rm_nostop_during_a_large_spawn_leaves_circusd_answering(circusd, tmp_path, monkeypatch):
    """``rm --nostop`` detaches a watcher whose start is spawning: the start ends at the next
    batch and nothing spins on the loop afterwards (circusd keeps answering).

    circusd's before_spawn hook holds spawn number 70 (in the second batch) until the ``rm``
    was answered, so the spawning is known to be under way, whatever the machine's load; the
    spawns of that batch (up to 128) end, no further batch starts."""
    count, pause_at = 2000, 70
    batch_end = (pause_at // SPAWN_BATCH + 1) * SPAWN_BATCH
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("HOOK_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", HERE)
    monkeypatch.setenv("PAUSE_AT_SPAWN", str(pause_at))
    monkeypatch.setenv("PAUSE_DIR", str(tmp_path))
    with subreaper():
        daemon = circusd(
            f"""
            [watcher:many]
            cmd = /bin/sleep 600
            numprocesses = {count}
            autostart = false
            hooks.before_spawn = hooks_for_tests.pause_at_spawn
            """,
            circus_extra=f"max_processes = {count}\n",
        )
        daemon.ok("start", name="many")
        wait_for(lambda: (tmp_path / "paused").exists(), timeout=60, message=f"spawn {pause_at}")
        daemon.ok("rm", name="many", nostop=True)
        (tmp_path / "go").touch()
        started = time.monotonic()
        # the batch in flight ends, the start finishes (and says so: starting -> active, or any
        # state it ends in); circusd answers all along and after it (0.5 s more: a loop left
        # spinning would starve the calls)
        finished = "watcher many: starting -> "
        deadline = None
        while deadline is None or time.monotonic() < deadline:
            assert daemon.call("list", timeout=5)["status"] == "ok"
            if deadline is None and finished in daemon.log():
                deadline = time.monotonic() + 0.5
            assert time.monotonic() < started + 60, "the start never finished"
            time.sleep(0.05)
        attempts = log.read_text().splitlines().count("before_spawn many")
        assert pause_at <= attempts <= batch_end, attempts
        assert len(_workers(daemon, True)) <= attempts
