"""circusd policy with real processes: hooks, signals, max_age, on_demand, reloadconfig, streams,
events, sockets on both hosts."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from support import free_port, pid_alive, subscribed, wait_for

from circus.events import EventSubscriber

pytestmark = pytest.mark.timeout(90)
HERE = os.path.dirname(__file__)


def read(path) -> str:
    try:
        return open(path).read()
    except FileNotFoundError:
        return ""


def state(pid: int) -> str:
    """The one-letter state of a process (T = stopped)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(") ", 1)[1][0]


def test_hooks_run_in_order_and_refusal_aborts_start(circusd, worker_cmd, tmp_path, monkeypatch):
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("HOOK_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", HERE)
    d = circusd(f"""
        [watcher:ok]
        cmd = {worker_cmd} sleep
        hooks.before_start = hooks_for_tests.record
        hooks.after_start = hooks_for_tests.record
        hooks.before_spawn = hooks_for_tests.record
        hooks.after_spawn = hooks_for_tests.record
        hooks.before_stop = hooks_for_tests.record
        hooks.after_stop = hooks_for_tests.record
        hooks.before_reap = hooks_for_tests.record
        hooks.after_reap = hooks_for_tests.record

        [watcher:refused]
        cmd = {worker_cmd} sleep
        hooks.before_start = hooks_for_tests.refuse

        [watcher:tolerant]
        cmd = {worker_cmd} sleep
        hooks.before_start = hooks_for_tests.explode, true
    """)
    [pid] = d.pids("ok")
    assert d.ok("status", name="refused")["status"] == "stopped"
    assert d.pids("refused") == []
    assert len(d.pids("tolerant")) == 1
    d.ok("stop", name="ok", waiting=True)
    lines = read(log).splitlines()
    ok_lines = [line for line in lines if " ok" in line]
    assert ok_lines[:4] == [
        "before_start ok",
        "before_spawn ok",
        f"after_spawn ok {pid}",
        "after_start ok",
    ]
    assert ok_lines.index("before_stop ok") < ok_lines.index("after_stop ok")
    assert ok_lines.index(f"before_reap ok {pid}") < ok_lines.index(f"after_reap ok {pid}")
    assert "refused before_start refused" in lines


def test_signal_routing(circusd, worker_cmd, tmp_path):
    d = circusd(f"""
        [watcher:fam]
        cmd = {worker_cmd} spawn-child
    """)
    [pid] = d.pids("fam")
    out = wait_for(
        lambda: [ln for ln in d.log().splitlines() if ln.startswith(f"parent {pid}")],
        message="child started",
    )
    child = int(out[0].split()[3])
    d.ok("signal", name="fam", signum="STOP", children=True)
    wait_for(lambda: state(child) == "T", message="child stopped")
    assert state(pid) != "T"
    d.ok("signal", name="fam", signum="CONT", children=True)
    d.ok("signal", name="fam", pid=pid, signum="KILL", recursive=True)
    wait_for(lambda: not pid_alive(child), message="recursive kill reached the child")
    reply = d.call("signal", name="fam", signum="NOPE")
    assert reply["status"] == "error" and "NOPE" in reply["reason"].upper()


def test_stop_children_kills_descendants(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:fam]
        cmd = {worker_cmd} spawn-child
        stop_children = true
        graceful_timeout = 5
    """)
    [pid] = d.pids("fam")
    out = wait_for(
        lambda: [ln for ln in d.log().splitlines() if ln.startswith(f"parent {pid}")],
        message="child started",
    )
    child = int(out[0].split()[3])
    d.ok("stop", name="fam", waiting=True)
    wait_for(lambda: not pid_alive(child) and not pid_alive(pid), message="family stopped")


def test_max_age_recycles_processes(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:old]
        cmd = {worker_cmd} sleep
        numprocesses = 2
        max_age = 1
        max_age_variance = 0
        graceful_timeout = 5
    """)
    first = set(d.pids("old"))
    wait_for(
        lambda: not (first & set(d.pids("old"))) and len(d.pids("old")) == 2,
        timeout=20,
        message="all processes recycled",
    )


def test_on_demand_starts_on_first_connection(circusd, worker_cmd):
    port = free_port()
    d = circusd(f"""
        [socket:web]
        host = 127.0.0.1
        port = {port}

        [watcher:lazy]
        cmd = {worker_cmd} http $(circus.sockets.web)
        use_sockets = true
        on_demand = true
    """)
    assert d.pids("lazy") == []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        reply = conn.recv(1000)
    assert reply.startswith(b"HTTP/1.0 200")
    assert len(d.pids("lazy")) == 1


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_socket_served_by_workers_on_either_host(circusd, worker_cmd, use_papa):
    port = free_port()
    d = circusd(f"""
        [socket:web]
        host = 127.0.0.1
        port = {port}
        use_papa = {use_papa}

        [watcher:web]
        cmd = {worker_cmd} http $(circus.sockets.web)
        use_sockets = true
        use_papa = {use_papa}
        numprocesses = 2
    """)
    pids = set(d.pids("web"))
    seen = set()
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            seen.add(int(conn.recv(1000).split(b"\r\n\r\n")[1]))
    assert seen <= pids
    sockets = d.ok("listsockets")["sockets"]
    assert [s["port"] for s in sockets] == [port]


