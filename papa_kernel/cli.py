"""``papa-kernel`` command line: options, logging, daemonizing, pid file, process title.

Once listening, the kernel prints one line on stdout (in ``--daemon`` mode the launching
process prints it for the daemon, then exits 0)::

    papa-kernel ready pid=1234 socket=/run/user/1000/circus/papa.sock tcp=127.0.0.1:20202

or, on failure, ``papa-kernel: <reason>`` on stderr with exit status 1.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import stat
import sys
from collections.abc import Callable

from papa_kernel import daemon, klog, paths, sdnotify, spawn
from papa_kernel.errors import KernelError
from papa_kernel.logwriter import LogWriter
from papa_kernel.options import DEFAULT_GRACE, Options, fail, parse
from papa_kernel.options import build_parser as build_parser  # the docs' reference uses it
from papa_kernel.pipes import quiet_on_broken_pipe
from papa_kernel.protocol import addressable, is_decimal
from papa_kernel.server import CONTROL_FDNAME, Server, StartupError
from papa_kernel.sockets import MAX_PORT
from papa_kernel.typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from papa_kernel.init import Init
    from papa_kernel.typenames import Any

log = klog.get("papa_kernel")

EXIT_OK = 0
EXIT_STARTUP_FAILED = 1  # could not listen (socket served, bad option...)
NOFILE_TARGET = 65536  # 1000 processes need ~3000 fds; the usual soft limit is 1024
PID_DIR_MODE = 0o755  # a missing pid-file directory is created readable: pids are not secret
#: --log-level -> level
LEVELS = {"debug": klog.DEBUG, "info": klog.INFO, "warning": klog.WARNING,
              "error": klog.ERROR, "critical": klog.CRITICAL}  # fmt: skip


def parse_tcp(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise StartupError(f'--tcp needs HOST:PORT, not "{text}"')
    if not (is_decimal(port) and len(port) <= 5 and int(port) <= MAX_PORT):
        raise StartupError(
            f'--tcp needs HOST:PORT with a port between 0 and {MAX_PORT}, not "{text}"'
        )
    return host.strip("[]"), int(port)


@quiet_on_broken_pipe
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``papa-kernel`` console script."""
    args = parse(argv)
    if args.force and (args.graceful_stop is not None or args.init):
        fail("--force (leave the workers running) and --graceful-stop or --init (stop them) "
             "contradict each other")  # fmt: skip
    if args.command and not args.init:
        fail(f"unexpected argument {args.command[0]!r} (a COMMAND needs --init)")
    if args.init and args.daemon:
        fail("--init runs in the foreground (as PID 1): not with --daemon")
    if args.init and args.graceful_stop is None:
        args.graceful_stop = DEFAULT_GRACE
    for attribute in ("log_file", "pid_file"):  # --daemon changes to /: fix paths before
        value = getattr(args, attribute)
        if value and value != "-":
            setattr(args, attribute, os.path.abspath(value))
    try:
        socket_path = _socket_path(args.socket)
        if args.pid_file:
            paths.ensure_private_dir(os.path.dirname(args.pid_file), PID_DIR_MODE)
        tcp = parse_tcp(args.tcp) if args.tcp else None
        inherited = [parse_socket_fd(text) for text in args.socket_fd]
        _setup_logging(args.log_level, args.log_file, quiet=args.daemon)  # opened before fork
    except (StartupError, OSError) as exc:
        print(f"papa-kernel: {exc}", file=sys.stderr)
        return EXIT_STARTUP_FAILED
    report_fd = daemon.daemonize(_relay) if args.daemon else None  # returns only in the daemon
    code = _serve(args, socket_path, tcp, report_fd, inherited)
    if args.daemon:  # nobody waits for the daemon's interpreter to be torn down
        daemon.exit_now(code)
    return code


