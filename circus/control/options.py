"""Watcher option values for the ``add`` and ``set`` commands: validation and conversion.

The rules are circus.config's (one schema for INI files, the dict form and the commands):
:func:`circus.config.schema.convert_watcher_option` and the pure converters of
:mod:`circus.config.converters`. This module is the thin facade the commands and circusctl use:

* :func:`validate_option` checks a value received on the wire and returns it unchanged (JSON);
  the arbiter converts it again when it builds or updates the watcher config, so the wire
  value is what reaches it. A bad key or value raises :class:`MessageError` naming the key, what
  was expected and what was found (``numprocesses: expected an integer, got 'x'``), with a
  "did you mean" for a misspelt key.
* :func:`convert_cli_option` turns the text typed after ``circusctl set NAME KEY VALUE`` into the
  typed JSON value to send (numbers, booleans, signal numbers, ``env`` as ``K=V,K2=V2``,
  ``hooks`` as ``name:dotted.path,name2:path2``), so the original circusd accepts it too.

Compared with the original's ``validate_option``, every watcher key of the configuration
manual is accepted (``priority``, ``autostart``, ``use_sockets``, ``copy_path``, ``on_demand``,
``virtualenv``, ``use_papa``, ``max_age``... were "unknown key" errors there), and values given
as text (``"3"``, ``"true"``, ``"INT"``) are accepted where the original wanted JSON types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.errors import ConfigError, MessageError

# circus.config (its package imports the whole model and schema: ~20 ms of CPU) is imported by
# the functions that convert, not here: circusctl imports this module through the commands at
# every start, and most of its commands never convert an option.


def to_bool(value: Any) -> bool:
    """A boolean from ``true``/``false``/``1``/``0``/... (circus.config.converters)."""
    from circus.config import converters

    return converters.to_bool(value)


def to_signum(value: Any) -> int:
    """A signal number from a name (``TERM``, ``SIGTERM``) or a number."""
    from circus.config import converters

    return converters.to_signum(value)


def to_int(value: Any) -> int:
    """An integer from an int or its text."""
    from circus.config import converters

    return converters.to_int(value)


def to_number(value: Any) -> float:
    """Seconds as a float (``0.5``, ``"2"``, ``"500ms"``); >= 0."""
    from circus.config import converters

    return converters.to_duration(value)


def to_args(value: Any) -> str | list[str] | None:
    """``args`` of ``add``: a string, a list of strings, or nothing."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError(f"expected a string or a list of strings, got {value!r}")


def validate_option(key: Any, value: Any) -> Any:
    """Check one ``add``/``set`` option received on the wire; return the value to pass on."""
    if not isinstance(key, str):
        raise MessageError(f"option names must be strings, got {key!r}")
    from circus.config.schema import convert_watcher_option

    try:
        convert_watcher_option(key, value)
    except ConfigError as exc:
        raise MessageError(f"option {exc}") from None
    return value


def validate_options(options: Any) -> dict[str, Any]:
    """Validate a whole ``options`` object (every key); all problems are reported at once."""
    if not isinstance(options, Mapping):
        raise MessageError(f"'options' property should be an object, got {options!r}")
    problems = []
    for key, value in options.items():
        try:
            validate_option(key, value)
        except MessageError as exc:
            problems.append(str(exc))
    if problems:
        raise MessageError("; ".join(problems))
    return dict(options)


def convert_cli_option(key: str, text: str) -> Any:
    """The JSON value to send for ``circusctl set NAME KEY TEXT``; ValueError naming the key."""
    if key in ("stdout_stream", "stderr_stream"):
        raise ValueError(f"option {key!r}: set one key at a time, e.g. {key}.class FileStream")
    if key == "hooks":
        return parse_hooks_text(text)
    from circus.config.model import thaw
    from circus.config.schema import convert_watcher_option

    try:
        value = convert_watcher_option(key, text)
    except ConfigError as exc:
        raise ValueError(f"option {exc}") from None
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a HookSpec: keep the text
        return text
    return thaw(value)


def parse_hooks_text(text: str) -> dict[str, str]:
    """``before_start:mod.fn,after_stop:mod.fn2`` -> ``{"before_start": "mod.fn", ...}``."""
    from circus.config.schema import HOOK_NAMES

    hooks: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, path = item.partition(":")
        if not sep or name.strip() not in HOOK_NAMES:
            raise ValueError(
                f"option 'hooks': expected HOOK:dotted.path with HOOK one of "
                f"{', '.join(HOOK_NAMES)}, got {item!r}"
            )
        hooks[name.strip()] = path.strip()
    return hooks


def env_to_text(env: Mapping[str, Any] | None) -> str:
    """The console form of an env mapping: ``K=V,K2=V2`` sorted by name."""
    if not env:
        return ""
    return ",".join(f"{key}={value}" for key, value in sorted(env.items()))


def option_to_text(key: str, value: Any) -> str:
    """How circusctl prints an option value (``options``, ``get``, ``globaloptions``)."""
    if key == "env" and (value is None or isinstance(value, Mapping)):
        return env_to_text(value)
    return "" if value is None else str(value)
