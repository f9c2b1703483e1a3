"""The shape of the core (issue 9): what a watcher gets instead of the arbiter, the hosts by
name, background commands owned and cancelled, and the review's findings (one spawn-record
delete per process, one listing of the kernel at start-up). Virtual time, FakeHost."""

from __future__ import annotations

import asyncio
import inspect
import signal

import pytest

import circus.watcher
import circus.watcher_commands
import circus.watcher_context
import circus.watcher_outdated
from circus import spawning
from circus.control.codec import Request
from circus.control.controller import Controller
from circus.hosts.base import ProcessHost
from circus.hostset import KERNEL, LOCAL
from circus.spawn_records import RECORD_PREFIX
from circus.testing import FakeHost, arbiter_on, settle, start_arbiter, virtual_time
from circus.worker_record import RecordedWorker, WorkerRecord, record_path


def _imports_arbiter(module: object) -> bool:
    source = inspect.getsource(module)  # type: ignore[arg-type]
    return "circus.arbiter" in source or "import arbiter" in source


def test_watcher_modules_do_not_import_the_arbiter():
    for module in (
        circus.watcher,
        circus.watcher_commands,
        circus.watcher_outdated,
        circus.watcher_context,
    ):
        assert not _imports_arbiter(module), module.__name__


@virtual_time
async def test_a_watcher_gets_a_context_not_the_arbiter():
    host = FakeHost()
    arbiter = await start_arbiter(arbiter_on(host, {"watchers": [{"name": "w", "cmd": "prog"}]}))
    watcher = arbiter.get_watcher("w")
    assert not hasattr(watcher, "arbiter")
    assert watcher.context is arbiter.watcher_context
    assert watcher.context.hook_arbiter is arbiter  # what hooks receive, as in the manual


def test_spawn_spec_is_a_pure_function_of_config_and_context():
    from circus.config import config_from_dict

    config = config_from_dict(
        {
            "umask": 0o22,
            "watchers": [
                {"name": "w", "cmd": "prog $(circus.wid) $(circus.sockets.web)", "use_sockets": 1}
            ],
            "sockets": [{"name": "web", "host": "127.0.0.1", "port": 0}],
        }
    )
    ctx = spawning.SpawnContext.of(config, "/srv")
    wconf = config.watchers[0]
    spec = spawning.spawn_spec(wconf, ctx, 3)
    assert spec == spawning.spawn_spec(wconf, ctx, 3)  # no state: same inputs, same request
    assert spec.name == "circus.w.3"
    assert spec.argv == ("prog", "3", "$(socket.circus.web.fileno)")
    assert spec.working_dir == "/srv"
    assert spec.umask == 0o22
    assert spec.sockets == ("circus.web",)
    assert spawning.socket_host_names(wconf, ctx) == ["circus.web"]


# --- hosts ---------------------------------------------------------------------------------------


def test_process_host_declares_what_circus_calls_and_nothing_it_does_not():
    members = {
        name
        for name, value in vars(ProcessHost).items()
        if callable(value) and not name.startswith("_")
    }
    assert "forget" not in members  # nothing in circus calls it
    for name in ("exit_if_idle", "list_sockets", "set_value", "get_values", "wait_readable"):
        assert name in members
    assert "keep_children" in inspect.signature(ProcessHost.close).parameters
    assert "group" in inspect.signature(ProcessHost.signal).parameters


@virtual_time
async def test_hosts_are_named_and_installed_publicly():
    kernel, local = FakeHost(), FakeHost(persistent=False)
    arbiter = arbiter_on(
        kernel,
        {
            "watchers": [
                {"name": "k", "cmd": "prog"},
                {"name": "l", "cmd": "prog", "use_papa": False},
            ]
        },
    )
    arbiter.hosts.use(LOCAL, local)
    await start_arbiter(arbiter)
    assert arbiter.hosts.get(KERNEL) is kernel and arbiter.hosts.get(LOCAL) is local
    assert [c.name for c in kernel.ops("spawn")] == ["circus.k.1"]
    assert [c.name for c in local.ops("spawn")] == ["circus.l.1"]


