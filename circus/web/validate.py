"""Validation of the fields the browser sends: each failure is an API error 400 ``invalid``
naming the field, so the page shows the message next to it."""

from __future__ import annotations

import re
from typing import Any

from circus.web.base import ApiError

#: Watcher names added from the console: circusd refuses spaces and control characters; a
#: ``/`` would not fit in the console's URLs. Other names (configured ones) are only looked up.
WATCHER_NAME = re.compile(r"^[A-Za-z0-9_.@:+-]{1,128}$")
SIGNAL = re.compile(r"^(?:[Ss][Ii][Gg])?[A-Za-z][A-Za-z0-9+-]{0,15}$")
MAX_TEXT = 8192
MAX_NB = 1000  # one incr/decr click changes at most this many processes
MAX_PROCESSES = 100000  # numprocesses above circusd's own limit is refused by circusd anyway


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid", f"{field}: {message}", field=field)


def integer(
    data: dict[str, Any], field: str, default: int | None, low: int, high: int
) -> int | None:
    """An integer field (a JSON number or a string of digits) within ``low..high``."""
    value = data.get(field, default)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, f"expected a whole number, got {str(value)[:40]!r}")
    if not low <= value <= high:
        raise invalid(field, f"must be between {low} and {high}, not {value}")
    return value


def required_integer(data: dict[str, Any], field: str, low: int, high: int) -> int:
    if data.get(field) in (None, ""):
        raise invalid(field, "a number is required")
    value = integer(data, field, None, low, high)
    assert value is not None
    return value


def pid(data: dict[str, Any], field: str = "pid") -> int | None:
    if data.get(field) in (None, ""):
        return None
    return integer(data, field, None, 1, 2**22)


def signal_name(data: dict[str, Any], field: str, required: bool) -> str | int | None:
    """A signal name (``HUP``, ``SIGTERM``) or number; circusd checks it exists."""
    value = data.get(field)
    if value in (None, ""):
        if required:
            raise invalid(field, "a signal is required (a name such as TERM, or a number)")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 64:
            raise invalid(field, f"signal number must be between 1 and 64, not {value}")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return signal_name({field: int(text)}, field, required)
        if SIGNAL.match(text):
            return text.upper()
    raise invalid(
        field, f"expected a signal name such as TERM or a number, got {str(value)[:40]!r}"
    )


def number(data: dict[str, Any], field: str, low: float, high: float) -> float | None:
    value = data.get(field)
    if value in (None, ""):
        return None
    try:
        result = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        result = None
    if result is None or not low <= result <= high:
        raise invalid(
            field, f"expected a number between {low:g} and {high:g}, got {str(value)[:40]!r}"
        )
    return result


def text(data: dict[str, Any], field: str, required: bool, limit: int = MAX_TEXT) -> str | None:
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise invalid(field, "is required")
        return None
    if not isinstance(value, str):
        raise invalid(field, "expected text")
    if len(value) > limit:
        raise invalid(field, f"longer than {limit} characters")
    if any(ord(c) < 32 and c not in "\t" for c in value):
        raise invalid(field, "control characters (newlines...) are not allowed")
    return value.strip()


def watcher_name(data: dict[str, Any], field: str = "name") -> str:
    name = text(data, field, True, 128)
    assert name is not None
    if not WATCHER_NAME.match(name):
        raise invalid(field, "use letters, digits and . _ @ : + - (at most 128, no spaces)")
    return name


def boolean(data: dict[str, Any], field: str, default: bool) -> bool:
    value = data.get(field, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "true",
        "1",
        "yes",
        "on",
        "false",
        "0",
        "no",
        "off",
        "",
    ):
        return value.lower() in ("true", "1", "yes", "on")
    raise invalid(field, f"expected true or false, got {str(value)[:40]!r}")


def args(data: dict[str, Any], field: str = "args") -> str | list[str] | None:
    value = data.get(field)
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        return text(data, field, False)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        if sum(len(v) for v in value) > MAX_TEXT or len(value) > 1000:
            raise invalid(field, "too many or too long arguments")
        return value
    raise invalid(field, "expected a string or a list of strings")


def options(data: dict[str, Any], field: str = "options") -> dict[str, Any]:
    """Watcher options: an object of scalars, lists of scalars, or objects of scalars (env);
    circusd validates the keys and values themselves (its errors come back naming the key)."""
    value = data.get(field)
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise invalid(field, "expected an object of watcher options")
    if len(value) > 200:
        raise invalid(field, "more than 200 options")
    scalar = (str, int, float, bool, type(None))
    for key, item in value.items():
        where = f"{field}.{key}"
        if not isinstance(key, str) or not key or len(key) > 100:
            raise invalid(field, f"bad option name {str(key)[:40]!r}")
        if isinstance(item, str) and len(item) > MAX_TEXT:
            raise invalid(where, f"longer than {MAX_TEXT} characters")
        if isinstance(item, list) and all(isinstance(v, scalar) for v in item):
            continue
        if isinstance(item, dict) and all(
            isinstance(k, str) and isinstance(v, scalar) for k, v in item.items()
        ):
            continue
        if not isinstance(item, scalar):
            raise invalid(where, "expected text, a number, true/false, a list or an object")
    return value


def option_field(reason: str) -> str | None:
    """``options.KEY`` when circusd's refusal names an option (``option KEY: ...``)."""
    match = re.match(r"^(?:message invalid )?option ([A-Za-z0-9_.]+)\b", reason)
    return f"options.{match.group(1)}" if match else None
