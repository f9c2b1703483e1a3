"""Build a stream from a watcher's ``stdout_stream.*`` / ``stderr_stream.*`` options.

Every mistake becomes a :class:`~circus.errors.ConfigError` whose problems name the key
(``stdout_stream.max_bytes``) and what was expected; all problems of one stream are reported
together, and no traceback escapes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from circus.config.model import StreamConfig
from circus.config.stream_options import builtin_class_name, is_custom_class_path, select_options
from circus.errors import ConfigError, ConfigProblem
from circus.streams.base import Stream, StreamOptionError
from circus.streams.file_stream import FileStream, TimedRotatingFileStream, WatchedFileStream
from circus.streams.memory import NullStream, QueueStream
from circus.streams.stdout import FancyStdoutStream, StdoutStream
from circus.util.dotted import import_callable
from circus.util.suggest import nearest

log = logging.getLogger(__name__)

#: The built-in classes by name (the options each takes: circus.config.stream_options).
CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        FileStream,
        WatchedFileStream,
        TimedRotatingFileStream,
        StdoutStream,
        FancyStdoutStream,
        QueueStream,
        NullStream,
    )
}
BUILTINS: dict[str, type] = {name.lower(): cls for name, cls in CLASSES.items()}

_KEY_PREFIXES = ("stdout_stream", "stderr_stream")


class _Problems:
    """Collects problems of one stream configuration, all located the same way."""

    def __init__(self, prefix: str, section: str | None, file: str | None):
        self.prefix, self.section, self.file = prefix, section, file
        self.items: list[ConfigProblem] = []

    def add(self, key: str, message: str, suggestion: str | None = None) -> None:
        self.items.append(
            ConfigProblem(
                message,
                file=self.file,
                section=self.section,
                key=f"{self.prefix}.{key}",
                suggestion=suggestion,
            )
        )

    def has(self, key: str) -> bool:
        return any(p.key == f"{self.prefix}.{key}" for p in self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.items)


def build_stream(
    conf: Mapping[str, Any],
    *,
    prefix: str | None = None,
    section: str | None = None,
    file: str | None = None,
) -> Stream:
    """Create the stream described by ``conf``.

    ``conf`` maps option names to values: ``class`` (a built-in name such as ``FileStream``,
    any case, with or without ``circus.stream.``; a dotted path to a user class; or a class)
    and the constructor options, as strings from an INI file or typed values. Keys may carry
    their ``stdout_stream.`` / ``stderr_stream.`` prefix. A ``stream`` key holding a ready
    stream object is returned as is. Without ``class``, a ``filename`` means FileStream and
    nothing means StdoutStream (the default output of a watcher).

    ``prefix`` (``stdout_stream``/``stderr_stream``), ``section`` and ``file`` only locate
    errors when the keys carry no prefix. Raises :class:`ConfigError`.
    """
    options, prefix = _strip_prefix(conf, prefix, section, file)
    problems = _Problems(prefix, section, file)
    if "stream" in options:
        return _ready_stream(options, problems)
    cls = _resolve_class(options.pop("class", None), options, problems)
    problems.raise_if_any()
    assert cls is not None
    # A built-in class converts the options it takes; a user class gets the values as they
    # are (strings from INI files).
    # Created even after a selection problem (a missing filename), so that the constructor's
    # conversion reports the other bad values too.
    kwargs = _select_builtin(cls, options, problems) if cls in BUILTINS.values() else options
    return _adapt(_instantiate(cls, kwargs, problems), problems)


def watcher_stream(conf: StreamConfig | None, which: str, watcher: str) -> Stream:
    """The ``stdout``/``stderr`` stream of watcher ``watcher`` as configured by ``conf``;
    circusd's own stdout when unconfigured (as the original, where such children wrote to
    circusd's terminal). Raises :class:`ConfigError` located at the watcher's section."""
    if conf is None:
        return StdoutStream()
    return build_stream(conf.as_dict(), prefix=f"{which}_stream", section=f"watcher:{watcher}")


def _strip_prefix(
    conf: Mapping[str, Any], prefix: str | None, section: str | None, file: str | None
) -> tuple[dict[str, Any], str]:
    found = {
        key.partition(".")[0]
        for key in conf
        if key.partition(".")[0] in _KEY_PREFIXES and "." in key
    }
    if len(found) > 1:
        raise ConfigError(
            ConfigProblem(
                "stdout_stream.* and stderr_stream.* keys mixed in one stream configuration",
                file=file,
                section=section,
            )
        )
    if found:
        prefix = found.pop()
        cut = len(prefix) + 1
        return {
            (key[cut:] if key.startswith(prefix + ".") else key): value
            for key, value in conf.items()
        }, prefix
    return dict(conf), prefix or "stream"


def _ready_stream(options: dict[str, Any], problems: _Problems) -> Stream:
    stream = options.pop("stream")
    if not callable(stream):
        problems.add("stream", f"expected a stream object (a callable), got {stream!r}")
    for key in options:
        problems.add(key, "cannot be combined with a ready 'stream' object")
    problems.raise_if_any()
    return _adapt(stream, problems)


def _resolve_class(value: Any, options: Mapping[str, Any], problems: _Problems) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return FileStream if "filename" in options else StdoutStream
    if not isinstance(value, str):
        if callable(value):
            return value
        problems.add("class", f"expected a stream class name, got {value!r}")
        return None
    name = value.strip()
    builtin = builtin_class_name(name)
    if builtin is not None:
        return CLASSES[builtin]
    if not is_custom_class_path(name):
        problems.add(
            "class",
            f"unknown stream class {name!r}: expected one of "
            f"{', '.join(CLASSES)} or a dotted path to a class",
            suggestion=nearest(name, CLASSES),
        )
        return None
    return _import(name, problems)


def _import(path: str, problems: _Problems) -> Any:
    try:
        return import_callable(path)
    except ValueError as exc:  # worded as circus.config.names words it at start-up
        problems.add("class", f"stream class {path!r}: {exc}")
        return None


def _select_builtin(cls: type, options: Mapping[str, Any], problems: _Problems) -> dict[str, Any]:
    kwargs, issues = select_options(cls.__name__, options)
    for issue in issues:
        if issue.ignored:  # the configuration check warned about it already
            log.debug("%s.%s: %s", problems.prefix, issue.key, issue.message)
        else:
            problems.add(issue.key, issue.message)
    return kwargs


def _instantiate(cls: Any, kwargs: dict[str, Any], problems: _Problems) -> Any:
    name = getattr(cls, "__name__", repr(cls))
    try:
        stream = cls(**kwargs)
        if not problems.items:
            return stream
        with contextlib.suppress(Exception):  # a selection problem: the stream is not used
            stream.close()
    except StreamOptionError as exc:
        for option, reason in exc.problems:
            if not problems.has(option):  # a missing filename is reported once
                problems.add(option, reason)
    except OSError as exc:
        target = exc.filename or kwargs.get("filename")
        key = "filename" if "filename" in kwargs else "class"
        problems.add(key, f"{name} cannot open {target!r}: {exc.strerror or exc}")
    except Exception as exc:  # a user class may raise anything: report, never a traceback
        problems.add(
            "class",
            f"cannot create {name} with options {sorted(kwargs)}: {type(exc).__name__}: {exc}",
        )
    problems.raise_if_any()
    raise AssertionError("unreachable")


def _adapt(stream: Any, problems: _Problems) -> Stream:
    if not callable(stream):
        problems.add("class", f"{type(stream).__name__} objects are not callable streams")
        problems.raise_if_any()
    if callable(getattr(stream, "close", None)) and callable(getattr(stream, "reopen", None)):
        return stream
    return UserStream(stream)


class UserStream:
    """Gives a user stream lacking ``close`` or ``reopen`` the whole contract; every other
    attribute is the user object's."""

    def __init__(self, stream: Callable[[Any], Any]):
        self.stream = stream

    def __call__(self, message: Any) -> None:
        self.stream(message)

    def close(self) -> None:
        close = getattr(self.stream, "close", None)
        if callable(close):
            close()

    def reopen(self) -> None:
        reopen = getattr(self.stream, "reopen", None)
        if callable(reopen):
            reopen()

    def __getattr__(self, name: str) -> Any:
        if name == "stream":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.stream, name)
