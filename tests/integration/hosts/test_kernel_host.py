"""KernelHost against a real papa-kernel: processes, output/ack/redelivery, sockets, errors."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys

import pytest
import support
from hostkit import Collector, run
from kernelkit import RunningKernel
from support import children_of, kill_tree

from circus.errors import KernelError, SpawnError
from circus.hosts import names
from circus.hosts.base import ExitRecord, OutputChunk, SocketSpec, SpawnSpec
from circus.hosts.kernel import (
    KernelConnectionLost,
    KernelHost,
    KernelUnavailable,
    ensure_kernel,
    kernel_answers,
)
from circus.hosts.kernel_command import default_kernel_command

PY = sys.executable
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
SCRIPT = os.path.join(os.path.dirname(__file__), "kernel_client_script.py")


def sh(name: str, script: str, **kwargs) -> SpawnSpec:
    kwargs.setdefault("env", ENV)
    return SpawnSpec(name=name, argv=("sh", "-c", script), **kwargs)


def py(name: str, code: str, *args: str, **kwargs) -> SpawnSpec:
    """Python code as one line (the line protocol carries no newline inside an argument)."""
    kwargs.setdefault("env", ENV)
    return SpawnSpec(name=name, argv=(PY, "-c", f"exec({code!r})", *args), **kwargs)


@contextlib.asynccontextmanager
async def opened(kernel: RunningKernel, handler=None, **kwargs):
    host = KernelHost(kernel.endpoint, **kwargs)
    events = handler or Collector()
    await host.open(events)
    try:
        yield host, events
    finally:
        await host.close()


# --- processes -----------------------------------------------------------------------------------


@pytest.mark.shared_kernel
def test_spawn_list_signal_forget(kernel):
    async def main():
        async with opened(kernel) as (host, events):
            info = await host.spawn(sh("circus.w.1", "echo up; exec sleep 30"))
            assert info.running and info.name == "circus.w.1" and info.pid in kernel_children()
            listed = await host.list_processes("circus.w.")
            assert [(p.name, p.pid, p.running) for p in listed] == [("circus.w.1", info.pid, True)]
            assert await host.list_processes("circus.other.") == []
            await events.wait_for(lambda: events.output("circus.w.1") == b"up\n", what="up")
            assert await host.signal("circus.w.1", signal.SIGTERM)
            assert (await events.wait_exit("circus.w.1")).exit_code == -signal.SIGTERM
            assert not await host.signal("circus.w.1", signal.SIGTERM)
            assert not await host.signal("circus.nothing.1", signal.SIGTERM)
            await host.forget("circus.w.1")
            await host.forget("circus.nothing.1")
            assert await host.list_processes() == []

    def kernel_children():
        return children_of(kernel.pid)

    run(main())


@pytest.mark.shared_kernel
def test_group_signal_reaches_grandchildren(kernel, tmp_path):
    pidfile = tmp_path / "gc.pid"

    async def main():
        async with opened(kernel) as (host, events):
            await host.spawn(sh("circus.g.1", f"sleep 30 & echo $! > {pidfile}; wait"))
            grandchild = int(
                await asyncio.to_thread(
                    support.wait_for,
                    lambda: pidfile.exists() and pidfile.read_text().strip(),
                )
            )
            assert await host.signal("circus.g.1", signal.SIGTERM, group=True)
            assert (await events.wait_exit("circus.g.1")).exit_code == -signal.SIGTERM
            await asyncio.to_thread(support.wait_for, lambda: not support.pid_alive(grandchild))

    run(main())


@pytest.mark.shared_kernel
def test_output_and_exit_are_delivered_in_order_then_collected(kernel):
    async def main():
        async with opened(kernel) as (host, events):
            await host.spawn(sh("circus.o.1", r"echo out; echo err >&2; printf '\377\000'; exit 3"))
            assert (await events.wait_exit("circus.o.1")).exit_code == 3
            assert events.output("circus.o.1") == b"out\n\xff\x00"
            assert events.output("circus.o.1", "stderr") == b"err\n"
            assert isinstance(events.events[-1], ExitRecord)
            stamps = [e.timestamp for e in events.events]
            assert stamps == sorted(stamps)
            # acknowledged after the handler returned: the kernel drops the record
            for _ in range(500):
                if not await host.list_processes("circus.o.1"):
                    break
                await asyncio.sleep(0.01)
            assert await host.list_processes("circus.o.1") == []

    run(main())


@pytest.mark.shared_kernel
def test_unacknowledged_batch_is_redelivered_after_the_client_dies(kernel):
    client = subprocess.Popen(
        [PY, SCRIPT, kernel.endpoint],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )

    def client_line(timeout: float = 10.0) -> str:
        ready, _, _ = select.select([client.stdout], [], [], timeout)
        assert ready, "the client script printed nothing"
        return client.stdout.readline().decode()

    async def main():
        spawner = KernelHost(kernel.endpoint)  # commands only: never opened, never watches
        try:
            assert client_line() == "watching\n"
            await spawner.spawn(sh("circus.r.1", "echo first; exec sleep 30"))
            got = client_line()
            assert got.startswith("got circus.r.1 ") and got.endswith("b'first\\n'\n")
            stamp = float(got.split()[2])
            client.kill()  # circusd dies in the middle of handling the batch
            client.wait(timeout=10)
            async with opened(kernel) as (_host, events):
                await events.wait_for(lambda: events.output("circus.r.1"), what="redelivery")
                chunk = next(e for e in events.events if isinstance(e, OutputChunk))
                assert (chunk.data, chunk.timestamp) == (b"first\n", stamp)
        finally:
            await spawner.close()

    try:
        run(main())
    finally:
        kill_tree(client.pid)
        client.wait(timeout=10)
        client.stdout.close()
        client.stderr.close()


@pytest.mark.shared_kernel
def test_exits_while_no_client_is_attached_are_delivered_on_reconnect(kernel, tmp_path):
    gate = support.Gate(tmp_path)

    async def main():
        async with opened(kernel) as (host, _events):
            info = await host.spawn(sh("circus.d.1", f"read x <{gate.path}; echo bye; exit 5"))
        gate.open()  # nobody watches now: the process prints and exits
        await asyncio.to_thread(support.wait_for, lambda: not support.pid_alive(info.pid))
        async with opened(kernel) as (host, events):
            assert (await events.wait_exit("circus.d.1")).exit_code == 5
            assert events.output("circus.d.1") == b"bye\n"

    run(main())


@pytest.mark.shared_kernel
def test_many_concurrent_spawns_are_pipelined(kernel):
    count = 200

    async def main():
        async with opened(kernel) as (host, events):
            specs = [SpawnSpec(f"circus.many.{i}", ("sleep", "30"), env=ENV) for i in range(count)]
            infos = await asyncio.gather(*(host.spawn(spec) for spec in specs))
            assert [i.name for i in infos] == [s.name for s in specs]
            assert len({i.pid for i in infos}) == count
            assert len(await host.list_processes("circus.many.")) == count
            sent = await asyncio.gather(*(host.signal(s.name, signal.SIGKILL) for s in specs))
            assert all(sent)
            await events.wait_for(
                lambda: sum(isinstance(e, ExitRecord) for e in events.events) == count,
                timeout=30,
                what=f"{count} exits",
            )

    run(main())


@pytest.mark.shared_kernel
def test_respawn_of_the_same_name_inside_the_handler_starts_a_new_process(kernel):
    pids: list[int] = []

    async def main():
        host = KernelHost(kernel.endpoint)

        class Respawner(Collector):
            async def __call__(self, batch):
                await super().__call__(batch)
                if any(isinstance(e, ExitRecord) for e in batch) and len(pids) < 3:
                    info = await host.spawn(sh("circus.re.1", "exit 1"))
                    assert info.pid not in pids
                    pids.append(info.pid)

        events = Respawner()
        await host.open(events)
        try:
            pids.append((await host.spawn(sh("circus.re.1", "exit 1"))).pid)
            await events.wait_for(
                lambda: sum(isinstance(e, ExitRecord) for e in events.events) == 3, what="3 exits"
            )
        finally:
            await host.close()
        assert len(set(pids)) == 3

    run(main())


@pytest.mark.shared_kernel
def test_close_from_inside_the_handler_leaves_the_batch_unacknowledged(kernel):
    async def main():
        host = KernelHost(kernel.endpoint)
        closed = asyncio.Event()

        async def handler(batch):
            if any(isinstance(e, ExitRecord) for e in batch):
                await host.close()
                closed.set()

        await host.open(handler)
        await host.spawn(sh("circus.cl.1", "exit 4"))
        await asyncio.wait_for(closed.wait(), 10)
        with pytest.raises(KernelConnectionLost, match="closed"):
            await host.list_processes()
        async with opened(kernel) as (_again, events):  # not acknowledged: delivered again
            assert (await events.wait_exit("circus.cl.1")).exit_code == 4

    run(main())


@pytest.mark.shared_kernel
def test_spawn_never_returns_an_undelivered_dead_process(kernel):
    async def main():
        host = KernelHost(kernel.endpoint)  # not opened yet: nothing is delivered
        try:
            first = await host.spawn(sh("circus.st.1", "echo last words; exit 6"))
            await asyncio.to_thread(support.wait_for, lambda: not support.pid_alive(first.pid))
            for _ in range(500):
                listed = await host.list_processes("circus.st.1")
                if listed and not listed[0].running:
                    break
                await asyncio.sleep(0.01)
            with pytest.raises(SpawnError, match="has not been delivered yet"):
                await host.spawn(sh("circus.st.1", "echo last words; exit 6"))
            events = Collector()
            await host.open(events)
            assert (await events.wait_exit("circus.st.1")).exit_code == 6
            assert events.output("circus.st.1") == b"last words\n"  # nothing was discarded
            again = await host.spawn(sh("circus.st.1", "echo last words; exit 6"))
            assert again.running and again.pid != first.pid
        finally:
            await host.close()

    run(main())


@pytest.mark.shared_kernel
def test_big_output_with_a_slow_handler_arrives_complete(kernel):
    total = 4 * 1024 * 1024
    code = (
        f"import os\nfor i in range({total // 65536}):\n    os.write(1, bytes([i % 256]) * 65536)"
    )

    async def main():
        async with opened(kernel, Collector(delay=0.02)) as (host, events):
            await host.spawn(py("circus.big.1", code, bufsize=256 * 1024))
            await events.wait_exit("circus.big.1", timeout=60)
            expected = b"".join(bytes([i % 256]) * 65536 for i in range(total // 65536))
            got = events.output("circus.big.1")
            assert hashlib.sha256(got).hexdigest() == hashlib.sha256(expected).hexdigest()
            assert events.dropped("circus.big.1") == 0
            assert events.max_running == 1

    run(main())


# --- arguments and errors ------------------------------------------------------------------------

ODD_ARGS = [
    "a b",
    "  lead",
    "mid  dle",
    'qu"ote',
    "'single'",
    "back\\slash",
    "back\\ space",
    "tab\there",
    "ünï ☃",
    "$(not.a.socket)",
    "x=y",
    "*",
    "-",
    "%41",
    "] ",
    "#",
]
ODD_ENV = {
    "SPACES": " a  b ",
    "EMPTY": "",
    "QUOTED": '"quoted"',
    "TRAIL": "trail\\",
    "EQ": "a=b",
    "UNI": "ünï",
}
ECHO = "import json, os, sys; print(json.dumps([sys.argv[1:], dict(os.environ)]))"


@pytest.mark.shared_kernel
def test_odd_arguments_and_environment_round_trip(kernel):
    async def main():
        async with opened(kernel) as (host, events):
            await host.spawn(py("circus.odd.1", ECHO, *ODD_ARGS, env=ODD_ENV))
            await events.wait_exit("circus.odd.1")
            argv, env = json.loads(events.output("circus.odd.1"))
            assert argv == ODD_ARGS
            assert {k: env[k] for k in ODD_ENV} == ODD_ENV

    run(main())


#: what a space-separated token cannot carry: sent as ``arg.N=`` options (protocol 4)
PLACED_ARGS = ["--save", "", "c:\\", '""', "a=b", "", "last  "]


@pytest.mark.shared_kernel
def test_empty_backslash_and_trailing_space_arguments_reach_the_program(kernel):
    async def main():
        async with opened(kernel) as (host, events):
            assert host.protocol >= 4
            await host.spawn(py("circus.odd.1", ECHO, *PLACED_ARGS))
            await events.wait_exit("circus.odd.1")
            assert json.loads(events.output("circus.odd.1"))[0] == PLACED_ARGS

    run(main())


@pytest.mark.shared_kernel
def test_names_from_the_naming_helper_work_end_to_end(kernel):
    name = names.process_name("my web: *%", 7)

    async def main():
        async with opened(kernel, prefix=names.watcher_prefix("my web: *%")) as (host, events):
            await host.spawn(sh(name, "echo hi"))
            await events.wait_exit(name)
            assert names.parse_process_name(events.exit_of(name).name) == ("my web: *%", 7)

    run(main())


@pytest.mark.shared_kernel
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (SpawnSpec("circus.e.1", ("/nonexistent/prog",)), "/nonexistent/prog"),
        (SpawnSpec("circus.e.1", ("sh",), working_dir="/nonexistent"), "working_dir"),
        (SpawnSpec("circus.e.1", ("sh", "$(socket.circus.nope.fileno)")), "circus.nope"),
        (SpawnSpec("circus.e.1", ("sh",), sockets=("circus.nope",)), "circus.nope"),
        (SpawnSpec("circus.e.1", ("sh",), rlimits={"bogus": 1}), "bogus"),
        (SpawnSpec("circus.e.1", ("sh", "a\nb")), "newline"),
    ],
)
def test_spawn_errors_carry_the_kernels_message(kernel, spec, message):
    async def main():
        async with opened(kernel) as (host, _):
            with pytest.raises(SpawnError, match=message.replace("$", r"\$")):
                await host.spawn(spec)
            assert await host.list_processes() == []
            await host.spawn(sh("circus.ok.1", "true"))  # the connection is still usable

    run(main())


@pytest.mark.shared_kernel
def test_conflicting_spawn_and_socket_are_refused(kernel):
    async def main():
        async with opened(kernel) as (host, _):
            first = await host.spawn(sh("circus.c.1", "exec sleep 30"))
            assert (await host.spawn(sh("circus.c.1", "exec sleep 30"))).pid == first.pid
            with pytest.raises(SpawnError, match="already been created"):
                await host.spawn(sh("circus.c.1", "exec sleep 31"))
            await host.make_socket(SocketSpec("circus.s"))
            with pytest.raises(KernelError, match="already been created"):
                await host.make_socket(SocketSpec("circus.s", backlog=7))
            with pytest.raises(KernelError, match="cannot be sent"):
                await host.list_processes("a b")

    run(main())


# --- sockets and values --------------------------------------------------------------------------


@pytest.mark.shared_kernel
def test_sockets_inheritance_wait_readable_and_removal(kernel):
    code = (
        "import socket, sys\ns = socket.socket(fileno=int(sys.argv[1]))\n"
        "c, _ = s.accept(); c.sendall(b'kernel-served')\n"
    )

    async def main():
        async with opened(kernel) as (host, events):
            web = await host.make_socket(SocketSpec("circus.web"))
            assert web.fileno is not None and web.port and web.host == "127.0.0.1"
            assert await host.make_socket(SocketSpec("circus.web")) == web  # idempotent
            assert [s.name for s in await host.list_sockets("circus.")] == ["circus.web"]
            waiter = asyncio.ensure_future(host.wait_readable(["circus.web"]))
            await asyncio.sleep(0.1)
            assert not waiter.done()
            reader, writer = await asyncio.open_connection("127.0.0.1", web.port)
            assert await asyncio.wait_for(waiter, 10) == "circus.web"
            await host.spawn(py("circus.srv.1", code, "$(socket.circus.web.fileno)"))
            assert await asyncio.wait_for(reader.read(), 10) == b"kernel-served"
            writer.close()
            assert (await events.wait_exit("circus.srv.1")).exit_code == 0
            await host.remove_socket("circus.web")
            await host.remove_socket("circus.web")  # unknown: ignored
            assert await host.list_sockets() == []

    run(main())


@pytest.mark.shared_kernel
def test_unix_socket_through_the_kernel(kernel):
    path = os.path.join(kernel.directory, "w.sock")

    async def main():
        async with opened(kernel) as (host, _):
            info = await host.make_socket(SocketSpec("circus.u", path=path, umask=0o077))
            assert (info.family, info.path) == ("unix", path)
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(path)

    run(main())


@pytest.mark.shared_kernel
def test_values_survive_the_host(kernel):
    async def main():
        async with opened(kernel) as (host, _):
            await host.set_value("circus.hash.web", "abc def  g")
            await host.set_value("circus.gone", "x")
            await host.set_value("circus.gone", None)
        async with opened(kernel) as (host, _):
            assert await host.get_values("circus.") == {"circus.hash.web": "abc def  g"}

    run(main())


# --- failures ------------------------------------------------------------------------------------


def test_a_dead_kernel_is_reported_not_a_hang(kdir):
    kernel = RunningKernel(kdir)

    async def main():
        lost: list[KernelError] = []
        reported = asyncio.Event()

        def on_lost(error: KernelError) -> None:
            lost.append(error)
            reported.set()

        host = KernelHost(kernel.endpoint, on_lost=on_lost)
        await host.open(Collector())
        try:
            kernel.stop()
            await asyncio.wait_for(reported.wait(), 10)
            assert len(lost) == 1 and "papa-kernel" in str(lost[0])
            with pytest.raises(KernelConnectionLost):
                await host.spawn(sh("circus.x.1", "true"))
            again = RunningKernel(kdir)  # a new kernel on the same socket: open() reconnects
            try:
                events = Collector()
                await host.open(events)
                await host.spawn(sh("circus.x.1", "exit 2"))
                assert (await events.wait_exit("circus.x.1")).exit_code == 2
                assert host.lost is None
            finally:
                await host.close()
                again.stop()
        finally:
            await host.close()

    try:
        run(main())
    finally:
        if kernel.proc.returncode is None:
            kernel.stop()


def test_a_dropped_connection_is_not_a_dead_kernel(kernel):
    """circusd kills a lost kernel's workers at once only if the kernel is known dead: a
    connection that breaks while the kernel runs must not look like its death."""

    async def main():
        reported = asyncio.Event()
        host = KernelHost(kernel.endpoint, on_lost=lambda error: reported.set())
        await host.open(Collector())
        try:
            # Break the command connection from our side: the kernel lives on.
            host._commands._writer.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(KernelError):
                await host.list_processes()
            await asyncio.wait_for(reported.wait(), 10)
            assert not await host.kernel_exited(0.2)
            os.kill(kernel.pid, signal.SIGKILL)
            assert await host.kernel_exited(10)
        finally:
            await host.close()

    run(main())


def test_loopback_tcp_endpoint(kdir):
    kernel = RunningKernel(kdir, tcp=True)

    async def main():
        host = KernelHost(kernel.tcp_endpoint)
        events = Collector()
        await host.open(events)
        try:
            await host.spawn(sh("circus.tcp.1", "echo over-tcp"))
            await events.wait_exit("circus.tcp.1")
            assert events.output("circus.tcp.1") == b"over-tcp\n"
            assert await ensure_kernel(kernel.tcp_endpoint) is False
        finally:
            await host.close()

    try:
        run(main())
    finally:
        kernel.stop()


def test_nobody_listening_is_a_clear_error(kdir):
    async def main():
        host = KernelHost(os.path.join(kdir, "none.sock"))
        with pytest.raises(KernelUnavailable, match="cannot connect to papa-kernel"):
            await host.open(Collector())
        with pytest.raises(KernelUnavailable, match=r"tcp://127\.0\.0\.1"):
            await ensure_kernel(f"tcp://127.0.0.1:{support.free_port()}", timeout=2)

    run(main())


def _accepts(path: str) -> bool:
    import socket

    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def test_the_original_papa_server_is_refused(kdir):
    path = os.path.join(kdir, "papa.sock")
    papa = subprocess.Popen(
        [os.path.join(os.path.dirname(PY), "papa"), "-u", path],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # listening, not only bound: the file appears at bind(), before listen()
        support.wait_for(lambda: _accepts(path), message="papa socket listening")

        async def main():
            host = KernelHost(path)
            with pytest.raises(KernelError, match="not papa-kernel"):
                await host.open(Collector())
            await host.close()

        run(main())
    finally:
        kill_tree(papa.pid)
        papa.wait(timeout=10)


def test_ensure_kernel_starts_a_detached_daemon(kdir):
    path = os.path.join(kdir, "sub", "auto.sock")

    async def main():
        assert await ensure_kernel(path, args=["--log-file", os.path.join(kdir, "auto.log")])
        assert await kernel_answers(path)
        assert not await ensure_kernel(f"ipc://{path}")  # already answering: nothing started

    daemon = None
    try:
        run(main())
        daemon = read_pid(path + ".pid")
        with open(f"/proc/{daemon}/stat") as handle:
            ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        assert ppid != os.getpid() and daemon not in children_of(os.getpid())
        assert os.getsid(daemon) != os.getsid(0)
    finally:
        if daemon is None and os.path.exists(path + ".pid"):
            daemon = read_pid(path + ".pid")
        if daemon is not None:
            kill_tree(daemon)
            support.wait_for(lambda: not support.pid_alive(daemon), message="daemon gone")


def test_a_started_kernel_runs_without_site_and_keeps_its_title(kdir):
    """circusd runs the kernel with ``python -S`` (no site-packages): it is told where
    papa_kernel and setproctitle are, so it starts and still sets its process title."""
    path = os.path.join(kdir, "nosite.sock")
    assert default_kernel_command()[1] == "-S"
    daemon = None
    try:
        run(ensure_kernel(path))
        daemon = read_pid(path + ".pid")
        with open(f"/proc/{daemon}/cmdline", "rb") as handle:
            assert handle.read().startswith(b"papa-kernel " + path.encode())
    finally:
        if daemon is not None:
            kill_tree(daemon)
            support.wait_for(lambda: not support.pid_alive(daemon), message="daemon gone")


def test_ensure_kernel_reports_why_the_kernel_could_not_start(kdir):
    async def main():
        with pytest.raises(KernelUnavailable, match="could not start papa-kernel"):
            await ensure_kernel(os.path.join(kdir, "k.sock"), args=["--log-level", "bogus"])

    run(main())


def read_pid(path: str) -> int:
    with open(path) as handle:
        return int(handle.read())


def test_exit_if_idle_right_after_the_last_exit_is_handled_succeeds_at_once(kernel):
    """The exits just handled are acknowledged (the kernel then forgets those processes)
    before the question is asked: one ask is enough, no retry loop (issue 9 item 6)."""

    class SlowAfterward(Collector):
        """Records a batch, then takes a while more (writing streams, say) before the
        acknowledgement can go: whoever waited for the exit runs meanwhile."""

        async def __call__(self, batch):
            await super().__call__(batch)
            await asyncio.sleep(0.3)

    async def main():
        async with opened(kernel, SlowAfterward()) as (host, events):
            names_ = [f"circus.q.{i}" for i in range(1, 11)]
            for name in names_:
                await host.spawn(sh(name, "echo bye; exit 0"))
            for name in names_:
                await events.wait_exit(name)  # the batch is not acknowledged yet
            assert await host.exit_if_idle()

    run(main())
    support.wait_for(lambda: not support.pid_alive(kernel.pid), message="the idle kernel exited")
