"""The interpreter papa-kernel runs on, and :class:`PendingKernel`.

The kernel runs on circusd's interpreter with ``-S`` (no ``site``): papa_kernel is stdlib-only,
and ``site`` (the ``.pth`` files of site-packages, an editable install's import hook among them)
is most of a bare interpreter's start-up. It is told where papa_kernel (and the optional
setproctitle) were found instead.

circusd starts that interpreter first thing, before it reads its configuration: the kernel
imports its modules (the longest part of its start-up) while circusd reads the file, then gets
its arguments on its stdin (:class:`PendingKernel`). This module therefore imports nothing but
the standard library and the ``papa_kernel`` package itself (see docs/benchmarks.md, "Start-up
and memory"); the command line's arguments are :mod:`circus.hosts.kernel_command`'s.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import os
import subprocess
import sys
from collections.abc import Sequence

import papa_kernel

#: What ``python -S -P -c`` runs: ``sys.path`` gets the directories found by
#: :func:`kernel_import_paths` after the standard library's, where site-packages is in any
#: Python (a module there does not replace a standard one, and the kernel's standard imports
#: do not look there first); the cyclic garbage collector is off while the kernel's modules
#: are imported, and they are frozen (see :func:`circus.util.gc_pause.gc_paused`). Then
#: ``{run}``: the kernel's main, on the command line's arguments (:data:`RUN_NOW`) or on those
#: a :class:`PendingKernel` reads on its stdin (:data:`RUN_FROM_STDIN`).
BOOT = """\
import gc, os, sys
gc.disable()
sys.path += {paths!r}
from papa_kernel.cli import main
gc.freeze()
gc.enable()
{run}"""
RUN_NOW = "sys.exit(main())"
#: stdin: the umask (decimal) then the arguments, NUL-separated; nothing (EOF): not needed
RUN_FROM_STDIN = """\
words = sys.stdin.buffer.read().split(b"\\0")
if len(words) < 2:
    sys.exit(0)
os.umask(int(words[0]))
sys.exit(main([os.fsdecode(word) for word in words[1:]]))"""


def kernel_import_paths() -> list[str]:
    """The directories holding papa_kernel and, if installed, setproctitle (the kernel's only
    optional import): what the kernel needs on ``sys.path`` without ``site``. setproctitle is
    looked for on ``sys.path`` as the kernel looks for it (``PathFinder``, not every import
    hook of circusd's interpreter; importlib.util would cost circusd's start ~0.2 ms more)."""
    paths = [os.path.dirname(os.path.dirname(os.path.abspath(papa_kernel.__file__)))]
    spec = importlib.machinery.PathFinder.find_spec("setproctitle")
    if spec is not None and spec.origin:
        package_dir = os.path.dirname(spec.origin)
        if spec.submodule_search_locations is not None:  # a package: its parent directory
            package_dir = os.path.dirname(package_dir)
        if package_dir not in paths:
            paths.append(package_dir)
    return paths


def boot_command(run: str = RUN_NOW) -> list[str]:
    """``python -S -P -c BOOT``: papa-kernel on this interpreter (the same installation).
    ``-P``: the working directory (circusd's) is not put first on ``sys.path``, as ``-c``
    would put it: a module there named like one of the standard library's would replace it
    in the kernel, and every import would look there first."""
    return [sys.executable, "-S", "-P", "-c", BOOT.format(paths=kernel_import_paths(), run=run)]


class PendingKernel:
    """A papa-kernel interpreter started before circusd has read its configuration: it
    imports its modules meanwhile and waits on its stdin for its arguments. :meth:`hand_over`
    gives them (the process is then the launcher of a kernel started with those arguments);
    :meth:`cancel` lets it exit unused.

    It gets circusd's umask at :meth:`hand_over` time (the ``[circus] umask`` is applied after
    the configuration is read, and workers inherit the kernel's). It runs in a new session,
    like every kernel launcher, so a signal to circusd's process group does not reach it.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            boot_command(RUN_FROM_STDIN),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def hand_over(self, args: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start the kernel with ``args``; returns its launcher (as :func:`subprocess.Popen`
        would). If it died meanwhile, the launcher's exit status and stderr say why."""
        process, self.process = self.process, None
        if process is None:
            raise RuntimeError("this pending kernel was already handed over or cancelled")
        umask = os.umask(0)
        os.umask(umask)
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            process.stdin.write(b"\0".join([str(umask).encode(), *map(os.fsencode, args)]))
            process.stdin.close()
        return process

    def cancel(self) -> None:
        """End the pending kernel without starting it, and reap it (idempotent). It holds
        nothing yet (no socket, no file), so it is killed: waiting for it to finish importing
        and read the end of its stdin would hold up circusd (a circusd that finds its kernel
        running, after a restart, cancels it at once)."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
