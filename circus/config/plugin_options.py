"""The constructor options a built-in plugin declares, so that circusd checks them when it
loads the configuration (``--check-config``, start-up, ``reloadconfig``) instead of the plugin
failing later with a message that does not name the key.

A plugin class declares ``config_options = {"key": KIND, ...}``; :func:`declared_options`
merges the declarations of the class and its bases. KIND is one of :data:`KINDS` (each is a
converter of the configuration's own: the same rules and messages as watcher options). Third-
party plugins may declare theirs the same way; a class that declares nothing is not checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from circus.config import converters as cv


def _finite(value: object, minimum: float, strict: bool) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"expected a number, got {cv.show(value)}") from None
    if not math.isfinite(number) or number < minimum or (strict and number == minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ValueError(f"expected a number {bound}, got {cv.show(value)}")
    return number


def _regex(value: object) -> str:
    try:
        re.compile(str(value))
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc}): {cv.show(value)}") from None
    return str(value)


def _percent_or_size(value: object) -> object:
    try:
        return _finite(value, 0, strict=False)
    except ValueError:
        pass
    try:
        return cv.to_size(value)
    except ValueError:
        raise ValueError(
            f"expected a % (90) or a size with a unit (100M), got {cv.show(value)}"
        ) from None


#: Kinds of option values, each with its converter (raises ValueError with a message).
KINDS: dict[str, Callable[[object], object]] = {
    "str": cv.to_str,
    "bool": cv.to_bool,
    "count": lambda v: cv.to_int(v, minimum=0),
    "port": cv.to_port,
    "seconds": lambda v: _finite(v, 0, strict=True),  # > 0
    "number": lambda v: _finite(v, 0, strict=False),  # >= 0, finite
    "regex": _regex,
    "signal": cv.to_signum,
    "percent_or_size": _percent_or_size,
}


#: Options every plugin takes (CircusPlugin reads them).
COMMON = {"active": "bool"}


def declared_options(cls: type) -> dict[str, str] | None:
    """``{key: kind}`` of ``cls`` and its bases (plus :data:`COMMON`), or None when none of
    them declares any."""
    merged: dict[str, str] = dict(COMMON)
    found = False
    for klass in reversed(cls.__mro__):
        declared = klass.__dict__.get("config_options")
        if isinstance(declared, Mapping):
            merged.update(declared)
            found = True
    return merged if found else None


def check_option(kind: str, value: Any) -> None:
    """Raise ValueError (with the reason) when ``value`` is not a valid ``kind``."""
    KINDS[kind](value)
