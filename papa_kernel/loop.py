"""The kernel's one event loop: an epoll set, deferred work, and signals.

Why not :mod:`selectors`: its selector keeps a key (an 80-byte named tuple) per fd besides
its own fd map, and the kernel watches three fds per hosted worker; the loop keeps one
handler per fd in its own map, and its masks are the selectors' (:data:`EVENT_READ`,
:data:`EVENT_WRITE`, same values), derived from epoll's events as ``selectors`` does.

Rationale for signals: a Python signal handler runs between bytecodes at an arbitrary point of
the loop, so it only *records* the signal number. ``signal.set_wakeup_fd`` makes the C-level
handler write a byte to a pipe that the selector watches; the loop wakes up, drains the pipe and
dispatches the recorded signals like any other event, with the loop's state consistent.

Deferred work (``call_soon``) runs after each round of events, so many pipe reads of one round
coalesce into one watch batch, and a client with many pipelined lines is served in slices
without starving the others.

Bulk fds (the workers' output pipes) come last in a round and share a budget: the other
handlers (client commands, acknowledgements, exits, signals) run first and their replies and
batches go out (the deferred work runs once before the bulk), then bulk handlers run, in an
order that rotates from round to round, until ``bulk_budget`` (bytes, charged by the
handlers) is spent. A bulk fd left over stays readable and is served in the next round, so
100 workers flooding output cannot hold a round (and a command's reply) for 100 reads.

The loop never sleeps on a timer: with nothing to do it blocks.
The one exception is :meth:`Loop.every`, used only for systemd's watchdog when the unit asks
for one (``WatchdogSec=``): a ping sent from the loop itself proves that the loop turns.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import signal
import time
from collections.abc import Callable

from papa_kernel import klog
from papa_kernel.records import record
from papa_kernel.typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from papa_kernel.typenames import Any

log = klog.get(__name__)

Handler = Callable[[int], None]  # called with the ready event mask
EVENT_READ = 1  # selectors.EVENT_READ
EVENT_WRITE = 2  # selectors.EVENT_WRITE
Ready = tuple[int, Handler, int]  # an fd, its handler and its ready mask


class FdCall:
    """A handler that calls ``function(first, second)`` (the event mask is not passed on).

    The kernel registers three fds per hosted worker; a closure over its arguments costs
    ~290 bytes, a ``functools.partial`` of a bound method ~260, this 56. ``function`` should
    be made once (a bound method made at each registration would cost 64 bytes more).
    """

    __slots__ = ("first", "function", "second")

    def __init__(self, function: Callable[[Any, Any], None], first: object, second: object = None):
        self.function = function
        self.first = first
        self.second = second

    def __call__(self, _mask: int) -> None:
        self.function(self.first, self.second)


#: Bytes bulk handlers may read in one round (see the module docstring): one full 1 MiB pipe,
#: 0.3-1.5 ms of CPU, so a command waits at most that long for the output reads before it.
BULK_BYTES_PER_ROUND = 1024 * 1024


@record
class _Timer:
    due: float  # time.monotonic() of the next run
    interval: float | None  # None: once
    callback: Callable[[], None]


class Loop:
    """Dispatch fd readiness to handlers; run deferred callbacks; deliver signals."""

    def __init__(self) -> None:
        self._epoll = select.epoll()  # close-on-exec
        self._handlers: dict[int, Handler] = {}  # fd -> handler (not bulk)
        #: fd -> handler of the bulk fds (a map of their own: a set of bulk fds beside one
        #: map of every handler would cost 65 bytes per pipe)
        self._bulk_handlers: dict[int, Handler] = {}
        #: events of the fds that watch more than EVENT_READ (client connections)
        self._events: dict[int, int] = {}
        self._soon: collections.deque[Callable[[], None]] = collections.deque()
        self._signal_handlers: dict[int, Callable[[int], None]] = {}
        self._recorded: collections.deque[int] = collections.deque()
        self._wakeup_r: int | None = None
        self._wakeup_w: int | None = None
        self._old_wakeup_fd = -1
        self._timers: list[_Timer] = []
        self._bulk_next = 0  # rotation: where the next round's bulk handlers start
        #: what bulk handlers may still read in this round (they charge what they read)
        self.bulk_budget = BULK_BYTES_PER_ROUND
        self.stopping = False

    # -- fds -------------------------------------------------------------------------------
    def register(self, fd: int, events: int, handler: Handler, bulk: bool = False) -> None:
        """Watch ``fd`` for ``events`` (:data:`EVENT_READ`, :data:`EVENT_WRITE`). A ``bulk``
        fd is served after the others, within the round's budget (see the module docstring).
        KeyError if ``fd`` is watched already; OSError if it is not open."""
        if fd in self._handlers or fd in self._bulk_handlers:
            raise KeyError(f"fd {fd} is already registered")
        self._epoll.register(fd, _epoll_events(events))  # ValueError for no events
        (self._bulk_handlers if bulk else self._handlers)[fd] = handler
        self._set_events(fd, events)

    def modify(self, fd: int, events: int, handler: Handler) -> None:
        """Change the events watched on ``fd`` (KeyError if it is not watched)."""
        handlers = self._bulk_handlers if fd in self._bulk_handlers else self._handlers
        if fd not in handlers:
            raise KeyError(f"fd {fd} is not registered")
        if events != self._events.get(fd, EVENT_READ):
            self._epoll.modify(fd, _epoll_events(events))  # ValueError for no events
            self._set_events(fd, events)
        handlers[fd] = handler

    def _set_events(self, fd: int, events: int) -> None:
        if events == EVENT_READ:
            self._events.pop(fd, None)
        else:
            self._events[fd] = events

    def unregister(self, fd: int) -> None:
        """Stop watching ``fd`` (ignores fds that are not registered, or already closed)."""
        self._events.pop(fd, None)
        handler = self._handlers.pop(fd, None)
        if handler is None:
            handler = self._bulk_handlers.pop(fd, None)
        if handler is not None:
            with contextlib.suppress(OSError):  # closed: epoll dropped it already
                self._epoll.unregister(fd)

    def is_registered(self, fd: int) -> bool:
        """True if ``fd`` is watched."""
        return fd in self._handlers or fd in self._bulk_handlers

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after the current round of events."""
        self._soon.append(callback)

    def every(self, interval: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` every ``interval`` seconds, from the loop (first after one interval)."""
        self._timers.append(_Timer(time.monotonic() + interval, interval, callback))

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` once, ``delay`` seconds from now, from the loop."""
        self._timers.append(_Timer(time.monotonic() + delay, None, callback))

    def _timeout(self) -> float | None:
        if self._soon:
            return 0
        if not self._timers:
            return None
        return max(0.0, min(timer.due for timer in self._timers) - time.monotonic())

    def _run_timers(self) -> None:
        now = time.monotonic()
        for timer in list(self._timers):
            if now >= timer.due:
                if timer.interval is None:
                    self._timers.remove(timer)
                else:
                    timer.due = now + timer.interval
                try:
                    timer.callback()
                except Exception:
                    log.exception("error in periodic callback %r", timer.callback)

    # -- signals ---------------------------------------------------------------------------
    def add_signal_handler(self, signum: int, callback: Callable[[int], None]) -> None:
        """Dispatch ``signum`` to ``callback(signum)`` from the loop (never from the handler)."""
        if self._wakeup_r is None:
            self._wakeup_r, self._wakeup_w = os.pipe()
            os.set_blocking(self._wakeup_r, False)
            os.set_blocking(self._wakeup_w, False)
            self._old_wakeup_fd = signal.set_wakeup_fd(self._wakeup_w, warn_on_full_buffer=False)
            self.register(self._wakeup_r, EVENT_READ, self._on_wakeup)
        self._signal_handlers[signum] = callback
        signal.signal(signum, self._record)

    def _record(self, signum: int, frame: object) -> None:
        self._recorded.append(signum)  # only record: the loop does the work

    def _on_wakeup(self, mask: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wakeup_r, 4096):  # type: ignore[arg-type]
                pass
        while self._recorded:
            signum = self._recorded.popleft()
            handler = self._signal_handlers.get(signum)
            if handler is not None:
                handler(signum)

    # -- running ---------------------------------------------------------------------------
    def run(self) -> None:
        """Run until :meth:`stop`."""
        while not self.stopping:
            ready, bulk = self._poll(self._timeout())
            for fd, handler, mask in ready:
                self._dispatch(fd, handler, mask)
            if bulk:
                self._run_soon()  # replies and batches go out before the bulk reads
                self._run_bulk(bulk)
            self._run_soon()
            if self._timers:
                self._run_timers()

    def _poll(self, timeout: float | None) -> tuple[list[Ready], list[Ready]]:
        """(fd, handler, mask) of the ready fds, the others' and the bulk ones', as
        ``selectors.EpollSelector.select`` gives them: the handlers are those registered when
        the poll returned, and an error or a hang-up makes an fd ready for what it watches."""
        if timeout is None:
            timeout = -1
        elif timeout > 0:
            timeout = _ceil_ms(timeout)
        ready: list[Ready] = []
        bulk: list[Ready] = []
        handlers, bulk_handlers, watched = self._handlers, self._bulk_handlers, self._events
        maxevents = max(len(handlers) + len(bulk_handlers), 1)
        for fd, event in self._epoll.poll(timeout, maxevents):
            handler = handlers.get(fd)
            into = ready
            if handler is None:
                handler = bulk_handlers.get(fd)
                into = bulk
                if handler is None:
                    continue
            mask = 0
            if event & ~select.EPOLLIN:
                mask |= EVENT_WRITE
            if event & ~select.EPOLLOUT:
                mask |= EVENT_READ
            into.append((fd, handler, mask & watched.get(fd, EVENT_READ)))
        return ready, bulk

    def _run_bulk(self, ready: list[Ready]) -> None:
        """Bulk handlers, starting where the last round stopped, until the budget is spent."""
        self.bulk_budget = BULK_BYTES_PER_ROUND
        start = self._bulk_next % len(ready)
        served = 0
        for fd, handler, mask in ready[start:] + ready[:start]:
            if self.bulk_budget <= 0:
                break
            served += 1
            self._dispatch(fd, handler, mask)
        self._bulk_next = start + served

    @staticmethod
    def _dispatch(fd: int, handler: Handler, mask: int) -> None:
        try:
            handler(mask)
        except Exception:  # a bug in one handler must not take the kernel down
            log.exception("error handling fd %s", fd)

    def _run_soon(self) -> None:
        for _ in range(len(self._soon)):
            callback = self._soon.popleft()
            try:
                callback()
            except Exception:
                log.exception("error in deferred callback %r", callback)

    def stop(self) -> None:
        """Leave :meth:`run` after the current round."""
        self.stopping = True

    def close(self) -> None:
        """Release the epoll set and the signal wake-up pipe."""
        if self._wakeup_r is not None:
            signal.set_wakeup_fd(self._old_wakeup_fd)
            for signum in self._signal_handlers:
                signal.signal(signum, signal.SIG_DFL)
            self.unregister(self._wakeup_r)
            os.close(self._wakeup_r)
            os.close(self._wakeup_w)  # type: ignore[arg-type]
            self._wakeup_r = self._wakeup_w = None
        self._epoll.close()


def _epoll_events(events: int) -> int:
    """epoll's events for a mask; ValueError for an empty or unknown one (as selectors)."""
    if not events or events & ~(EVENT_READ | EVENT_WRITE):
        raise ValueError(f"invalid events {events!r}")
    return (select.EPOLLIN if events & EVENT_READ else 0) | (
        select.EPOLLOUT if events & EVENT_WRITE else 0
    )


def _ceil_ms(timeout: float) -> float:
    """``timeout`` rounded up to the millisecond (epoll's unit), as selectors does: rounded
    down, a wait for a timer due in 0.4 ms would return at once and spin."""
    milliseconds = int(timeout * 1000)
    if milliseconds < timeout * 1000:
        milliseconds += 1
    return milliseconds / 1000
