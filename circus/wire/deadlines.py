"""One daemon thread per process that calls objects back at a deadline, holding them weakly.

A blocking client cannot act while its owner is not calling it; :class:`ConnectionWatch
<circus.wire.diagnose.ConnectionWatch>` needs to, to detach a socket monitor left idle (see
:mod:`circus.wire.diagnose`). :func:`call_at` asks this thread to call ``target.at_deadline()``
once ``time.monotonic()`` reaches a deadline; that method returns a later deadline to be called
again then, or None. The thread holds only a weak reference: a target garbage-collected
meanwhile is not called (its own finalizer does the cleaning). The thread starts on the first
:func:`call_at` (a process that never needs it, such as a one-call circusctl, never starts it)
and is forgotten in a forked child, which starts its own if needed.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
import weakref
from typing import Protocol


class Target(Protocol):
    def at_deadline(self) -> float | None:
        """Called from the deadline thread; returns when to be called again, or None."""


class _DeadlineThread:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._due: list[tuple[float, int, weakref.ref[Target]]] = []  # a heap, earliest first
        self._order = itertools.count()  # ties: first asked, first called
        threading.Thread(target=self._run, name="circus-deadlines", daemon=True).start()

    def call_at(self, target: Target, deadline: float) -> None:
        with self._cond:
            heapq.heappush(self._due, (deadline, next(self._order), weakref.ref(target)))
            if self._due[0][0] == deadline:  # earlier than what the thread waits for
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._cond.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, _, ref = heapq.heappop(self._due)
            target = ref()
            if target is None:
                continue
            try:
                again = target.at_deadline()
            except Exception:  # the thread serves every target of the process: never dies
                import logging  # here: circusctl does without it

                logging.getLogger(__name__).exception("deadline callback of %r failed", target)
                continue
            if again is not None:
                self.call_at(target, again)


_thread: _DeadlineThread | None = None
_start_lock = threading.Lock()


def call_at(target: Target, deadline: float) -> None:
    """Call ``target.at_deadline()`` from the deadline thread once ``time.monotonic()`` reaches
    ``deadline`` (if ``target`` still exists then)."""
    global _thread
    if _thread is None:
        with _start_lock:
            if _thread is None:
                _thread = _DeadlineThread()
    _thread.call_at(target, deadline)


def _forget() -> None:
    global _thread, _start_lock
    _thread = None  # the thread did not survive the fork
    _start_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget)
