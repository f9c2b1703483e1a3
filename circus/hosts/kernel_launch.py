"""Finding or starting papa-kernel: :func:`ensure_kernel` and :func:`kernel_answers`.

The kernel must never be circusd's child (it outlives circusd). ``papa-kernel --daemon``
double-forks and its launcher exits only once the daemon listens (printing why if it cannot),
so waiting for the launcher is an event, not a polling loop, and the daemon ends up re-parented
away from circusd.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Sequence

from circus.hosts.kernel_client import CONNECT_TIMEOUT, KernelUnavailable, open_stream
from circus.hosts.kernel_protocol import parse_endpoint
from circus.util.pidfd import exited_within
from circus.util.private_dirs import require_private_parent
from papa_kernel.paths import unix_socket_served

KERNEL_START_TIMEOUT = 10.0  # seconds ensure_kernel() waits for a started kernel to answer
KERNEL_LOG_NAME = "papa-kernel.log"  # the kernel's log beside circusd's log file

log = logging.getLogger(__name__)


async def kernel_answers(endpoint: str, timeout: float = CONNECT_TIMEOUT) -> bool:
    """True if a kernel greets us at ``endpoint``."""
    try:
        _reader, writer = await open_stream(parse_endpoint(endpoint), timeout)
    except KernelUnavailable:
        return False
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True


def default_kernel_command() -> list[str]:
    """How to run papa-kernel: this interpreter, so the same installation is used."""
    return [sys.executable, "-m", "papa_kernel.cli"]


def kernel_log_path(socket_path: str) -> str:
    """Where a kernel started by circusd logs: beside circusd's log file when circusd logs to
    a file (``papa-kernel.log``), else beside the kernel's socket (``SOCKET.log``)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return os.path.join(os.path.dirname(handler.baseFilename), KERNEL_LOG_NAME)
    return socket_path + ".log"


def _daemon_argv(endpoint: str, socket_path: str, command: Sequence[str] | None) -> list[str]:
    """``papa-kernel --daemon`` on ``socket_path`` (whose directory must be private) with its
    log file; says where that log is."""
    require_private_parent(socket_path, f"papa_endpoint {endpoint}")
    log_file = kernel_log_path(socket_path)
    log.info("starting papa-kernel at %s (its log: %s)", socket_path, log_file)
    return [*(command or default_kernel_command()), "--daemon", "--socket", socket_path,
            "--log-file", log_file, "--log-level", kernel_log_level()]  # fmt: skip


def kernel_log_level() -> str:
    """The kernel logs its warnings and errors (refusals, ignored signals): what it does is in
    circusd's log already, and its log may sit in a RAM-backed runtime dir. When circusd logs
    at debug level, so does the kernel."""
    return "debug" if logging.getLogger().getEffectiveLevel() <= logging.DEBUG else "warning"


def launch_kernel_early(
    endpoint: str, command: Sequence[str] | None = None
) -> subprocess.Popen[bytes] | None:
    """Start ``papa-kernel --daemon`` *now*, without waiting, if nobody serves the unix
    endpoint; return the launcher (or None). circusd calls it before its own heavy imports
    so that both start-ups overlap; :func:`ensure_kernel` then waits for this launcher."""
    target = parse_endpoint(endpoint)
    if target.path is None or unix_socket_served(target.path):
        return None
    argv = _daemon_argv(endpoint, target.path, command)
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


async def _wait_exit(launcher: subprocess.Popen[bytes], timeout: float) -> bytes:
    """Wait for a launcher to exit (its pidfd becomes readable: an event, no polling); return
    what it wrote on stderr. Killed and reaped on timeout."""
    pidfd = os.pidfd_open(launcher.pid)
    try:
        if not await exited_within(pidfd, timeout):
            with contextlib.suppress(ProcessLookupError):
                launcher.kill()
            raise TimeoutError
    finally:
        os.close(pidfd)
        launcher.wait()  # exited (or killed): reaps at once
    return launcher.stderr.read() if launcher.stderr else b""


async def ensure_kernel(
    endpoint: str,
    *,
    timeout: float = KERNEL_START_TIMEOUT,
    command: Sequence[str] | None = None,
    args: Sequence[str] = (),
    launcher: subprocess.Popen[bytes] | None = None,
    pass_fds: Sequence[int] = (),
    start: bool = True,
) -> bool:
    """Make sure a kernel answers at ``endpoint``; True if this call started it.

    If nobody answers on a unix endpoint, ``papa-kernel --daemon --socket PATH`` is run. Its
    ``--daemon`` double-forks and the launcher exits once the daemon listens, so the kernel is
    never circusd's child. A TCP endpoint is never started here (start it with ``--tcp``).
    ``pass_fds`` are inherited by a kernel started here (``--socket-fd`` in ``args``).
    Without ``start`` (``circusd --no-start-kernel``: systemd or ``papa-kernel --init`` runs the
    kernel), nobody answering is an error and nothing is started.
    Raises KernelUnavailable (with the kernel's own error message) after ``timeout`` seconds.
    """
    target = parse_endpoint(endpoint)
    if launcher is not None:  # started early by launch_kernel_early()
        try:
            err = await _wait_exit(launcher, timeout)
        except TimeoutError:
            raise KernelUnavailable(
                f"papa-kernel did not start within {timeout}s at {target}"
            ) from None
        if await kernel_answers(endpoint, timeout):
            return launcher.returncode == 0
        reason = err.decode(errors="replace").strip() or f"exit status {launcher.returncode}"
        raise KernelUnavailable(f"could not start papa-kernel at {target}: {reason}")
    if await kernel_answers(endpoint, timeout):
        return False
    if not start:
        raise KernelUnavailable(
            f"no papa-kernel answers at {target}, and circusd was told not to start one "
            "(--no-start-kernel): start it (systemctl start papa-kernel.service)"
        )
    if target.path is None:
        raise KernelUnavailable(
            f"nobody answers at {target}; circusd starts kernels on unix "
            f"sockets only (run papa-kernel --tcp yourself)"
        )
    argv = [*_daemon_argv(endpoint, target.path, command), *args]
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
    )
    try:
        _out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise KernelUnavailable(
            f"papa-kernel did not start within {timeout}s at {target}"
        ) from None
    if await kernel_answers(endpoint, timeout):
        return process.returncode == 0  # not 0: another circusd started one at the same time
    reason = err.decode(errors="replace").strip() or f"exit status {process.returncode}"
    raise KernelUnavailable(f"could not start papa-kernel at {target}: {reason}")