def test_file_stream_gets_stdout_and_stderr(circusd, worker_cmd, tmp_path):
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    d = circusd(f"""
        [watcher:talk]
        cmd = sh -c "echo to-out; echo to-err >&2; sleep 3600"
        stdout_stream.class = FileStream
        stdout_stream.filename = {out}
        stderr_stream.class = FileStream
        stderr_stream.filename = {err}
    """)
    wait_for(lambda: read(out) == "to-out\n" and read(err) == "to-err\n", message="streams")
    assert d.pids("talk")


def test_stdout_stream_with_an_option_it_ignores_still_prints(circusd, tmp_path):
    """Issue 8.1: the original's StdoutStream took and ignored any option; ours failed on
    every chunk at run time after passing --check-config."""
    d = circusd("""
        [watcher:talk]
        cmd = sh -c "echo said-on-stdout; sleep 3600"
        stdout_stream.class = StdoutStream
        stdout_stream.time_format = %H:%M:%S
    """)
    wait_for(lambda: "said-on-stdout" in d.log(), message="output on circusd's stdout")
    assert "does not take this option: ignored" in d.log()
    assert "stream failed" not in d.log() and "Traceback" not in d.log()


def test_reloadconfig_adds_removes_and_changes(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:same]
        cmd = {worker_cmd} sleep
        [watcher:count]
        cmd = {worker_cmd} sleep
        [watcher:cmdchange]
        cmd = {worker_cmd} sleep a
        [watcher:removed]
        cmd = {worker_cmd} sleep
    """)
    same, count, changed, removed = (d.pids(n) for n in ("same", "count", "cmdchange", "removed"))
    d.write_config(f"""
        [watcher:same]
        cmd = {worker_cmd} sleep
        [watcher:count]
        cmd = {worker_cmd} sleep
        numprocesses = 3
        [watcher:cmdchange]
        cmd = {worker_cmd} sleep b
        [watcher:added]
        cmd = {worker_cmd} sleep
    """)
    d.ok("reloadconfig", waiting=True)
    assert d.pids("same") == same
    assert set(count) <= set(d.pids("count")) and len(d.pids("count")) == 3
    assert d.pids("cmdchange") and not set(changed) & set(d.pids("cmdchange"))
    assert len(d.pids("added")) == 1
    assert d.call("list", name="removed")["status"] == "error"
    wait_for(lambda: not pid_alive(removed[0]), message="removed watcher stopped")


def test_sighup_reloads_config(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:a]
        cmd = {worker_cmd} sleep
    """)
    d.write_config(f"""
        [watcher:a]
        cmd = {worker_cmd} sleep
        [watcher:b]
        cmd = {worker_cmd} sleep
    """)
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.call("list", name="b").get("pids"), message="b added by SIGHUP")


