"""What circusd says when it exits (Ctrl-C in a terminal, SIGTERM, quit): whether the workers
keep running in papa-kernel, how many, and how to stop them. It said only 'control channel
closed', so a user who pressed Ctrl-C could not tell that the workers were still serving."""

import signal

import pytest
import support

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("how", ["SIGINT", "quit"])
def test_workers_left_in_the_kernel_are_announced(circusd, worker_cmd, how):
    """Ctrl-C with three processes of two watchers in the kernel (a use_papa = false one is not
    counted); quit with one (the singular, and 'ready: 1 watcher' at the start)."""
    if how == "quit":
        d = circusd(f"[watcher:web]\ncmd = {worker_cmd} sleep\n")
        assert f"circusd {d.proc.pid} ready: 1 watcher\n" in d.log()
        expected = f"exits: 1 process keeps running in papa-kernel at {d.papa} (web: 1);"
    else:
        d = circusd(
            f"[watcher:web]\ncmd = {worker_cmd} sleep\nnumprocesses = 2\n"
            f"[watcher:one]\ncmd = {worker_cmd} sleep\n"
            f"[watcher:local]\ncmd = {worker_cmd} sleep\nuse_papa = false\n"
        )
        expected = (
            f"circusd {d.proc.pid} exits: 3 processes keep running in papa-kernel at {d.papa} "
            "(one: 1, web: 2); the next circusd adopts them ('circusctl quit --stop-workers' or "
            "'circusd --stop-workers-on-exit' stops them)"
        )
    web = d.pids("web")
    if how == "quit":
        d.ok("quit")
    else:
        d.proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert d.proc.wait(timeout=20) == 0
    assert all(support.pid_alive(pid) for pid in web)
    assert expected in d.log(), d.log()


def test_workers_stopped_on_exit_are_not_announced(circusd, worker_cmd):
    """circusd --stop-workers-on-exit (``quit --stop-workers``: the atexit test below)."""
    body = f"[watcher:web]\ncmd = {worker_cmd} sleep\nnumprocesses = 2\n"
    d = circusd(body, args=("--stop-workers-on-exit",))
    web = d.pids("web")
    d.proc.send_signal(signal.SIGINT)
    assert d.proc.wait(timeout=20) == 0
    support.wait_for(lambda: not any(support.pid_alive(pid) for pid in web), timeout=10,
                     message="the workers are stopped")  # fmt: skip
    assert f"circusd {d.proc.pid} exits: no process keeps running" in d.log(), d.log()


ATEXIT_HOOK = """
import atexit, os

def register(watcher, arbiter, hook_name, **kwargs):
    atexit.register(lambda: open(os.environ["ATEXIT_MARK"], "w").write("ran"))
    return True
"""


def test_the_exit_runs_atexit_handlers_and_keeps_the_status(circusd, worker_cmd, tmp_path):
    """circusd ends its process without tearing the interpreter down (``exit_now``: ~10 ms of
    CPU less at each exit); what a normal exit does that matters still happens: the atexit
    handlers run (a hook's here, logging's flush), and the exit status is circusd's."""
    import os

    (tmp_path / "atexit_hook.py").write_text(ATEXIT_HOOK)
    mark = tmp_path / "mark"
    d = circusd(
        f"[watcher:web]\ncmd = {worker_cmd} sleep\nhooks.after_start = atexit_hook.register\n",
        start=False,
    )
    d.env = {**os.environ, "PYTHONPATH": str(tmp_path), "ATEXIT_MARK": str(mark)}
    d.start()
    web = d.pids("web")
    d.ok("quit", stop_workers=True)
    assert d.proc.wait(timeout=20) == 0
    assert mark.read_text() == "ran"
    # quit --stop-workers: the workers stopped, and not announced as running
    support.wait_for(lambda: not any(support.pid_alive(pid) for pid in web), timeout=10,
                     message="the workers are stopped")  # fmt: skip
    assert d.log().rstrip().endswith("exits: no process keeps running"), d.log()[-500:]
