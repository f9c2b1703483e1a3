"""What the kernel's interpreter holds: the modules it imports (each costs resident memory in a
process that lives for months), its log writer and circusd's log file handler."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import subprocess
import sys
import tracemalloc

import pytest
import support
from kernel_helpers import READY_PREFIX, Client

from circus.hosts.kernel_boot import boot_command, kernel_import_paths
from papa_kernel import klog, sdnotify
from papa_kernel.kernel import Kernel
from papa_kernel.logfile import ReopeningFileHandler
from papa_kernel.logwriter import LOG_FORMAT, LogWriter, format_line
from papa_kernel.loop import Loop
from papa_kernel.procspec import parse_process
from papa_kernel.protocol import split_options, tokenize
from papa_kernel.records import frozen_record, record, replace
from papa_kernel.sockets import SocketRegistry
from papa_kernel.spawn import Spawned

pytestmark = pytest.mark.timeout(30)

#: Standard modules the kernel does without (and what each brought along, in MB of RSS).
NOT_IMPORTED = (
    "logging.handlers",  # pickle, queue, copy, struct: 0.5
    "typing",  # 0.4
    "dataclasses",  # with inspect, ast, dis: 1.1
    "inspect",
    "logging",  # with traceback, threading, string, weakref: 0.8 MB (its own writer: logwriter)
    "argparse",  # with gettext: 0.4 MB (papa_kernel.options reads the command line)
    "gettext",
    "warnings",  # with importlib.machinery (setproctitle's extension is found without them)
    "importlib.machinery",
    "re",  # ~2 ms of each start (socket references are found with str.find)
    "papa_kernel.init",  # --init only
    "papa_kernel.shutdown",  # --graceful-stop (and --init) only
)


def test_the_kernel_imports_none_of_the_modules_it_does_without():
    """As circusd starts it (``python -S``, circus.hosts.kernel_boot): only papa_kernel."""
    code = (f"import sys; sys.path[:0] = {kernel_import_paths()!r}; import papa_kernel.cli; "
            "print(' '.join(sorted(sys.modules)))")  # fmt: skip
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, timeout=20).stdout.split()  # fmt: skip
    assert "papa_kernel.server" in out
    assert not set(NOT_IMPORTED) & set(out)


#: ``python -S -c BOOT`` as circusd runs it, plus: the modules imported, written at exit.
RUN_AND_LIST_MODULES = """\
import atexit
atexit.register(lambda: open(os.environ["MODULES_FILE"], "w").write(" ".join(sys.modules)))
sys.exit(main())"""


def test_a_started_kernel_imports_none_of_the_modules_it_does_without(kdir):
    """A kernel that served a session (help, processes, a watch, errors, signals) and exited:
    none of :data:`NOT_IMPORTED` was imported, its log lines are logging's, and its process
    title is ``papa-kernel SOCKET`` (setproctitle's extension, loaded without its package)."""
    path, log_path = os.path.join(kdir, "k.sock"), os.path.join(kdir, "k.log")
    modules_file = os.path.join(kdir, "modules")
    proc = subprocess.Popen(
        [*boot_command(RUN_AND_LIST_MODULES), "--socket", path, "--log-level", "info",
         "--log-file", log_path],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "MODULES_FILE": modules_file},
    )  # fmt: skip
    try:
        assert proc.stdout.readline().startswith(READY_PREFIX)
        if importlib.util.find_spec("setproctitle") is not None:
            with open(f"/proc/{proc.pid}/cmdline", "rb") as handle:
                assert handle.read().rstrip(b"\0") == f"papa-kernel {path}".encode()
        client = Client(path)
        for line in ("help", "help make process", "version", "list processes",
                     "make process w env.PATH=/bin sleep 100", "list processes w*"):  # fmt: skip
            client.cmd(line)
        assert "Unknown" in client.error("bogus command")
        watcher = Client(path)
        watcher.watch("watch processes w")
        client.cmd("signal TERM w")
        support.wait_for(lambda: "exit_code=" in client.cmd("list processes w"),
                         message="w to exit")  # fmt: skip
        watcher.close()
        client.cmd("remove processes w")
        assert client.raw("exit-if-idle") == "Exiting papa!"
        client.close()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    with open(modules_file) as handle:
        imported = set(handle.read().split())
    assert "papa_kernel.server" in imported
    assert not set(NOT_IMPORTED) & imported
    with open(log_path) as handle:
        lines = handle.read().splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    start = rf"{stamp} papa-kernel\[{proc.pid}\] INFO"
    ready = rf"{start} papa_kernel: papa-kernel ready pid={proc.pid} socket={re.escape(path)}"
    assert re.fullmatch(ready, lines[0])
    exited = rf"{start} papa_kernel.kernel: process w pid=\d+ exited with -15"
    assert any(re.fullmatch(exited, line) for line in lines)