def _socket_path(given: str | None) -> str:
    """The socket to listen on; its directory (created 0700 if missing) must be private to
    us, whether it is the default one or given with ``--socket`` (circusd gives it)."""
    path = os.path.abspath(given) if given else paths.default_kernel_socket()
    paths.ensure_private_dir(os.path.dirname(path))
    return path


def parse_socket_fd(text: str) -> tuple[str, int]:
    """``NAME=FD`` -> (name, fd); FD must be an open socket above 2."""
    name, sep, fd_text = text.partition("=")
    if not sep or not name or not addressable(name):
        raise StartupError(f'--socket-fd needs NAME=FD (a name without spaces, ":" or "*"), '
                           f'not "{text}"')  # fmt: skip
    if not (is_decimal(fd_text) and len(fd_text) <= 9 and int(fd_text) > 2):
        raise StartupError(f'--socket-fd needs a file descriptor above 2, not "{text}"')
    try:
        is_socket = stat.S_ISSOCK(os.fstat(int(fd_text)).st_mode)
    except OSError as exc:
        raise StartupError(f"--socket-fd {text}: {exc.strerror}") from None
    if not is_socket:
        raise StartupError(f"--socket-fd {text}: not a socket")
    return name, int(fd_text)


def _serve(args: Options, socket_path: str, tcp: tuple[str, int] | None,
           report_fd: int | None, inherited: list[tuple[str, int]]) -> int:  # fmt: skip
    _ensure_std_fds()
    activated = sdnotify.listen_fds()  # systemd's sockets (close-on-exec from now on)
    sealed = spawn.seal_inherited_fds()  # fds inherited from our launcher stay ours
    if sealed:
        # DEBUG: make's jobserver fds reach every daemon started from a Makefile; routine.
        log.debug("inherited fds %s marked close-on-exec", sealed)
    _raise_nofile()
    server = Server(force=args.force, use_pidfd=args.reaper == "pidfd",
                    graceful_stop=args.graceful_stop)  # fmt: skip
    init: Init | None = None
    if args.init:  # only then: a kernel started by circusd never loads papa_kernel.init
        from papa_kernel.init import Init

        init = Init(server, args.command)
        assert args.graceful_stop is not None  # --init implies it (main)
        init.install(args.graceful_stop)
    control = [fd for name, fd in activated if name == CONTROL_FDNAME]
    try:
        if control:
            socket_path = server.adopt_unix(socket.socket(fileno=control[0]))
        else:
            server.listen_unix(socket_path)
        if tcp is not None:
            server.listen_tcp(*tcp)
    except (StartupError, OSError) as exc:
        server.close()
        _report(report_fd, f"papa-kernel: {exc}", ok=False)
        return EXIT_STARTUP_FAILED
    _adopt_sockets(server, inherited)
    _hold_activated(server, [(n, fd) for n, fd in activated if fd not in control[:1]])
    _set_title(socket_path)
    pid_file = args.pid_file or (socket_path + ".pid" if args.daemon else None)
    if pid_file:
        _write_pid_file(pid_file)
    ready = f"papa-kernel ready pid={os.getpid()} socket={socket_path}"
    if server.tcp_address:
        ready += f" tcp={server.tcp_address[0]}:{server.tcp_address[1]}"
    log.info("%s", ready)
    _report(report_fd, ready, ok=True)
    server.serving(ready)
    if init is not None:
        init.start_main()
    try:
        server.run()
    finally:
        if pid_file:
            with contextlib.suppress(OSError):
                os.unlink(pid_file)
    log.info("papa-kernel stopped (exit status %d)", server.exit_code)
    return server.exit_code


def _adopt_sockets(server: Server, inherited: list[tuple[str, int]]) -> None:
    """Hold the ``--socket-fd`` sockets. One that cannot be held is closed and logged, never
    fatal: the client binds afresh then, which beats a kernel that never starts."""
    for name, fd in inherited:
        sock = socket.socket(fileno=fd)
        try:
            held = server.kernel.sockets.adopt(name, sock)
        except (KernelError, OSError) as exc:
            log.error("--socket-fd %s=%d not held: %s", name, fd, exc)
            sock.close()
            continue
        log.info("inherited socket %s", held.describe())


