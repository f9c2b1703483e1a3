"""The stream option rules, shared by the configuration loader and :mod:`circus.streams`.

One table says which options each built-in stream class takes and how each value is converted,
so ``--check-config``, loading a configuration and building a stream at run time apply the same
rules (issue: a config passed the check and every chunk then failed at run time):

- a known option with a bad value is an error naming the key;
- an option the class does not take is accepted and ignored, with a warning, as the original
  Circus did (its stream classes took ``**kwargs``);
- ``refresh_time`` (obsolete in the original) is accepted and ignored, with a warning.

Values come either as strings from an INI file (``stdout_stream.max_bytes = 1048576``) or already
typed from the library API. Each converter returns the typed value or raises ``ValueError`` whose
text says what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from circus.config import converters
from circus.util.suggest import nearest
from papa_kernel.records import frozen_record

#: rotate_when values accepted by TimedRotatingFileStream (compared case-insensitively).
ROTATE_WHEN = ("S", "M", "H", "D", "MIDNIGHT", *(f"W{day}" for day in range(7)))

#: ANSI foreground colour codes of FancyStdoutStream, in the order used when none is chosen.
COLORS = {"red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35, "cyan": 36, "white": 37}


def to_count(value: Any) -> int:
    """A non-negative integer (``"5"`` or an int): the configuration's integer converter."""
    return converters.to_int(value, minimum=0)


def to_size(value: Any) -> int:
    """A size in bytes: ``1073741824``, or with a binary unit ``512k``, ``10M``, ``1GiB``: the
    configuration loader's converter, so a size is read the same way everywhere."""
    return converters.to_size(value)


def to_positive_int(value: Any) -> int:
    """An integer >= 1: the configuration's integer converter."""
    return converters.to_int(value, minimum=1)


def to_bool(value: Any) -> bool:
    """``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case) or a bool: the configuration
    loader's converter."""
    return converters.to_bool(value)


def to_filename(value: Any) -> str:
    """A non-empty path (str or path-like); ``~`` is expanded."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a file path, got {value!r}")
    return os.path.expanduser(value.strip())


def to_time_format(value: Any) -> str | None:
    """A strftime format, or None/empty for "no time prefix"."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a strftime format such as '%Y-%m-%d %H:%M:%S', got {value!r}")
    if not value:
        return None
    try:
        import datetime  # only to check a time format (kept out of circusd otherwise)

        datetime.datetime.now().strftime(value)
    except (ValueError, UnicodeError) as exc:
        raise ValueError(f"not a valid strftime format {value!r}: {exc}") from None
    return value


def to_rotate_when(value: Any) -> str:
    """One of S, M, H, D, W0-W6, midnight (any case); returned upper-cased."""
    text = value.strip().upper() if isinstance(value, str) else None
    if text not in ROTATE_WHEN:
        raise ValueError(f"expected one of S, M, H, D, W0-W6, midnight, got {value!r}")
    return text


def to_color(value: Any) -> str | None:
    """A colour name (red, green, yellow, blue, magenta, cyan, white; any case) or None."""
    if value is None:
        return None
    text = value.strip().lower() if isinstance(value, str) else None
    if text == "":
        return None
    if text not in COLORS:
        raise ValueError(f"expected one of {', '.join(COLORS)}, got {value!r}")
    return text


#: How each option value is converted (the same for every class that takes the option).
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "filename": to_filename,
    "time_format": to_time_format,
    "max_bytes": to_size,
    "backup_count": to_count,
    "rotate_when": to_rotate_when,
    "rotate_interval": to_positive_int,
    "utc": to_bool,
    "color": to_color,
    "maxsize": to_count,
}
#: Every stream key with a meaning for some built-in class (for "did you mean").
OPTION_NAMES = ("class", *CONVERTERS)
_FILE = ("filename", "time_format")
#: The built-in classes (names usable without a dotted path) and the options each takes.
CLASS_OPTIONS: dict[str, tuple[str, ...]] = {
    "FileStream": (*_FILE, "max_bytes", "backup_count"),
    "WatchedFileStream": _FILE,
    "TimedRotatingFileStream": (
        *_FILE,
        "backup_count",
        "rotate_when",
        "rotate_interval",
        "utc",
    ),
    "StdoutStream": (),
    "FancyStdoutStream": ("color", "time_format"),
    "QueueStream": ("maxsize",),
    "NullStream": (),
}
#: Classes that cannot work without an option.
REQUIRED = {
    "FileStream": "filename",
    "WatchedFileStream": "filename",
    "TimedRotatingFileStream": "filename",
}
#: Options of the original Circus that no longer mean anything; accepted and ignored.
OBSOLETE = frozenset({"refresh_time"})
#: Dotted names that only ever mean a built-in class (``circus.stream.FileStream``).
_CLASS_PREFIXES = ("circus.stream.", "circus.streams.")
_BY_LOWER = {name.lower(): name for name in CLASS_OPTIONS}


def builtin_class_name(name: str) -> str | None:
    """The built-in class ``name`` means (any case, with or without ``circus.stream.``), or
    None when it is not one."""
    short = name.strip().lower()
    for prefix in _CLASS_PREFIXES:
        short = short.removeprefix(prefix)
    return _BY_LOWER.get(short)


def is_custom_class_path(name: str) -> bool:
    """Whether ``name`` is a dotted path to a class of the user's own (one under
    ``circus.stream.`` or ``circus.streams.`` can only be a built-in class)."""
    return "." in name and not name.lower().startswith(_CLASS_PREFIXES)


@frozen_record
class OptionIssue:
    """One finding of :func:`check_options` about ``key`` (an error unless ``ignored``)."""

    key: str
    message: str
    suggestion: str | None = None
    ignored: bool = False  # a warning: the option is accepted and ignored


def select_options(
    class_name: str, options: Mapping[str, Any]
) -> tuple[dict[str, Any], list[OptionIssue]]:
    """The options of ``options`` that built-in class ``class_name`` takes, values as given
    (None, the library API's "the default", left out), and the issues about the others:
    obsolete or not taken (ignored, with a warning), a required one missing (an error)."""
    accepted = CLASS_OPTIONS[class_name]
    selected: dict[str, Any] = {}
    issues: list[OptionIssue] = []
    for key, value in options.items():
        if value is None:
            continue
        if key in OBSOLETE:
            issues.append(OptionIssue(key, "is obsolete and ignored", ignored=True))
        elif key not in accepted:
            issues.append(
                OptionIssue(
                    key,
                    f"{class_name} does not take this option: ignored, as the original Circus "
                    f"does (its options: {', '.join(accepted) or 'none'})",
                    suggestion=nearest(key, accepted),
                    ignored=True,
                )
            )
        else:
            selected[key] = value
    required = REQUIRED.get(class_name)
    if required and options.get(required) is None:
        issues.append(OptionIssue(required, f"{class_name} needs a {required}"))
    return selected, issues


def check_options(
    class_name: str, options: Mapping[str, Any]
) -> tuple[dict[str, Any], list[OptionIssue]]:
    """:func:`select_options`, with the selected values converted (a value its converter
    refuses is an error naming the key): the configuration loader's check."""
    selected, issues = select_options(class_name, options)
    kwargs: dict[str, Any] = {}
    for key, value in selected.items():
        try:
            kwargs[key] = CONVERTERS[key](value)
        except (ValueError, TypeError) as exc:
            issues.append(OptionIssue(key, str(exc)))
    return kwargs, issues
