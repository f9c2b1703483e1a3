"""Small pure converters for stream options.

Values come either as strings from an INI file (``stdout_stream.max_bytes = 1048576``) or already
typed from the library API. Each converter returns the typed value or raises ``ValueError`` whose
text says what was expected; :func:`option` turns that into a :class:`StreamOptionError` naming the
option, which :func:`circus.streams.build_stream` reports as a configuration problem.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import Any, TypeVar

from circus.config import converters
from circus.streams.base import StreamOptionError

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f", ""})

#: rotate_when values accepted by TimedRotatingFileStream (compared case-insensitively).
ROTATE_WHEN = ("S", "M", "H", "D", "MIDNIGHT", *(f"W{day}" for day in range(7)))

#: ANSI foreground colour codes of FancyStdoutStream, in the order used when none is chosen.
COLORS = {"red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35, "cyan": 36, "white": 37}


def option(name: str, value: Any, converter: Callable[[Any], T]) -> T:
    """Convert one option value, naming the option in the error."""
    try:
        return converter(value)
    except (ValueError, TypeError) as exc:
        raise StreamOptionError(name, str(exc)) from None


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
    """``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case) or a bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"expected a boolean (true/false, yes/no, on/off, 1/0), got {value!r}")


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