def _hold_activated(server: Server, activated: list[tuple[str, int]]) -> None:
    """Keep the sockets systemd passed, by FileDescriptorName, until ``make socket NAME
    systemd=FDNAME`` takes one. Two with one name: the second is closed and logged."""
    pool = server.kernel.sockets.activated
    for name, fd in activated:
        sock = socket.socket(fileno=fd)
        if name in pool:
            log.error('systemd passed two sockets named "%s"; fd %d is closed', name, fd)
            sock.close()
            continue
        pool[name] = sock
        log.info("systemd socket %s: %s", name, sock.getsockname())


def _report(report_fd: int | None, message: str, ok: bool) -> None:
    """Tell the launcher (daemon mode) or print (foreground)."""
    if report_fd is None:
        print(message, file=sys.stdout if ok else sys.stderr, flush=True)
        return
    daemon.report(report_fd, ("ok " if ok else "error ") + message)


def _relay(report: str) -> int:
    """The launcher of ``--daemon``: print the daemon's ready line or its reason; exit status."""
    if report.startswith("ok "):
        print(report[3:], flush=True)
        return EXIT_OK
    print(report.removeprefix("error ") or "papa-kernel: daemon failed to start", file=sys.stderr)
    return EXIT_STARTUP_FAILED


def _setup_logging(level: str, log_file: str | None, quiet: bool) -> None:
    """The kernel's records go to its own writer from now on (not to :mod:`logging`)."""
    if log_file and log_file != "-":
        writer = LogWriter(LEVELS[level], path=log_file)
    elif quiet and not log_file:
        writer = LogWriter(LEVELS[level])  # a daemon without a log file: nowhere
    else:
        writer = LogWriter(LEVELS[level], stream=sys.stderr)
    klog.install(writer)


def _ensure_std_fds() -> None:
    """fds 0-2 must be open, or a pipe could land on them and confuse the children's dup2."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = NOFILE_TARGET if hard == resource.RLIM_INFINITY else min(hard, NOFILE_TARGET)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _set_title(socket_path: str) -> None:
    """``papa-kernel SOCKET`` in ps, if the optional setproctitle is installed."""
    set_title = _setproctitle()
    if set_title is not None:
        set_title(f"papa-kernel {socket_path}")


def _setproctitle() -> Callable[[str], None] | None:
    """setproctitle's C extension, loaded without its package ``__init__`` (which imports
    :mod:`logging`, ~1 MB of the kernel's memory, for its messages when the extension is
    missing); None if setproctitle is not installed or its extension cannot be loaded."""
    finder = _path_finder()
    package = finder.find_spec("setproctitle")
    if package is None or not package.submodule_search_locations:
        return None
    spec = finder.find_spec("setproctitle._setproctitle", package.submodule_search_locations)
    if spec is None or spec.loader is None:
        return None
    try:
        extension = spec.loader.create_module(spec)
        if extension is None:
            return None
        spec.loader.exec_module(extension)
    except ImportError:
        return None
    setter: Callable[[str], None] = extension.setproctitle
    return setter


def _path_finder() -> Any:
    """:class:`importlib.machinery.PathFinder` (what finds modules on ``sys.path``), taken
    from ``sys.meta_path``: importing :mod:`importlib.machinery` would bring importlib and
    warnings into the kernel (57 KB) for two look-ups at start-up."""
    for finder in sys.meta_path:
        if getattr(finder, "__name__", None) == "PathFinder":
            return finder
    from importlib.machinery import PathFinder  # a meta path without it: ask importlib

    return PathFinder


def _write_pid_file(path: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as handle:
        handle.write(f"{os.getpid()}\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