# --- background commands --------------------------------------------------------------------------


@virtual_time
async def test_a_long_background_command_is_cancelled_on_quit():
    """``incr`` without ``waiting`` runs in the background; its spawn hangs in a before_spawn
    hook. ``quit`` cancels it instead of waiting for the watcher it holds."""
    hanging = asyncio.Event()

    async def before_spawn(watcher, arbiter, hook_name, **kwargs):
        if len(watcher.processes) >= 1:  # the start's spawn goes through; incr's hangs
            hanging.set()
            await asyncio.sleep(3600)
        return True

    host = FakeHost()
    config = {"watchers": [{"name": "w", "cmd": "prog", "hooks": {"before_spawn": before_spawn}}]}
    arbiter = await start_arbiter(arbiter_on(host, config))
    controller = Controller(arbiter, "ipc:///nonexistent/never-bound")
    arbiter.controller = controller  # as astart sets it (the socket is never bound here)
    loop = asyncio.get_running_loop()

    reply = await controller.dispatch(Request("incr", {"name": "w"}, "1"))
    assert reply["status"] == "ok"
    await hanging.wait()
    (task,) = list(controller.background._tasks)
    started = loop.time()
    await arbiter.quit(stop_workers=True)
    assert loop.time() - started < 1  # not the hook's hour
    assert task.cancelled()
    assert len(controller.background) == 0
    assert host.running() == []


# --- review findings ------------------------------------------------------------------------------


@virtual_time
async def test_a_stopped_process_has_its_spawn_record_deleted_once():
    host = FakeHost(persistent=True)
    arbiter = await start_arbiter(
        arbiter_on(host, {"watchers": [{"name": "w", "cmd": "prog", "numprocesses": 2}]})
    )
    assert len(await host.get_values(RECORD_PREFIX)) == 2
    await arbiter.get_watcher("w").stop()
    await settle()
    deletes = [c.name for c in host.ops("set_value") if c.value is None]
    assert sorted(deletes) == [f"{RECORD_PREFIX}w.1", f"{RECORD_PREFIX}w.2"]
    assert await host.get_values(RECORD_PREFIX) == {}


@pytest.mark.parametrize("recorded", [False, True])
@virtual_time
async def test_start_up_lists_the_kernels_processes_once(tmp_path, recorded):
    """With a worker record left by the previous circusd, orphans are looked for and workers
    adopted from one listing of the kernel (it was listed twice)."""
    sock = tmp_path / "papa.sock"
    host = FakeHost()
    worker = host.add_process("circus.w.1", age=10)
    if recorded:
        record = WorkerRecord(record_path(str(sock)))
        record.added(RecordedWorker(worker.name, worker.pid, worker.started))
        record.close()
    arbiter = arbiter_on(
        host, {"papa_endpoint": f"ipc://{sock}", "watchers": [{"name": "w", "cmd": "prog"}]}
    )
    arbiter.hosts.take_instance_lock()
    await start_arbiter(arbiter)
    try:
        assert len(host.ops("list_processes")) == 1
        assert arbiter.get_watcher("w").pids() == [worker.pid]  # adopted, not respawned
        assert host.ops("spawn") == []
    finally:
        await arbiter.quit()


@virtual_time
async def test_processes_of_unconfigured_watchers_are_stopped_after_start():
    host = FakeHost()
    gone = host.add_process("circus.gone.1")
    arbiter = arbiter_on(host, {"watchers": [{"name": "w", "cmd": "prog"}]})
    await start_arbiter(arbiter)  # as astart: after the watchers started
    assert [(c.name, c.signum) for c in host.ops("signal")] == [(gone.name, signal.SIGTERM)]
