"""Build a stream from a watcher's ``stdout_stream.*`` / ``stderr_stream.*`` options.

Every mistake becomes a :class:`~circus.errors.ConfigError` whose problems name the key
(``stdout_stream.max_bytes``) and what was expected; all problems of one stream are reported
together, and no traceback escapes.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from circus.errors import ConfigError, ConfigProblem
from circus.streams.base import Stream, StreamOptionError
from circus.streams.file_stream import FileStream, TimedRotatingFileStream, WatchedFileStream
from circus.streams.memory import NullStream, QueueStream
from circus.streams.options import (
    to_bool,
    to_color,
    to_filename,
    to_int,
    to_positive_int,
    to_rotate_when,
    to_size,
    to_time_format,
)
from circus.streams.stdout import FancyStdoutStream, StdoutStream
from circus.util.dotted import import_callable

log = logging.getLogger(__name__)

_FILE = {"filename": to_filename, "time_format": to_time_format}

#: Built-in classes and the options each accepts, with their converters.
SCHEMA: dict[type, dict[str, Callable[[Any], Any]]] = {
    FileStream: {**_FILE, "max_bytes": to_size, "backup_count": to_int},
    WatchedFileStream: dict(_FILE),
    TimedRotatingFileStream: {
        **_FILE,
        "backup_count": to_int,
        "rotate_when": to_rotate_when,
        "rotate_interval": to_positive_int,
        "utc": to_bool,
    },
    StdoutStream: {},
    FancyStdoutStream: {"color": to_color, "time_format": to_time_format},
    QueueStream: {"maxsize": to_int},
    NullStream: {},
}
BUILTINS: dict[str, type] = {cls.__name__.lower(): cls for cls in SCHEMA}
REQUIRED = {
    FileStream: "filename",
    WatchedFileStream: "filename",
    TimedRotatingFileStream: "filename",
}
#: Options of the original Circus that no longer mean anything; accepted and ignored.
OBSOLETE = frozenset({"refresh_time"})

_CLASS_PREFIXES = ("circus.stream.", "circus.streams.")
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
    # A user class gets the values as they are (strings from INI files).
    kwargs = _convert_builtin(cls, options, problems) if cls in SCHEMA else options
    problems.raise_if_any()
    return _adapt(_instantiate(cls, kwargs, problems), problems)


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
    short = _short_name(name)
    if short in BUILTINS:
        return BUILTINS[short]
    if "." not in short:
        known = [cls.__name__ for cls in SCHEMA]
        match = difflib.get_close_matches(short, [k.lower() for k in known], n=1)
        problems.add(
            "class",
            f"unknown stream class {name!r}: expected one of "
            f"{', '.join(known)} or a dotted path to a class",
            suggestion=BUILTINS[match[0]].__name__ if match else None,
        )
        return None
    return _import(name, problems)


def builtin_class(name: str) -> type | None:
    """The built-in stream class ``name`` means (any case, with or without ``circus.stream.``
    or ``circus.streams.``), or None."""
    return BUILTINS.get(_short_name(name))


def _short_name(name: str) -> str:
    short = name.strip().lower()
    for class_prefix in _CLASS_PREFIXES:
        short = short.removeprefix(class_prefix)
    return short


def _import(path: str, problems: _Problems) -> Any:
    try:
        return import_callable(path)
    except ValueError as exc:  # worded as circus.config.names words it at start-up
        problems.add("class", f"stream class {path!r}: {exc}")
        return None


def _convert_builtin(cls: type, options: Mapping[str, Any], problems: _Problems) -> dict[str, Any]:
    schema = SCHEMA[cls]
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if value is None:  # the library API's way of saying "the default"
            continue
        if key in OBSOLETE:
            log.warning("%s.%s is obsolete and ignored", problems.prefix, key)
            continue
        converter = schema.get(key)
        if converter is None:
            known = ", ".join(schema) or "none"
            match = difflib.get_close_matches(key, list(schema), n=1)
            problems.add(
                key,
                f"unknown option for {cls.__name__} (its options: {known})",
                suggestion=f"{problems.prefix}.{match[0]}" if match else None,
            )
            continue
        try:
            kwargs[key] = converter(value)
        except (ValueError, TypeError) as exc:
            problems.add(key, str(exc))
    required = REQUIRED.get(cls)
    if required and options.get(required) is None:
        problems.add(
            required, f"{cls.__name__} needs a {required}: set {problems.prefix}.{required}"
        )
    return kwargs


def _instantiate(cls: Any, kwargs: dict[str, Any], problems: _Problems) -> Any:
    name = getattr(cls, "__name__", repr(cls))
    try:
        return cls(**kwargs)
    except StreamOptionError as exc:
        problems.add(exc.option, exc.reason)
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
