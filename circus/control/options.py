"""Watcher option values for the ``add`` and ``set`` commands: validation and conversion.

Two directions:

* :func:`validate_option` checks a value received on the wire (JSON) and returns it converted to
  what the arbiter expects (``stop_signal`` becomes an int, ``"3"`` for ``numprocesses`` becomes
  3...). A bad key or value raises :class:`MessageError` naming the key, the value and what was
  expected (``'numprocesses' must be an integer, got 'x'``).
* :func:`convert_cli_option` turns the text typed after ``circusctl set NAME KEY VALUE`` into the
  JSON value to send (``env`` as ``K=V,K2=V2``, ``hooks`` as ``name:path,name2:path2``).

This is a stop-gap until ``circus.config`` lands its watcher option schema and pure converters:
the functions here are the only ones the commands call, so switching is local to this module.
"""

from __future__ import annotations

import difflib
import re
import signal
from collections.abc import Callable, Mapping
from typing import Any

from circus.errors import MessageError

HOOK_NAMES = (
    "before_start",
    "after_start",
    "before_stop",
    "after_stop",
    "before_spawn",
    "after_spawn",
    "before_signal",
    "after_signal",
    "before_reap",
    "after_reap",
    "extended_stats",
)
TRUE_WORDS = frozenset({"1", "yes", "true", "on", "y"})
FALSE_WORDS = frozenset({"0", "no", "false", "off", "n"})
_SIGNAL_RE = re.compile(r"^(?:SIG)?([A-Z0-9]+?)(?:\+(\d+))?$")


# --- pure converters (same contract as circus.config's, to be replaced by them) ------------------


def to_bool(value: Any) -> bool:
    """``true/false/yes/no/on/off/1/0`` (any case) or a JSON boolean; ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(f"expected a boolean (true/false), got {value!r}")


def to_signum(value: Any) -> int:
    """A signal number from ``15``, ``"15"``, ``"TERM"``, ``"sigterm"``, ``"SIGRTMIN+1"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a signal name or number, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    elif isinstance(value, str):
        match = _SIGNAL_RE.match(value.strip().upper())
        base = getattr(signal, f"SIG{match.group(1)}", None) if match else None
        if not isinstance(base, int):
            raise ValueError(f"unknown signal {value!r}")
        number = int(base) + int(match.group(2) or 0)
    else:
        raise ValueError(f"expected a signal name or number, got {value!r}")
    if not 0 < number < signal.NSIG:
        raise ValueError(f"signal number out of range: {value!r}")
    return number


def to_int(value: Any) -> int:
    """An int from a JSON integer or a decimal string (not a bool, not 1.5)."""
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected an integer, got {value!r}")