def _logging_line(level: int, name: str, msg: str, args: tuple, exc_info=None) -> str:
    record = logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)
    return logging.Formatter(LOG_FORMAT).format(record) + "\n"


def _without_time(line: str) -> str:
    return line.split(" ", 2)[2]  # the date and the time differ by the milliseconds between


def test_the_log_writer_writes_the_lines_logging_wrote():
    assert _without_time(format_line(klog.WARNING, "papa_kernel.x", "a %s %d", ("b", 3))) == (
        _without_time(_logging_line(logging.WARNING, "papa_kernel.x", "a %s %d", ("b", 3)))
    )
    try:
        raise ValueError("boom")
    except ValueError:
        ours = format_line(klog.ERROR, "papa_kernel.loop", "error in %r", ("cb",), sys.exception())
        theirs = _logging_line(logging.ERROR, "papa_kernel.loop", "error in %r", ("cb",),
                               sys.exc_info())  # fmt: skip
    assert _without_time(ours) == _without_time(theirs) and "ValueError: boom" in ours
    bad = format_line(klog.INFO, "papa_kernel", "two %s %s", ("one",))  # never raises
    assert "two %s %s" in bad and "not logged as it should be" in bad


def test_the_kernel_log_file_is_reopened_after_rotation(tmp_path):
    path = tmp_path / "kernel.log"
    writer = LogWriter(klog.INFO, path=str(path))
    try:
        for text, before in (("one", None), ("two", "rename"), ("three", "unlink"),
                             ("four", None), ("hidden", None)):  # fmt: skip
            if before == "rename":
                os.rename(path, tmp_path / "kernel.log.1")  # logrotate moves it away
            elif before == "unlink":
                path.unlink()  # or removes it
            level = klog.DEBUG if text == "hidden" else klog.INFO
            if writer.enabled(level):
                writer.emit(level, "papa_kernel", text, (), False)
    finally:
        writer.close()
    assert [
        line.split(": ")[-1] for line in (tmp_path / "kernel.log.1").read_text().splitlines()
    ] == ["one"]
    assert [line.split(": ")[-1] for line in path.read_text().splitlines()] == ["three", "four"]


def test_without_the_kernel_writer_records_go_to_logging(caplog):
    """In circusd (which imports papa_kernel.sdnotify) and in-process tests, the kernel's
    loggers are logging's, under the same names."""
    assert klog.install(None) is None  # no writer in this process
    notifier = sdnotify.Notifier({"NOTIFY_SOCKET": "/nonexistent/notify"})
    with caplog.at_level(logging.WARNING, logger="papa_kernel.sdnotify"):
        assert not notifier.notify("READY=1")
    (record,) = caplog.records
    assert record.name == "papa_kernel.sdnotify" and "sd_notify" in record.getMessage()
    assert record.funcName == "notify"  # the caller, not the facade
    assert klog.get("papa_kernel.x").isEnabledFor(klog.WARNING)


def test_the_log_file_is_reopened_after_rotation(tmp_path):
    path = tmp_path / "kernel.log"
    handler = ReopeningFileHandler(str(path))
    log = logging.getLogger("papa_kernel.test_footprint")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("one")
        os.rename(path, tmp_path / "kernel.log.1")  # logrotate moves it away
        log.warning("two")
        assert path.read_text() == "two\n"  # a new file at the path
        path.unlink()  # or removes it
        log.warning("three")
        log.warning("four")
    finally:
        log.removeHandler(handler)
        handler.close()
    assert (tmp_path / "kernel.log.1").read_text() == "one\n"
    assert path.read_text() == "three\nfour\n"


