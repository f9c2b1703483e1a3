"""Converters for stream options, for the stream constructors.

The rules themselves (which class takes which option, how each value is converted) live in
:mod:`circus.config.stream_options`, shared with the configuration loader; :func:`option`
turns a converter's ``ValueError`` into a :class:`StreamOptionError` naming the option, which
:func:`circus.streams.build_stream` reports as a configuration problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from circus.config.stream_options import (
    COLORS,
    ROTATE_WHEN,
    to_bool,
    to_color,
    to_filename,
    to_int,
    to_positive_int,
    to_rotate_when,
    to_size,
    to_time_format,
)
from circus.streams.base import StreamOptionError

T = TypeVar("T")

__all__ = [
    "COLORS",
    "ROTATE_WHEN",
    "option",
    "to_bool",
    "to_color",
    "to_filename",
    "to_int",
    "to_positive_int",
    "to_rotate_when",
    "to_size",
    "to_time_format",
]


def option(name: str, value: Any, converter: Callable[[Any], T]) -> T:
    """Convert one option value, naming the option in the error."""
    try:
        return converter(value)
    except (ValueError, TypeError) as exc:
        raise StreamOptionError(name, str(exc)) from None