def to_number(value: Any) -> float:
    """A float from a JSON number or a numeric string."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a number, got {value!r}")


# --- option kinds ---------------------------------------------------------------------------------


def _non_negative(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        result = convert(value)
        if result < 0:
            raise ValueError(f"expected a value >= 0, got {value!r}")
        return result

    return check


def _max_retry(value: Any) -> int:
    result = to_int(value)
    if result < -1:
        raise ValueError(f"expected -1 (infinite) or a value >= 0, got {value!r}")
    return result


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _int_or_string(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected a user/group name or id, got {value!r}")
    return value


def _args(value: Any) -> str | list[str] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError(f"expected a string or a list of strings, got {value!r}")


def _env(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object of strings, got {value!r}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise ValueError(f"value of {key!r} must be a string, got {item!r}")
    return dict(value)


def _stream(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object with a 'class' key, got {value!r}")
    if "class" not in value:
        raise ValueError("the stream object needs a 'class' key")
    return dict(value)


def _hooks(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object of hook name -> dotted path, got {value!r}")
    for name, path in value.items():
        if name not in HOOK_NAMES:
            raise ValueError(f"unknown hook {name!r} (known: {', '.join(HOOK_NAMES)})")
        if not isinstance(path, str):
            raise ValueError(f"hook {name!r} must be a dotted path string, got {path!r}")
    return dict(value)


def _rlimit(value: Any) -> int | None:
    if value is None or value == "":
        return None  # infinity
    return to_int(value)


def _umask(value: Any) -> int:
    if isinstance(value, str):
        try:
            return int(value.strip(), 8)
        except ValueError:
            raise ValueError(f"expected an octal umask like '022', got {value!r}") from None
    return to_int(value)


def _free_value(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    raise ValueError(f"expected a string, number or boolean, got {value!r}")


_BOOL = to_bool
OPTION_KINDS: dict[str, Callable[[Any], Any]] = {
    "numprocesses": _non_negative(to_int),
    "warmup_delay": _non_negative(to_number),
    "working_dir": _string,
    "uid": _int_or_string,
    "gid": _int_or_string,
    "send_hup": _BOOL,
    "stop_signal": to_signum,
    "stop_children": _BOOL,
    "shell": _BOOL,
    "shell_args": _string,
    "env": _env,
    "cmd": _string,
    "args": _args,
    "executable": _string,
    "copy_env": _BOOL,
    "copy_path": _BOOL,
    "retry_in": _non_negative(to_number),
    "max_retry": _max_retry,
    "graceful_timeout": _non_negative(to_number),
    "stdout_stream": _stream,
    "stderr_stream": _stream,
    "max_age": _non_negative(to_number),
    "max_age_variance": _non_negative(to_number),
    "respawn": _BOOL,
    "singleton": _BOOL,
    "hooks": _hooks,
    "close_child_stdin": _BOOL,
    "close_child_stdout": _BOOL,
    "close_child_stderr": _BOOL,
    # accepted here, rejected by the original's validate_option ("unknown key"):
    "priority": to_int,
    "autostart": _BOOL,
    "use_sockets": _BOOL,
    "on_demand": _BOOL,
    "use_papa": _BOOL,
    "virtualenv": _string,
    "virtualenv_py_ver": _string,
    "umask": _umask,
}
_STREAM_INT_KEYS = ("max_bytes", "backup_count")


def known_keys() -> list[str]:
    """Every exact option key (prefixed families ``stdout_stream.*``, ``hooks.*``,
    ``rlimit_*``, ``flapping.*`` come on top)."""
    return sorted(OPTION_KINDS)


def validate_option(key: Any, value: Any) -> Any:
    """Check one ``add``/``set`` option received on the wire; return the converted value."""
    if not isinstance(key, str):
        raise MessageError(f"option names must be strings, got {key!r}")
    try:
        return _converter(key)(value)
    except ValueError as exc:
        raise MessageError(f"option {key!r}: {exc}") from None


def validate_options(options: Any) -> dict[str, Any]:
    """Validate a whole ``options`` object (every key), returning a converted copy."""
    if not isinstance(options, Mapping):
        raise MessageError(f"'options' property should be an object, got {options!r}")
    return {key: validate_option(key, value) for key, value in options.items()}


def _converter(key: str) -> Callable[[Any], Any]:
    if key in OPTION_KINDS:
        return OPTION_KINDS[key]
    if key.startswith(("stdout_stream.", "stderr_stream.")):
        sub = key.split(".", 1)[1]
        return to_int if sub in _STREAM_INT_KEYS else _free_value
    if key.startswith("hooks."):
        if key[6:] not in HOOK_NAMES:
            raise ValueError(f"unknown hook {key[6:]!r} (known: {', '.join(HOOK_NAMES)})")
        return _string
    if key.startswith("rlimit_"):
        import resource

        if not isinstance(getattr(resource, "RLIMIT_" + key[7:].upper(), None), int):
            raise ValueError("not a resource limit of this system")
        return _rlimit
    if key.startswith("flapping."):
        return _free_value
    raise MessageError(_unknown_key(key))


def _unknown_key(key: str) -> str:
    close = difflib.get_close_matches(key, OPTION_KINDS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}"


def convert_cli_option(key: str, text: str) -> Any:
    """Turn a value typed on the circusctl command line into the JSON value to send.

    Raises ValueError with a message naming the key when the text cannot be converted.
    """
    if key == "env":
        return parse_env_text(text)
    if key == "hooks":
        return parse_hooks_text(text)
    if key in ("stdout_stream", "stderr_stream"):
        raise ValueError(f"set {key}.<name> one key at a time, e.g. {key}.class FileStream")
    try:
        converter = _converter(key)  # MessageError for an unknown key
        if converter in (_string, _args, _free_value, _int_or_string):
            return text
        return converter(text)
    except ValueError as exc:
        raise ValueError(f"option {key!r}: {exc}") from None


def parse_env_text(text: str) -> dict[str, str]:
    """``K=V,K2=V2`` -> ``{"K": "V", "K2": "V2"}`` (empty text -> ``{}``)."""
    env: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"option 'env': expected NAME=VALUE, got {item!r}")
        env[name.strip()] = value.strip()
    return env


def parse_hooks_text(text: str) -> dict[str, str]:
    """``before_start:mod.fn,after_stop:mod.fn2`` -> ``{"before_start": "mod.fn", ...}``."""
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
