"""How circusd starts papa-kernel: its arguments, and :func:`launch_kernel_early`.

This module imports neither asyncio nor anything that does: circusd launches the kernel from it
before its own heavy imports, so that the two start-ups overlap (the kernel's is on the path to
the first worker; see docs/benchmarks.md, "Start-up and memory"). The interpreter the kernel
runs on, and the kernel started before the configuration is read, are
:mod:`circus.hosts.kernel_boot`'s; the asynchronous part (waiting for the launcher, starting a
kernel during recovery) is :mod:`circus.hosts.kernel_launch`.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Sequence

from circus.hosts.kernel_boot import PendingKernel, boot_command
from circus.util.endpoints import parse_endpoint
from circus.util.private_dirs import require_private_parent
from papa_kernel.paths import unix_socket_served

KERNEL_LOG_NAME = "papa-kernel.log"  # the kernel's log beside circusd's log file

log = logging.getLogger(__name__)


def default_kernel_command() -> list[str]:
    """How to run papa-kernel: this interpreter, without ``site`` (see
    :mod:`circus.hosts.kernel_boot`)."""
    return boot_command()


def kernel_log_path(socket_path: str) -> str:
    """Where a kernel started by circusd logs: beside circusd's log file when circusd logs to
    a file (``papa-kernel.log``), else beside the kernel's socket (``SOCKET.log``)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return os.path.join(os.path.dirname(handler.baseFilename), KERNEL_LOG_NAME)
    return socket_path + ".log"


def kernel_log_level() -> str:
    """The kernel logs its warnings and errors (refusals, ignored signals): what it does is in
    circusd's log already, and its log may sit in a RAM-backed runtime dir. When circusd logs
    at debug level, so does the kernel."""
    return "debug" if logging.getLogger().getEffectiveLevel() <= logging.DEBUG else "warning"


def daemon_argv(endpoint: str, socket_path: str, command: Sequence[str] | None) -> list[str]:
    """``papa-kernel --daemon`` on ``socket_path`` (whose directory must be private) with its
    log file; says where that log is."""
    return [*(command or default_kernel_command()), *daemon_options(endpoint, socket_path)]


def daemon_options(endpoint: str, socket_path: str) -> list[str]:
    """The arguments of :func:`daemon_argv` after the command."""
    require_private_parent(socket_path, f"papa_endpoint {endpoint}")
    log_file = kernel_log_path(socket_path)
    log.info("starting papa-kernel at %s (its log: %s)", socket_path, log_file)
    return ["--daemon", "--socket", socket_path, "--log-file", log_file,
            "--log-level", kernel_log_level()]  # fmt: skip


def unix_kernel_path(endpoint: str) -> str | None:
    """The socket path of a unix kernel endpoint (``ipc://PATH`` or an absolute path); None
    for a TCP one. ValueError if it is neither (the kernel client says why, in full)."""
    parsed = parse_endpoint(endpoint)
    if parsed.scheme == "ipc" and os.path.isabs(parsed.path or ""):
        return parsed.path
    if parsed.scheme == "tcp":
        return None
    raise ValueError(f"bad kernel endpoint {endpoint!r}")


def launch_kernel_early(
    endpoint: str, command: Sequence[str] | None = None, pending: PendingKernel | None = None
) -> subprocess.Popen[bytes] | None:
    """Start ``papa-kernel --daemon`` *now*, without waiting, if nobody serves the unix
    endpoint; return the launcher (or None). circusd calls it before its own heavy imports
    so that both start-ups overlap; :func:`circus.hosts.kernel_launch.ensure_kernel` then
    waits for this launcher. With ``pending``, that interpreter is the kernel (cancelled if no
    kernel is to be started, or on an error)."""
    try:
        path = unix_kernel_path(endpoint)
        if path is None or unix_socket_served(path):
            if pending is not None:
                pending.cancel()
            return None
        if pending is not None:
            return pending.hand_over(daemon_options(endpoint, path))
        argv = daemon_argv(endpoint, path, command)
    except BaseException:
        if pending is not None:
            pending.cancel()
        raise
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
