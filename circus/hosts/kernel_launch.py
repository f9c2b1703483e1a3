"""Finding or starting papa-kernel: :func:`ensure_kernel` and :func:`kernel_answers`.

The kernel must never be circusd's child (it outlives circusd). ``papa-kernel --daemon``
double-forks and its launcher exits only once the daemon listens (printing why if it cannot),
so waiting for the launcher is an event, not a polling loop, and the daemon ends up re-parented
away from circusd.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence

from circus.hosts.kernel_client import CONNECT_TIMEOUT, KernelUnavailable, open_stream
from circus.hosts.kernel_protocol import parse_endpoint

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


def default_kernel_command() -> list[str]:
    """How to run papa-kernel: this interpreter, so the same installation is used."""
    return [sys.executable, "-m", "papa_kernel.cli"]


async def ensure_kernel(
    endpoint: str,
    *,
    timeout: float = KERNEL_START_TIMEOUT,
    command: Sequence[str] | None = None,
    args: Sequence[str] = (),
) -> bool:
    """Make sure a kernel answers at ``endpoint``; True if this call started it.

    If nobody answers on a unix endpoint, ``papa-kernel --daemon --socket PATH`` is run. Its
    ``--daemon`` double-forks and the launcher exits once the daemon listens, so the kernel is
    never circusd's child. A TCP endpoint is never started here (start it with ``--tcp``).
    Raises KernelUnavailable (with the kernel's own error message) after ``timeout`` seconds.
    """
    target = parse_endpoint(endpoint)
    if await kernel_answers(endpoint, timeout):
        return False
    if target.path is None:
        raise KernelUnavailable(
            f"nobody answers at {target}; circusd starts kernels on unix "
            f"sockets only (run papa-kernel --tcp yourself)"
        )
    os.makedirs(os.path.dirname(target.path) or "/", mode=0o700, exist_ok=True)
    argv = [*(command or default_kernel_command()), "--daemon", "--socket", target.path, *args]
    launcher = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _out, err = await asyncio.wait_for(launcher.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            launcher.kill()
        await launcher.wait()
        raise KernelUnavailable(
            f"papa-kernel did not start within {timeout}s at {target}"
        ) from None
    if await kernel_answers(endpoint, timeout):
        return launcher.returncode == 0  # not 0: another circusd started one at the same time
    reason = err.decode(errors="replace").strip() or f"exit status {launcher.returncode}"
    raise KernelUnavailable(f"could not start papa-kernel at {target}: {reason}")
