"""Small pure converters from configuration text (or JSON values) to typed values.

Every converter accepts either the text found in an INI file or an already-typed value (what a
JSON control message or the dict form of ``get_arbiter()`` carries), and returns the typed value.
On bad input it raises :class:`ValueError` whose message says what was expected and what was
found, e.g. ``expected a boolean (true/false, yes/no, on/off, 1/0), got 'maybe'``. Callers add the
*where* (file, line, section, key): see :mod:`circus.config.schema`.

These are shared by the configuration loader and by the control commands (``add``, ``set``) so a
value is accepted or refused the same way wherever it comes from.
"""

from __future__ import annotations

import math
import re
import resource  # circus runs on Unix only (as fcntl, pidfds and signals in the core do)
import signal
from collections.abc import Mapping

from circus.config import shellwords

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
INFINITY_WORDS = frozenset({"", "unlimited", "infinity", "inf", "-1"})

#: Unit suffixes of sizes: powers of 1024, as ``ulimit`` and papa's ``bufsize=2m`` use them.
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
#: Unit suffixes of durations, in seconds.
DURATION_UNITS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

# Compiled on first use (re's cache), like the patterns matched inline below: compiling all
# of them at import cost ~1 ms at every circusd start, for values most configurations lack.
_SIZE_RE = r"(?i)^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$"
_DURATION_RE = r"(?i)^\s*(-?\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$"
_SIGNAL_RE = r"^(?P<name>[A-Za-z][A-Za-z0-9]*)(?:\+(?P<offset>\d+))?$"
_DOTTED_RE = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?$"

MAX_SIGNAL = signal.NSIG - 1
#: The longest text an option may have: 128 KiB, Linux's limit on one argument or environment
#: string (MAX_ARG_STRLEN), so a longer value could never reach a program anyway.
MAX_TEXT_LENGTH = 128 * 1024


def show(value: object) -> str:
    """How a found value is quoted in messages (shortened when very long)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _expect(what: str, value: object) -> ValueError:
    return ValueError(f"expected {what}, got {show(value)}")


def to_str(value: object) -> str:
    """Text as is, at most :data:`MAX_TEXT_LENGTH` characters. Numbers are accepted and turned
    into text; other types are refused."""
    if isinstance(value, str):
        return check_length(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise _expect("a string", value)


def check_length(text: str) -> str:
    """``text`` if it is not longer than :data:`MAX_TEXT_LENGTH`, else ValueError."""
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(
            f"the value is {len(text)} characters long: the limit of an option is "
            f"{MAX_TEXT_LENGTH} characters"
        )
    return text


def to_optional_str(value: object) -> str | None:
    """Text, or None for None and for an empty/blank value ("not set")."""
    if value is None:
        return None
    text = to_str(value).strip()
    return text or None


def to_bool(value: object) -> bool:
    """A boolean: true/false, yes/no, on/off, 1/0 (any case, spaces ignored), or a JSON bool."""
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
    raise _expect("a boolean (true/false, yes/no, on/off, 1/0)", value)


def to_int(value: object, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number, optionally bounded (inclusive)."""
    number: int
    if isinstance(value, bool):
        raise _expect("an integer", value)
    if isinstance(value, int):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,18}\s*", value)
    ):
        number = int(value)
    else:
        raise _expect("an integer", value)
    _check_bounds(number, minimum, maximum, value)
    return number


def _check_bounds(
    number: float, minimum: float | None, maximum: float | None, value: object
) -> None:
    if minimum is not None and number < minimum:
        raise _expect(f"a number >= {minimum}", value)
    if maximum is not None and number > maximum:
        raise _expect(f"a number <= {maximum}", value)


def to_duration(value: object, minimum: float = 0.0) -> float:
    """A duration in seconds, as a float: ``30``, ``2.5``, or with a unit ``500ms``, ``30s``,
    ``5m``, ``1h``, ``1d``. Must be finite and at least ``minimum``."""
    seconds: float
    if isinstance(value, bool):
        raise _expect("a duration in seconds", value)
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := re.match(_DURATION_RE, value)):
        seconds = float(match.group(1)) * DURATION_UNITS[(match.group(2) or "").lower()]
    else:
        raise _expect("a duration in seconds (e.g. 30, 2.5, 500ms, 5m)", value)
    if not math.isfinite(seconds):
        raise _expect("a finite duration", value)
    _check_bounds(seconds, minimum, None, value)
    return seconds


def to_size(value: object) -> int:
    """A size in bytes: ``1073741824``, or with a binary unit ``512k``, ``10M``, ``1GiB``, ``2mb``
    (k/m/g/t are powers of 1024)."""
    if isinstance(value, bool):
        raise _expect("a size in bytes", value)
    if isinstance(value, int):
        if value < 0:
            raise _expect("a size >= 0", value)
        return value
    if isinstance(value, str) and (match := re.match(_SIZE_RE, value)):
        size = float(match.group(1)) * SIZE_UNITS[match.group(2).lower()]
        if size >= 2**63:
            raise _expect("a size below 8 EiB", value)
        return int(size)
    raise _expect("a size in bytes (e.g. 1048576, 512k, 10M, 1G)", value)


