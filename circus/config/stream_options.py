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

import datetime
import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from circus.config import converters

#: rotate_when values accepted by TimedRotatingFileStream (compared case-insensitively).
ROTATE_WHEN = ("S", "M", "H", "D", "MIDNIGHT", *(f"W{day}" for day in range(7)))

#: ANSI foreground colour codes of FancyStdoutStream, in the order used when none is chosen.
COLORS = {"red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35, "cyan": 36, "white": 37}


def to_int(value: Any) -> int:
    """A non-negative integer (``"1048576"``, ``"1_048_576"`` or an int)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip(), 10)
        except ValueError:
            raise ValueError(f"expected a non-negative integer, got {value!r}") from None
    else:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    if number < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return number


def to_size(value: Any) -> int:
    """A size in bytes: ``1073741824``, or with a binary unit ``512k``, ``10M``, ``1GiB``: the
    configuration loader's converter, so a size is read the same way everywhere."""
    return converters.to_size(value)


def to_positive_int(value: Any) -> int:
    """An integer >= 1."""
    number = to_int(value)
    if number < 1:
        raise ValueError(f"expected an integer >= 1, got {value!r}")
    return number


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
    "backup_count": to_int,
    "rotate_when": to_rotate_when,
    "rotate_interval": to_positive_int,
    "utc": to_bool,
    "color": to_color,
    "maxsize": to_int,
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


@dataclass(frozen=True)
class BadValue:
    """A stream option value that failed its converter, kept until the class is known: it is
    an error only for a class that takes the option. ``origin`` locates it in the file."""

    raw: Any
    message: str
    origin: Any = None


def check_value(name: str, value: Any) -> Any:
    """``value`` converted if ``name`` is a known option, else as given; a failing
    conversion gives a :class:`BadValue` (see :func:`check_options`)."""
    convert = CONVERTERS.get(name)
    if convert is None or isinstance(value, BadValue):
        return value
    try:
        return convert(value)
    except (ValueError, TypeError) as exc:
        return BadValue(value, str(exc))


@dataclass(frozen=True)
class OptionIssue:
    """One finding of :func:`check_options` about ``key`` (an error unless ``ignored``)."""

    key: str
    message: str
    suggestion: str | None = None
    ignored: bool = False  # a warning: the option is accepted and ignored
    origin: Any = None


def check_options(class_name: str, options: Mapping[str, Any]) -> tuple[dict, list[OptionIssue]]:
    """The keyword arguments of built-in class ``class_name`` from ``options`` (converted; the
    options it does not take are left out), and every issue found."""
    accepted = CLASS_OPTIONS[class_name]
    kwargs: dict[str, Any] = {}
    issues: list[OptionIssue] = []
    for key, value in options.items():
        if value is None:  # the library API's way of saying "the default"
            continue
        if key in OBSOLETE:
            issues.append(OptionIssue(key, "is obsolete and ignored", ignored=True))
        elif key not in accepted:
            match = difflib.get_close_matches(key, accepted, n=1)
            issues.append(
                OptionIssue(
                    key,
                    f"{class_name} does not take this option: ignored, as the original Circus "
                    f"does (its options: {', '.join(accepted) or 'none'})",
                    suggestion=match[0] if match else None,
                    ignored=True,
                )
            )
        else:
            checked = check_value(key, value)
            if isinstance(checked, BadValue):
                issues.append(OptionIssue(key, checked.message, origin=checked.origin))
            else:
                kwargs[key] = checked
    required = REQUIRED.get(class_name)
    if required and options.get(required) is None:
        issues.append(OptionIssue(required, f"{class_name} needs a {required}"))
    return kwargs, issues