def test_bad_config_on_reload_keeps_everything_running(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:a]
        cmd = {worker_cmd} sleep
    """)
    pids = d.pids("a")
    d.write_config(f"""
        [watcher:a]
        cmd = {worker_cmd} sleep
        numprocesses = lots
    """)
    reply = d.call("reloadconfig", waiting=True)
    assert reply["status"] == "error"
    assert "numprocesses" in reply["reason"] and "lots" in reply["reason"]
    assert d.pids("a") == pids


def test_events_for_add_set_and_rm(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:a]
        cmd = {worker_cmd} sleep
    """)
    with EventSubscriber(d.pubsub, ["watcher."], timeout=10) as events:
        wait_for(lambda: subscribed(d, events, "a", 30), message="the subscription is live")
        d.ok("add", name="dyn", cmd=f"{worker_cmd} sleep", start=True, waiting=True)
        d.ok("set", name="dyn", options={"graceful_timeout": 3}, waiting=True)
        d.ok("rm", name="dyn", waiting=True)
        topics = []
        for topic, _body in events:
            topics.append(topic)
            if topic == "watcher.dyn.remove":
                break
    for expected in (
        "watcher.dyn.add",
        "watcher.dyn.spawn",
        "watcher.dyn.start",
        "watcher.dyn.updated",
        "watcher.dyn.remove",
    ):
        assert expected in topics


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_output_and_exit_of_instant_processes_are_not_lost(circusd, tmp_path, use_papa):
    """A process can print and exit before its spawn reply reaches circusd: neither its
    output nor its exit may be dropped."""
    out = tmp_path / "out.log"
    d = circusd(f"""
        [watcher:blink]
        cmd = sh -c "echo hi-$(circus.wid)"
        numprocesses = 30
        respawn = false
        use_papa = {use_papa}
        stdout_stream.class = FileStream
        stdout_stream.filename = {out}
    """)
    wait_for(
        lambda: d.ok("status", name="blink")["status"] == "stopped", message="every exit noticed"
    )
    lines = wait_for(
        lambda: len(read(out).splitlines()) >= 30 and read(out).splitlines(),
        message="every line written",
    )
    # wids of processes that already exited are reused, so lines may repeat: count them
    assert len(lines) == 30 and all(line.startswith("hi-") for line in lines)


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_every_line_of_a_burst_before_an_instant_exit_arrives(circusd, tmp_path, use_papa):
    """Processes that print a burst and exit at once (issue 9 item 6): each process's exit
    is applied after all of its output, so no line is dropped as output of an unmanaged
    process, on both hosts."""
    out = tmp_path / "out.log"
    procs, lines_each = 30, 2000
    # One write per line (stdbuf -oL): a block-buffered seq cuts lines at 4 KiB, and under
    # load the chunks of the 30 processes sharing the file then interleave mid-line.
    d = circusd(f"""
        [watcher:burst]
        cmd = sh -c 'stdbuf -oL seq -f "$$ %g" 1 {lines_each}; exit 3'
        numprocesses = {procs}
        respawn = false
        use_papa = {use_papa}
        stdout_stream.class = FileStream
        stdout_stream.filename = {out}
    """)
    wait_for(
        lambda: d.ok("status", name="burst")["status"] == "stopped", message="every exit noticed"
    )

    def by_pid() -> dict[str, list[int]]:
        lines: dict[str, list[int]] = {}
        for line in read(out).splitlines():
            pid, number = line.split()
            lines.setdefault(pid, []).append(int(number))
        return lines

    # (32 "pids" were seen under load: they were lines cut mid-pid by a block-buffered seq and
    # interleaved, not retried starts: the log had 30 exits; stdbuf -oL above prevents that)
    wait_for(
        lambda: len(by_pid()) >= procs and all(len(n) >= lines_each for n in by_pid().values()),
        timeout=30,
        message="every line of every process written",
    )
    for pid, numbers in by_pid().items():
        assert numbers == list(range(1, lines_each + 1)), f"process {pid} lost lines"


def test_circusctl_stats_extended_prints_the_hook_data(circusd, worker_cmd, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", HERE)
    d = circusd(f"""
        [watcher:web]
        cmd = {worker_cmd} sleep
        hooks.extended_stats = hooks_for_tests.uwsgi_like_stats
    """)
    [pid] = d.pids("web")

    def circusctl(*args):
        argv = [sys.executable, "-m", "circus.cli.circusctl", "--endpoint", d.endpoint, *args]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout

    plain = circusctl("stats", "web")
    assert plain.startswith(f"web:\n{pid}: {pid}  ") and "requests" not in plain
    extended = circusctl("stats", "--extended", "web")
    assert extended.splitlines()[2:] == ["    requests: 42", '    workers: {"busy": 1}']
    one = circusctl("stats", "--extended", "web", str(pid))
    assert "\n    requests: 42\n" in one


def test_failing_extended_stats_hook_is_logged_and_stats_still_answer(
    circusd, worker_cmd, monkeypatch
):
    monkeypatch.setenv("PYTHONPATH", HERE)
    d = circusd(f"""
        [watcher:web]
        cmd = {worker_cmd} sleep
        hooks.extended_stats = hooks_for_tests.explode
    """)
    [pid] = d.pids("web")
    info = d.ok("stats", name="web", extended=True)["info"][str(pid)]
    assert info["pid"] == pid
    wait_for(
        lambda: (
            "extended_stats hook of watcher web failed" in d.log()
            and "RuntimeError: boom" in d.log()
        ),
        message="the hook's failure in circusd's log",
    )


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_respawn_false_never_replaces_an_exited_process(circusd, tmp_path, use_papa):
    """With ``respawn = false`` an exit is final even while other processes of the watcher
    still run (the count must not be topped up again)."""
    out = tmp_path / "out.log"
    d = circusd(f"""
        [watcher:mixed]
        cmd = sh -c "echo started-$(circus.wid); [ $(circus.wid) -le 3 ] || exec sleep 60"
        numprocesses = 6
        respawn = false
        use_papa = {use_papa}
        stdout_stream.class = FileStream
        stdout_stream.filename = {out}
    """)
    wait_for(
        lambda: len(d.pids("mixed")) == 3 and len(read(out).splitlines()) >= 6,
        message="three quick exits, three sleepers",
    )
    # the quick exits are failed starts: a top-up would come after the back-off (0.1 s,
    # doubling), so look for one for longer than three back-offs
    time.sleep(1.5)
    lines = read(out).splitlines()
    assert sorted(lines) == [f"started-{wid}" for wid in range(1, 7)], lines
    assert len(d.pids("mixed")) == 3
