"""Finding or starting papa-kernel: :func:`ensure_kernel` and :func:`kernel_answers`.

The kernel must never be circusd's child (it outlives circusd). ``papa-kernel --daemon``
double-forks and its launcher exits only once the daemon listens (printing why if it cannot),
so waiting for the launcher is an event, not a polling loop, and the daemon ends up re-parented
away from circusd. The command line, and the launch circusd makes before its heavy imports, are
in :mod:`circus.hosts.kernel_command` (which imports no asyncio).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Sequence

from circus.hosts.kernel_client import CONNECT_TIMEOUT, KernelUnavailable, open_stream
from circus.hosts.kernel_command import daemon_argv
from circus.hosts.kernel_protocol import parse_endpoint
from circus.util.pidfd import exited_within

KERNEL_START_TIMEOUT = 10.0  # seconds ensure_kernel() waits for a started kernel to answer


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
    never circusd's child. A launcher that exits 0 has seen the daemon listen (the caller's
    own connection tells the rest); after any other status, a connection tells whether a
    kernel answers (another circusd started one at the same time) or why not. A TCP endpoint
    is never started here (start it with ``--tcp``).
    ``pass_fds`` are inherited by a kernel started here (``--socket-fd`` in ``args``).
    Without ``start`` (``circusd --no-start-kernel``: systemd or ``papa-kernel --init`` runs the
    kernel), nobody answering is an error and nothing is started.
    Raises KernelUnavailable (with the kernel's own error message) after ``timeout`` seconds.
    """
    target = parse_endpoint(endpoint)
    if launcher is not None:  # started early (circus.hosts.kernel_command)
        try:
            err = await _wait_exit(launcher, timeout)
        except TimeoutError:
            raise KernelUnavailable(
                f"papa-kernel did not start within {timeout}s at {target}"
            ) from None
        if launcher.returncode == 0 or await kernel_answers(endpoint, timeout):
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
    argv = [*daemon_argv(endpoint, target.path, command), *args]
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
    )
    try:
        async with asyncio.timeout(timeout):
            _out, err = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise KernelUnavailable(
            f"papa-kernel did not start within {timeout}s at {target}"
        ) from None
    if process.returncode == 0 or await kernel_answers(endpoint, timeout):
        return process.returncode == 0  # not 0: another circusd started one at the same time
    reason = err.decode(errors="replace").strip() or f"exit status {process.returncode}"
    raise KernelUnavailable(f"could not start papa-kernel at {target}: {reason}")
