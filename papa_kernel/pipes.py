"""Command-line entry points that end quietly when their reader goes away.

``circusctl --help | head`` closes the pipe after ten lines; Python then raises
BrokenPipeError on the next write, and once more when it flushes stdout at exit, printing two
tracebacks. :func:`quiet_on_broken_pipe` wraps an entry point so that it exits as a shell tool
does: nothing printed, stdout pointed at /dev/null so the final flush cannot fail, exit status
141 (128 + SIGPIPE), as a C tool killed by SIGPIPE would report to the shell.

Stdlib only: the kernel's own ``papa-kernel`` uses it, and so do circus's tools.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable

from papa_kernel.typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from papa_kernel.typenames import ParamSpec

    P = ParamSpec("P")

EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def quiet_on_broken_pipe(main: Callable[P, int]) -> Callable[P, int]:
    """Wrap ``main`` so that a closed stdout ends it with status 141 and no traceback."""

    @functools.wraps(main)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            try:
                code = main(*args, **kwargs)
            finally:  # also after argparse's --help exit: fail here, not at interpreter exit
                sys.stdout.flush()
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return EXIT_BROKEN_PIPE
        return code

    return wrapper