def to_signum(value: object) -> int:
    """A signal number from ``15``, ``'15'``, ``'TERM'``, ``'sigterm'``, ``'SIGTERM'``,
    ``'quit'`` or ``'SIGRTMIN+1'`` (names are case-insensitive, ``SIG`` is optional)."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            number = int(text[:6])
        elif match := re.match(_SIGNAL_RE, text):
            name = match.group("name").upper()
            if not name.startswith("SIG"):
                name = "SIG" + name
            member = signal.Signals.__members__.get(name)
            if member is not None:
                number = int(member) + int(match.group("offset") or 0)
    if number is None or not 1 <= number <= MAX_SIGNAL:
        raise _expect(f"a signal name (TERM, SIGQUIT, int...) or number 1-{MAX_SIGNAL}", value)
    return number


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15; ``SIGRTMIN+1`` style for real-time signals; the number otherwise."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        rtmin = getattr(signal, "SIGRTMIN", None)
        if rtmin is not None and signum > rtmin:
            return f"SIGRTMIN+{signum - rtmin}"
        return str(signum)


def to_octal(value: object, maximum: int = 0o777) -> int:
    """An octal mode such as a umask: ``'002'``, ``'0o22'``, ``'22'`` (octal digits) or an int."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = value.strip().lower().removeprefix("0o")
        if re.fullmatch(r"[0-7]{1,4}", text):
            number = int(text, 8)
    if number is None or not 0 <= number <= maximum:
        raise _expect(f"an octal number between 000 and {maximum:03o} (e.g. 022)", value)
    return number


def rlimit_names() -> list[str]:
    """The resource limit names this platform knows, lower-case (``nofile``, ``nproc``...)."""
    return sorted(n[7:].lower() for n in dir(resource) if n.startswith("RLIMIT_"))


def to_rlimit_name(name: str) -> str:
    """Validate the ``LIMIT`` of ``rlimit_LIMIT`` (any case) and return it lower-cased."""
    lowered = name.strip().lower()
    if lowered not in rlimit_names():
        raise ValueError(f"unknown resource limit {name!r} (known: {', '.join(rlimit_names())})")
    return lowered


def to_rlimit(value: object) -> int | None:
    """A resource limit value; ``None`` means unlimited (RLIM_INFINITY). Empty, ``unlimited``,
    ``infinity`` and ``-1`` are unlimited; sizes may carry a unit (``rlimit_as = 2G``)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value == -1:
        return None
    if isinstance(value, str) and value.strip().lower() in INFINITY_WORDS:
        return None
    try:
        return to_size(value)
    except ValueError:
        raise _expect(
            "a limit (a number, a size such as 64M, or empty for unlimited)", value
        ) from None


def to_id(value: object) -> int | str | None:
    """A user or group: a name, or a number (returned as int). Empty means "not set". Whether
    the user exists is checked on the machine that spawns, not here."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise _expect("a user/group name or id >= 0", value)
        return value
    text = to_str(value).strip()
    if not text:
        return None
    if text.isdigit():
        return int(text[:10])
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.@-]*\$?", text):
        raise _expect("a user/group name or numeric id", value)
    return text


def to_args(value: object) -> str | tuple[str, ...]:
    """Command arguments: a string (split like a shell would, after substitution) or a list of
    strings (used as is). A string whose quotes do not balance is refused now, not at spawn."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return tuple(to_str(item) for item in value)
    text = to_str(value)
    check_shell_words(text)
    return text


def to_optional_args(value: object) -> str | tuple[str, ...] | None:
    """Like :func:`to_args` but ``None``/empty means "not set"."""
    args = to_args(value)
    return args if args else None


def check_shell_words(text: str) -> list[str]:
    """Split ``text`` like a POSIX shell; raise ValueError naming the problem (e.g. a quote)."""
    try:
        return shellwords.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot split {show(text)} into words: {exc}") from None


def to_dotted_name(value: object) -> str:
    """A Python dotted name such as ``mypackage.module.function`` (``module:attr`` also works)."""
    text = to_str(value).strip()
    if not re.match(_DOTTED_RE, text):
        raise _expect("a dotted Python name such as 'package.module.callable'", value)
    return text


def to_env(value: object) -> dict[str, str]:
    """An environment mapping: a JSON object of strings, or the circusctl form ``K=V,K2=V2``."""
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, str):
        items = []
        for part in filter(None, (p.strip() for p in value.split(","))):
            if "=" not in part:
                raise _expect("K=V pairs separated by commas", value)
            name, _, val = part.partition("=")
            items.append((name, val))
    else:
        raise _expect("an object of environment variables", value)
    env: dict[str, str] = {}
    for name, val in items:
        if not isinstance(name, str) or not isinstance(val, str):
            raise ValueError(
                f"environment variable {show(name)}: expected a string, got {show(val)}"
            )
        check_env_name(name.strip())
        if "\x00" in val:
            raise ValueError(f"environment variable {name.strip()!r} contains a NUL character")
        check_length(val)
        env[name.strip()] = val.strip()
    return env


def check_env_name(name: str) -> str:
    """An environment variable name: not empty, no ``=``, no NUL, no whitespace."""
    if not name or "=" in name or "\x00" in name or any(c.isspace() for c in name):
        raise ValueError(f"invalid environment variable name {show(name)}")
    return name


def to_choice(value: object, choices: Mapping[str, str], what: str) -> str:
    """One of ``choices`` (keys are accepted spellings, lower-case; values are canonical)."""
    if isinstance(value, str):
        canonical = choices.get(value.strip().lower())
        if canonical is not None:
            return canonical
    known = ", ".join(sorted(set(choices.values())))
    raise _expect(f"{what} ({known})", value)


def to_port(value: object) -> int:
    """A TCP/UDP port 0-65535 (0: the OS picks one)."""
    return to_int(value, 0, 65535)
