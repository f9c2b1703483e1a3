"""Ending a circus program without tearing the interpreter down.

At exit Python clears every module the program imported (~100 for circusctl, ~250 for circusd)
and collects every object left: CPU that frees nothing the end of the process would not free
anyway (about 3-5 ms for a circusctl call, ~10 ms for circusd). :func:`exit_now` does first what
a normal exit does that matters, then ends the process with :func:`os._exit`.

:func:`ends_process` wraps a tool's ``main(argv=None)``: called without ``argv`` (the program:
its console script, ``python -m``) the process ends there; called with ``argv`` (tests and tools
that run it in their own process) it returns the exit status as before.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, cast

from papa_kernel.pipes import EXIT_BROKEN_PIPE

#: The modules whose ``Context`` class may hold a shared instance (``Context.instance()``).
ZMQ_CONTEXT_MODULES = ("zmq", "zmq.asyncio")

Main = TypeVar("Main", bound=Callable[..., int])


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` without the interpreter's teardown. Done first, as a
    normal exit would: threads that are not daemons joined (a plugin's library may start
    one), the ``atexit`` handlers run (logging's flush and close among them), the messages
    still queued on ZeroMQ sockets sent (the shared contexts terminated: sockets closed with a
    linger wait for it, those still open are closed without one), stdout and stderr flushed
    (a stdout whose reader went away gives :data:`EXIT_BROKEN_PIPE`, as
    :func:`~papa_kernel.pipes.quiet_on_broken_pipe` says it)."""
    import atexit
    import threading

    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for name in ZMQ_CONTEXT_MODULES:
        module = sys.modules.get(name)
        context = getattr(getattr(module, "Context", None), "_instance", None)
        if context is not None and not context.closed:
            context.destroy(linger=0)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    except (OSError, ValueError):  # closed: nothing more can be said
        pass
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


def ends_process(main: Main) -> Main:
    """Wrap a tool's ``main(argv=None)``: without ``argv`` (run as the program) the process
    ends with its status through :func:`exit_now`; with ``argv`` the status is returned."""

    @functools.wraps(main)
    def wrapper(argv: Any = None) -> int:
        code: int = main(argv)
        if argv is None:
            exit_now(code)
        return code

    return cast(Main, wrapper)
