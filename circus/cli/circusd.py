"""``circusd``: run the arbiter on a configuration file.

Signals (handled on the event loop; handlers only record, see STYLE.md): SIGHUP reloads the
configuration, SIGTERM/SIGINT/SIGQUIT quit. Quitting leaves kernel-hosted workers running
unless ``--stop-workers-on-exit`` is given.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from types import SimpleNamespace as Namespace
from typing import TYPE_CHECKING

from circus import __version__
from circus.util.fast_exit import exit_now
from circus.util.gc_pause import gc_paused
from papa_kernel.cmdline import Option, add_options, parse_plain
from papa_kernel.pipes import quiet_on_broken_pipe

# Everything else is imported when needed: papa-kernel's interpreter is started first thing in
# main() (its start-up overlaps circusd's), then the configuration is read, then the kernel is
# launched, then circusd imports the arbiter (asyncio, pyzmq).
if TYPE_CHECKING:
    import argparse
    import asyncio
    import subprocess

    from circus.arbiter import Arbiter
    from circus.config.model import CircusConfig
    from circus.hosts.kernel_boot import PendingKernel
    from circus.util.daemon import StartReport

log = logging.getLogger("circus.circusd")

EXIT_OK = 0
EXIT_CONFIG_ERROR = 1  # the configuration could not be loaded: nothing was started
EXIT_RUNTIME_ERROR = 2  # start-up failed after the configuration was read


ENDPOINTS_HELP = """\
default endpoints:
  unix sockets circus.sock (control), pubsub.sock (events) and papa.sock (the
  kernel) in $XDG_RUNTIME_DIR/circus, /run/circus as root, else /tmp/circus-$UID.
  As root without XDG_RUNTIME_DIR, /run/circus is shared by every circusd of root:
  a second one on the default endpoints is refused. Give each instance its own
  runtime directory (circusctl needs the same variable):

    XDG_RUNTIME_DIR=/run/myapp circusd myapp.ini
    XDG_RUNTIME_DIR=/run/myapp circusctl status

  or its own endpoints in the [circus] section:

    endpoint = ipc:///run/myapp/circus.sock
    pubsub_endpoint = ipc:///run/myapp/pubsub.sock
    papa_endpoint = /run/myapp/papa.sock

    circusctl --endpoint ipc:///run/myapp/circus.sock status

  Directories holding sockets, locks and pid files must belong to the running
  user and not be writable by group or others (see docs/security.md).
"""


#: circusd's options, read without argparse from a plain command line (papa_kernel.cmdline)
OPTIONS = (
    Option("--log-level", "value", name="loglevel", help="debug, info, warning, error"),
    Option("--log-output", "value", name="logoutput",
           help="'-' (stdout), a file path, or syslog://[host[:port]][?facility]"),
    Option("--logger-config", "value", name="loggerconfig",
           help="logging config file (.ini, .json or .yaml)"),
    Option("--daemon", "flag", help="detach and run in background"),
    Option("--pidfile", "value", help="write circusd's pid to this file"),
    Option("--check-config", "flag", help="only check the configuration, print errors or 'ok'"),
    Option("--stop-workers-on-exit", "flag",
           help="SIGTERM/SIGINT also stop kernel-hosted workers"),
    Option("--reload-outdated", "flag",
           help="replace adopted workers spawned from an older configuration, one at a time "
           "(reload_outdated = true for every watcher)"),
    Option("--no-start-kernel", "unset", name="start_kernel",
           help="never start papa-kernel, only connect to it: systemd (papa-kernel.service) or "
           "papa-kernel --init runs it (see docs/deployment.md)"),
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of :data:`OPTIONS`: for ``--help``, ``--version``, errors and any
    command line :func:`parse_args` does not read itself."""
    import argparse  # a running circusd does without it (with gettext: 0.35 MB)

    from papa_kernel.helpwidth import RawDescriptionHelpFormatter

    parser = argparse.ArgumentParser(
        prog="circusd",
        description="Run circusd on a config file.",
        epilog=ENDPOINTS_HELP,
        formatter_class=RawDescriptionHelpFormatter,  # no shutil import at each start
    )
    parser.add_argument("config", nargs="?", metavar="CONFIG", help="configuration file (INI)")
    add_options(parser, OPTIONS)
    parser.add_argument("--version", action="version", version=f"circusd {__version__}")
    return parser


