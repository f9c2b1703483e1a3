"""How circusd runs papa-kernel, and :func:`launch_kernel_early`.

This module imports neither asyncio nor anything that does: circusd launches the kernel from it
before its own heavy imports, so that the two start-ups overlap (the kernel's is on the path to
the first worker; see docs/benchmarks.md, "Start-up and memory"). The asynchronous part (waiting
for the launcher, starting a kernel during recovery) is :mod:`circus.hosts.kernel_launch`.

The kernel runs on this interpreter with ``-S`` (no ``site``): papa_kernel is stdlib-only, and
``site`` (the ``.pth`` files of site-packages, an editable install's import hook among them) is
most of a bare interpreter's start-up. The kernel is told where papa_kernel (and the optional
setproctitle) were found instead.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from collections.abc import Sequence

import papa_kernel
from circus.util.endpoints import parse_endpoint
from circus.util.private_dirs import require_private_parent
from papa_kernel.paths import unix_socket_served

KERNEL_LOG_NAME = "papa-kernel.log"  # the kernel's log beside circusd's log file

#: What ``python -S -c`` runs: ``sys.path`` first gets the directories found by
#: :func:`kernel_import_paths`; the cyclic garbage collector is off while the kernel's modules
#: are imported, and they are frozen (see :func:`circus.util.gc_pause.gc_paused`).
_BOOT = (
    "import gc, sys; gc.disable(); sys.path[:0] = {paths!r}; "
    "from papa_kernel.cli import main; gc.freeze(); gc.enable(); sys.exit(main())"
)

log = logging.getLogger(__name__)


def kernel_import_paths() -> list[str]:
    """The directories holding papa_kernel and, if installed, setproctitle (the kernel's only
    optional import): what the kernel needs on ``sys.path`` without ``site``."""
    paths = [os.path.dirname(os.path.dirname(os.path.abspath(papa_kernel.__file__)))]
    spec = importlib.util.find_spec("setproctitle")
    if spec is not None and spec.origin:
        package_dir = os.path.dirname(spec.origin)
        if spec.submodule_search_locations is not None:  # a package: its parent directory
            package_dir = os.path.dirname(package_dir)
        if package_dir not in paths:
            paths.append(package_dir)
    return paths


def default_kernel_command() -> list[str]:
    """How to run papa-kernel: this interpreter (so the same installation is used), without
    ``site`` (module docstring)."""
    return [sys.executable, "-S", "-c", _BOOT.format(paths=kernel_import_paths())]


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
    require_private_parent(socket_path, f"papa_endpoint {endpoint}")
    log_file = kernel_log_path(socket_path)
    log.info("starting papa-kernel at %s (its log: %s)", socket_path, log_file)
    return [*(command or default_kernel_command()), "--daemon", "--socket", socket_path,
            "--log-file", log_file, "--log-level", kernel_log_level()]  # fmt: skip


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
    endpoint: str, command: Sequence[str] | None = None
) -> subprocess.Popen[bytes] | None:
    """Start ``papa-kernel --daemon`` *now*, without waiting, if nobody serves the unix
    endpoint; return the launcher (or None). circusd calls it before its own heavy imports
    so that both start-ups overlap; :func:`circus.hosts.kernel_launch.ensure_kernel` then
    waits for this launcher."""
    path = unix_kernel_path(endpoint)
    if path is None or unix_socket_served(path):
        return None
    argv = daemon_argv(endpoint, path, command)
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
