"""The kernel's logging facade: ``log = klog.get(__name__)``, then ``log.info("x %s", y)``,
``log.exception(...)``, ``log.isEnabledFor(klog.INFO)``, as with :mod:`logging`.

Why not :mod:`logging` itself: the kernel lives for months and every module it imports stays
resident; logging (with traceback, threading, string and weakref) is ~1 MB of its memory, for
records that go to one file. The kernel's own process therefore installs a small writer
(:class:`papa_kernel.logwriter.LogWriter`) with :func:`install` once its options are read.
Until then, and in every other process (circusd imports :mod:`papa_kernel.sdnotify`, whose
warnings must follow circusd's logging configuration; tests run kernel objects in-process),
records go to :mod:`logging`, imported at the first record, under the same logger names.
"""

from __future__ import annotations

from papa_kernel.typenames import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import logging

DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50  # logging's numbers
LEVEL_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR",
               CRITICAL: "CRITICAL"}  # fmt: skip
#: logging's ``stacklevel`` that names the caller of ``log.info`` (not this module)
CALLER = 3


class Sink(Protocol):
    """Where records go instead of :mod:`logging` (see :func:`install`)."""

    def enabled(self, level: int) -> bool:
        """Whether a record of ``level`` would be written."""
        ...

    def emit(self, level: int, name: str, msg: str, args: tuple[object, ...],
             exc_info: bool) -> None:  # fmt: skip
        """Write one record (``msg % args``; with the current exception if ``exc_info``)."""
        ...


_sink: Sink | None = None


def install(sink: Sink | None) -> Sink | None:
    """Send every record of this process to ``sink`` (None: back to :mod:`logging`); returns
    the previous sink."""
    global _sink
    previous, _sink = _sink, sink
    return previous


class Logger:
    """A named logger: the subset of :class:`logging.Logger` the kernel uses."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def isEnabledFor(self, level: int) -> bool:  # logging's name
        """Whether a record of ``level`` would be written."""
        if _sink is None:
            return _stdlib(self.name).isEnabledFor(level)
        return _sink.enabled(level)

    def _log(self, level: int, msg: str, args: tuple[object, ...], exc_info: bool = False) -> None:
        sink = _sink
        if sink is None:
            _stdlib(self.name).log(level, msg, *args, exc_info=exc_info, stacklevel=CALLER)
        elif sink.enabled(level):
            sink.emit(level, self.name, msg, args, exc_info)

    def debug(self, msg: str, *args: object) -> None:
        """Log at DEBUG."""
        self._log(DEBUG, msg, args)

    def info(self, msg: str, *args: object) -> None:
        """Log at INFO."""
        self._log(INFO, msg, args)

    def warning(self, msg: str, *args: object) -> None:
        """Log at WARNING."""
        self._log(WARNING, msg, args)

    def error(self, msg: str, *args: object) -> None:
        """Log at ERROR."""
        self._log(ERROR, msg, args)

    def exception(self, msg: str, *args: object) -> None:
        """Log at ERROR with the traceback of the exception being handled."""
        self._log(ERROR, msg, args, exc_info=True)


def get(name: str) -> Logger:
    """The logger named ``name`` (a module's ``__name__``)."""
    return Logger(name)


def _stdlib(name: str) -> logging.Logger:
    import logging  # only where no sink is installed: not in the kernel

    return logging.getLogger(name)