def parse_args(argv: list[str] | None = None) -> Namespace:
    """circusd's command line: a plain one (options and CONFIG as separate words) is read from
    :data:`OPTIONS` without importing argparse; anything else by :func:`build_parser`'s parser,
    which reads the plain ones the same way."""
    words = sys.argv[1:] if argv is None else argv
    values = parse_plain(words, OPTIONS, positional="config")
    if values is None:
        return Namespace(**vars(build_parser().parse_args(words)))
    return Namespace(**values)


def _install_signal_handlers(
    loop: asyncio.AbstractEventLoop, arbiter: Arbiter, stop_workers: bool
) -> None:
    def on_reload() -> None:
        arbiter.tasks.spawn(_safe(arbiter.reload_config, "reloadconfig (SIGHUP)"), "SIGHUP")

    def on_quit() -> None:
        quit_ = _safe(lambda: arbiter.quit(stop_workers=stop_workers), "quit (signal)")
        arbiter.tasks.spawn(quit_, "quit on a signal")

    loop.add_signal_handler(signal.SIGHUP, on_reload)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        loop.add_signal_handler(signum, on_quit)


async def _safe(operation: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``operation`` (whose refusal may come before or after its first await) and log
    its failure: a signal has nobody to reply to."""
    from circus.errors import CircusError

    try:
        await operation()
    except CircusError as exc:
        log.error("%s failed: %s", what, exc)
    except Exception:
        log.exception("%s failed", what)


async def _serve(arbiter: Arbiter, stop_workers_on_exit: bool) -> None:
    import asyncio

    _install_signal_handlers(asyncio.get_running_loop(), arbiter, stop_workers_on_exit)
    await arbiter.run()


def _pending_kernel(args: Namespace) -> PendingKernel | None:
    """Start papa-kernel's interpreter now, before the configuration is read, so that its
    start-up (most of it: importing its modules) overlaps circusd's; it gets its arguments
    once the configuration says which socket (see PendingKernel). Not with ``--daemon``:
    circusd forks after reading the configuration, and the daemon would not be its parent."""
    if not args.start_kernel or args.daemon or _kernel_served(args.config):
        return None
    from circus.hosts.kernel_boot import PendingKernel

    try:
        return PendingKernel()
    except OSError:
        return None  # the kernel is launched the usual way, which reports a real problem


def _kernel_served(config_path: str) -> bool:
    """A kernel already serves the socket the configuration names (circusd restarted,
    upgraded: it reattaches), so a pending kernel would only be started and killed (~20 ms of
    CPU). The socket is the one a first look at the file finds
    (:func:`circus.cli.kernel_hint.named_kernel_socket`); the loaded configuration decides."""
    from circus.cli.kernel_hint import named_kernel_socket
    from papa_kernel.paths import unix_socket_served

    try:
        path = named_kernel_socket(config_path)
        return path is not None and unix_socket_served(path, timeout=0.1)
    except Exception:  # an unusable runtime dir: circusd reports it once the config is read
        return False


def _launch_kernel_early(
    config: CircusConfig, pending: PendingKernel | None
) -> subprocess.Popen[bytes] | None:
    """Start papa-kernel now (if needed and nobody serves its socket), so that its start-up
    overlaps circusd's; the arbiter waits for the launcher. Any problem is left for the
    arbiter to report with its own, complete error."""
    from circus.errors import CircusError
    from circus.hosts.kernel_command import launch_kernel_early

    if not config.uses_kernel:
        if pending is not None:
            pending.cancel()
        return None
    try:
        return launch_kernel_early(config.circus.papa_endpoint, pending=pending)
    except (OSError, ValueError, CircusError):
        return None


def _load_config(path: str) -> CircusConfig:
    from circus.config import load_config

    return load_config(path)


def _make_arbiter(
    config: CircusConfig, args: Namespace, cwd: str, pending: PendingKernel | None
) -> Arbiter:
    """Launch the kernel (if needed), then import the arbiter and make it: the heavy imports
    overlap the kernel's start-up."""
    launcher = _launch_kernel_early(config, pending) if args.start_kernel else None
    from circus.util.no_openssl import import_asyncio

    import_asyncio()  # first: without ssl (4.6 MB of OpenSSL that circusd does not use)
    from circus.arbiter import Arbiter
    from circus.control import control_channel
    from circus.util.systemd import CircusdNotifier

    arbiter = Arbiter(
        config,
        config_path=os.path.abspath(args.config),
        cwd=cwd,
        control=control_channel,
    )
    arbiter.kernel_launcher = launcher
    arbiter.hosts.start_kernel = args.start_kernel
    arbiter.reload_outdated = args.reload_outdated
    arbiter.on_lifecycle = CircusdNotifier(lambda: arbiter.watchers)
    return arbiter


@quiet_on_broken_pipe
def main(argv: list[str] | None = None) -> int:
    """circusd's command line. Called without ``argv`` (the circusd program: its console script,
    ``python -m``), the process ends here once circusd has stopped
    (:func:`~circus.util.fast_exit.exit_now`); with ``argv`` (tests, tools running it in their
    process) it returns the exit status."""
    code = _main(argv)
    if argv is None:
        exit_now(code)
    return code


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    if not args.config:  # optional for argparse only so that --version needs none
        build_parser().print_usage(sys.stderr)
        print("circusd: error: a configuration file is required (CONFIG)", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    if args.check_config:
        from circus.cli.check_config import main as check_main

        return check_main([args.config])
    with gc_paused(freeze=True):  # its imports (subprocess, socket): kept for the process
        pending = _pending_kernel(args)
    try:
        return _run(args, pending)
    finally:
        if pending is not None:  # not launched (a configuration error...): let it go
            pending.cancel()


def _run(args: Namespace, pending: PendingKernel | None) -> int:
    from circus.errors import CircusError

    try:
        # imports and configuration: many objects, no garbage, kept for the life of circusd
        # (the arbiter's block below freezes them anyway: frozen here, the collector does not
        # pass over them in between)
        with gc_paused(freeze=True):
            config = _load_config(args.config)
    except CircusError as exc:
        print(f"circusd: invalid configuration:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    from circus.util.logsetup import configure_logging
    from circus.util.pidfile import Pidfile

    settings = config.circus
    try:
        configure_logging(
            args.loglevel or settings.loglevel or "info",
            args.logoutput or settings.logoutput or "-",
            args.loggerconfig or settings.loggerconfig,
        )
    except CircusError as exc:
        print(f"circusd: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    if settings.umask is not None:
        os.umask(settings.umask)
    cwd = os.getcwd()  # default working_dir of workers, kept across --daemon's chdir("/")
    report = None  # with --daemon: how the start went, for the launcher to print
    if args.daemon:
        from circus.util.daemon import daemonize

        report = daemonize()
    pidfile = None
    pidfile_path = args.pidfile or settings.pidfile
    try:
        if pidfile_path:
            pidfile = Pidfile(pidfile_path)
            pidfile.create(os.getpid())
        # the heavy imports: many objects, no garbage, all kept for the life of circusd
        with gc_paused(freeze=True):
            arbiter = _make_arbiter(config, args, cwd, pending)
        if report is not None:
            arbiter.on_lifecycle = _reporting_ready(arbiter.on_lifecycle, report)
        import asyncio

        asyncio.run(_serve(arbiter, args.stop_workers_on_exit))
    except CircusError as exc:
        log.error("circusd cannot run: %s", exc)
        print(f"circusd: {exc}", file=sys.stderr)
        if report is not None:
            report.failed(EXIT_RUNTIME_ERROR, str(exc))
        return EXIT_RUNTIME_ERROR
    except KeyboardInterrupt:
        pass
    finally:
        if report is not None:
            report.close()  # nothing said yet: the launcher says the daemon ended
        if pidfile is not None:
            pidfile.unlink()
    return EXIT_OK


def _reporting_ready(
    on_lifecycle: Callable[[str], None], report: StartReport
) -> Callable[[str], None]:
    """``on_lifecycle`` that also tells the ``--daemon`` launcher when circusd is ready."""

    def on_event(event: str) -> None:
        on_lifecycle(event)
        if event == "ready":
            report.ready()

    return on_event


if __name__ == "__main__":
    sys.exit(main())