@frozen_record
class Point:
    x: int
    y: int = 0


@record
class Box:
    size: int
    label: str = "box"


def test_records_behave_as_the_dataclasses_they_replace():
    p = Point(1)
    assert (p.x, p.y) == (1, 0) and p == Point(x=1, y=0) and p != Point(1, 2)
    assert repr(p) == "Point(x=1, y=0)" and hash(p) == hash(Point(1, 0))
    with pytest.raises(AttributeError, match="frozen Point"):
        p.x = 3  # type: ignore[misc]
    assert replace(p, y=5) == Point(1, 5) and p.y == 0
    for bad in (lambda: Point(), lambda: Point(1, 2, 3), lambda: Point(1, z=2),
                lambda: Point(1, x=2), lambda: replace(p, z=1)):  # fmt: skip
        with pytest.raises(TypeError):
            bad()
    box = Box(3)
    box.size = 4
    assert box == Box(4, "box") and box.label == "box"
    with pytest.raises(TypeError):
        hash(box)


def test_a_hosted_process_costs_the_kernel_little_memory():
    """What the kernel keeps per hosted worker (entry, two output streams, three fd handlers,
    its name and pid): under 1 KB of Python memory (946 bytes measured; 1033 with a set of
    the bulk fds beside the loop's handler map, 1098 with the streams in a dict by kind, 1342
    when the loop was a ``selectors`` selector, with a key per fd; 2.4 KB with closures as
    handlers, a set of watches and an unused list per entry). The fds are pipes standing in
    for the child's (never readable here)."""
    loop, count = Loop(), 150
    kernel = Kernel(loop, use_pidfd=False)
    fds = [os.pipe() for _ in range(3 * count)]
    identity = "1\nstdout=1\n/bin/sleep\n100"
    try:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        entries = []
        for index in range(count):
            out, err, pidfd = (fds[3 * index + k][0] for k in range(3))
            spawned = Spawned(pid=10**6 + index, pidfd=pidfd, stdout=out, stderr=err)
            entries.append(kernel.host(f"w.{index}", spawned, "/bin/sleep 100", identity, 4096))
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / count
        tracemalloc.stop()
    finally:
        loop.close()  # also the SIGCHLD handler and the wakeup fd the kernel installed
        for read, write in fds:
            os.close(read)
            os.close(write)
    assert per_entry < 1000, f"{per_entry:.0f} bytes per hosted process"


def _spec(line: str):
    options, args = split_options(tokenize(line))
    return parse_process(options, args, SocketRegistry(), 2 * 1024 * 1024)


def test_the_workers_of_a_watcher_share_what_their_entries_keep():
    """What an entry keeps from its ``make process`` line (its identity, its arguments, its
    buffer size) is one object for every worker of a watcher, not a copy per worker (a tuple
    of option pairs was ~60 bytes per option and worker)."""
    line = ("working_dir=/tmp umask=022 env.PATH=/bin:/usr/bin env.LANG=C.UTF-8 "
            "/bin/sleep 100")  # fmt: skip
    specs = [_spec(line) for _ in range(3)]
    for kept in ("identity", "args_text", "capacity"):
        assert len({id(getattr(spec, kept)) for spec in specs}) == 1, kept
    # and the identity still tells apart what must differ (a repeat that differs is refused)
    assert _spec(line + " watch=1").identity != specs[0].identity  # an argument, not an option
    assert _spec("watch=1 " + line).identity == specs[0].identity  # watch= is not compared
    assert _spec("umask=022 working_dir=/tmp env.PATH=/bin:/usr/bin env.LANG=C.UTF-8 "
                 "/bin/sleep 100").identity == specs[0].identity  # fmt: skip
    different = ["env.A=b=c /bin/true", "env.A=b env.C=d /bin/true", "env.A=b /bin/true C=d",
                 r"/bin/true a\ b", "/bin/true a b", "arg.1= /bin/true x",
                 "/bin/true x"]  # fmt: skip
    assert len({_spec(text).identity for text in different}) == len(different)
