"""How a stream constructor converts its options.

The rules (which class takes which option, how each value is converted) live in
:mod:`circus.config.stream_options`, shared with the configuration loader, which checks a
configuration with them at load time. At run time the constructor is the one place a value is
converted: :func:`circus.streams.build_stream` only picks the options the class takes.
:func:`convert` runs every given option through its converter and raises one
:class:`StreamOptionError` naming each bad option, which ``build_stream`` reports as
configuration problems.
"""

from __future__ import annotations

from typing import Any

from circus.config.stream_options import CONVERTERS
from circus.streams.base import StreamOptionError


def convert(**given: Any) -> dict[str, Any]:
    """Every keyword converted by the converter of the option it names."""
    converted: dict[str, Any] = {}
    bad: list[tuple[str, str]] = []
    for name, value in given.items():
        try:
            converted[name] = CONVERTERS[name](value)
        except (ValueError, TypeError) as exc:
            bad.append((name, str(exc)))
    if bad:
        raise StreamOptionError(*bad[0], *bad[1:])
    return converted
