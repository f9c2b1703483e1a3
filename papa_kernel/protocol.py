"""Line grammar of the papa protocol: tokens, command words, options, name patterns, values.

Grammar (a superset of papa 1.0.6, see docs/kernel-protocol.md):

- A line is decoded as UTF-8 (invalid bytes become U+FFFD) and stripped of its line ending.
- Arguments are separated by spaces; a backslash before a space makes that space part of the
  argument (``a\\ b`` is one argument ``a b``). Any other backslash is literal. Empty arguments
  vanish. Quotes are literal, except that one pair of double quotes around a whole option value
  is removed (the original client uses it to protect a value ending in a backslash).
- Command words match case-insensitively by prefix (``l p`` = ``list processes``); the first
  word in alphabetical order wins, so ``s`` is ``set``. ``exit-if-idle`` must be spelt out.
  The words are those of :mod:`papa_kernel.command_table`.
- Options are leading ``key=value`` arguments after the name; the first argument without ``=``
  ends them.
- Name patterns are exact names or ``prefix*``; no pattern means every name.
"""

from __future__ import annotations

import functools
import signal
import time
from collections.abc import Collection, Sequence

# The command words are the command table's; the resolver is re-exported as part of the grammar.
from papa_kernel.command_table import resolve_command as resolve_command
from papa_kernel.errors import CommandError, NotFoundError

GREETING = b'Papa is home. Type "help" for commands.\n> '  # what papa 1.0.6 clients wait for
PROMPT = b"\n> "  # ends every command reply; clients read until they see it
BATCH_END = b"] "  # ends a watch batch; the client acknowledges it with any line
MAX_LINE = 64 * 1024  # longest accepted command line in bytes
MAX_DIGITS = 40  # longer numbers are refused before int() (no number option needs more)
SHOWN_VALUE_CHARS = 40  # error messages quote at most this much of a bad value

SIZE_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def tokenize(line: str) -> list[str]:
    """Split a command line into arguments (``\\ `` escapes a space; see the module doc).

    Works on ``str.split`` pieces rather than characters: lines of circusd carry long
    environments, and this runs for every command.
    """
    parts = line.split(" ")
    if "\\ " not in line:
        return [part for part in parts if part]
    args: list[str] = []
    pending: str | None = None  # an argument whose last space was escaped
    last = len(parts) - 1
    for index, part in enumerate(parts):
        if pending is not None:
            part = pending + part
            pending = None
        if index < last and part.endswith("\\"):
            pending = part[:-1] + " "  # the backslash escaped the space that split here
        elif part:
            args.append(part)
    return args


def decode_line(raw: bytes) -> str:
    """Decode one received line (without its ``\\n``) and drop the line ending and padding."""
    return raw.decode("utf-8", errors="replace").strip("\r\n\t ")


def split_options(args: list[str]) -> tuple[dict[str, str], list[str]]:
    """Consume leading ``key=value`` arguments; return (options, remaining arguments).

    A value wrapped in one pair of double quotes loses them. A repeated key is an error.
    """
    options: dict[str, str] = {}
    index = 0
    for index, arg in enumerate(args):  # noqa: B007 - index is used after the loop
        key, sep, value = arg.partition("=")
        if not sep:
            break
        if not key:
            raise CommandError(f'Option "{arg}" has no name before "="')
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if key in options:
            raise CommandError(f'Option "{key}" given twice')
        options[key] = value
    else:
        index = len(args)
    return options, args[index:]


def require_value(key: str, value: str) -> str:
    """Refuse an empty option value, naming the option."""
    if value == "":
        raise CommandError(f'Option "{key}" needs a value')
    return value


def show_value(value: str) -> str:
    """An option value for an error message: an absurdly long one is cut, not echoed whole."""
    return value if len(value) <= SHOWN_VALUE_CHARS else value[:SHOWN_VALUE_CHARS] + "..."


def is_decimal(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts ``²``, which ``int()`` refuses)."""
    return text.isascii() and text.isdigit()


def parse_size(key: str, value: str, maximum: int | None = None) -> int:
    """``1024``, ``64k``, ``2m``, ``1g`` (1024-based) to bytes, at most ``maximum``."""
    text = require_value(key, value).strip().lower()
    multiplier = 1
    if text and text[-1] in SIZE_UNITS:
        multiplier = SIZE_UNITS[text[-1]]
        text = text[:-1]
    if not is_decimal(text) or len(text) > MAX_DIGITS:
        raise CommandError(
            f'Option "{key}" must be a size like 4096, 64k or 2m, not "{show_value(value)}"'
        )
    size = int(text) * multiplier
    if maximum is not None and size > maximum:
        raise CommandError(
            f'Option "{key}" must be at most {format_size(maximum)}, not "{show_value(value)}"'
        )
    return size


def format_size(size: int) -> str:
    """The shortest exact spelling of ``size`` with a 1024-based unit (``1g``, ``64k``)."""
    for unit, multiplier in sorted(SIZE_UNITS.items(), key=lambda item: -item[1]):
        if size and size % multiplier == 0:
            return f"{size // multiplier}{unit}"
    return str(size)


def parse_bool(key: str, value: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off``."""
    lowered = require_value(key, value).lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise CommandError(f'Option "{key}" must be 1 or 0 (true/false), not "{value}"')


def parse_int(key: str, value: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """A decimal integer (ASCII digits, optional sign), bounded by ``minimum``/``maximum``."""
    text = require_value(key, value)
    digits = text[1:] if text[:1] in "+-" else text
    if not is_decimal(digits) or len(digits) > MAX_DIGITS:
        raise CommandError(f'Option "{key}" must be an integer, not "{show_value(value)}"')
    number = int(text)
    too_low = minimum is not None and number < minimum
    too_high = maximum is not None and number > maximum
    if (too_low or too_high) and minimum is not None and maximum is not None:
        raise CommandError(
            f'Option "{key}" must be between {minimum} and {maximum}, not {show_value(text)}'
        )
    if too_low:
        raise CommandError(f'Option "{key}" must be at least {minimum}, not {number}')
    if too_high:
        raise CommandError(f'Option "{key}" must be at most {maximum}, not {show_value(text)}')
    return number


def parse_octal(key: str, value: str) -> int:
    """An octal mode such as ``022`` or ``0o022``."""
    text = require_value(key, value).lower().removeprefix("0o")
    try:
        number = int(text, 8)
    except ValueError:
        raise CommandError(
            f'Option "{key}" must be an octal number like 022, not "{show_value(value)}"'
        ) from None
    if not 0 <= number <= 0o777:
        raise CommandError(f'Option "{key}" must be between 000 and 777, not "{show_value(value)}"')
    return number


def addressable(name: str) -> bool:
    """True for a process or socket name that the grammar can address (no space, ":", "*")."""
    return not (":" in name or "*" in name or " " in name)


def check_name(name: str) -> None:
    """Refuse a process or socket name that the grammar could not address."""
    if not addressable(name):
        raise CommandError(f'Name "{name}" must not contain spaces, ":" or "*"')


def is_pattern(name: str) -> bool:
    """True for ``prefix*`` patterns (the only wildcard is a trailing ``*``)."""
    return name.endswith("*")


def select_names(
    patterns: Sequence[str], names: Collection[str], strict: bool, what: str = ""
) -> list[str]:
    """Names matching any pattern, sorted; no patterns selects every name.

    With ``strict``, an exact name that does not exist raises NotFoundError. Exact names are
    looked up (``names`` is usually a dict), so a command on one process of 10,000 does not
    sort all their names; only a ``prefix*`` pattern goes through every name.
    """
    if not patterns:
        return sorted(names)
    chosen: set[str] = set()
    available: list[str] | None = None
    for pattern in patterns:
        if is_pattern(pattern):
            prefix = pattern[:-1]
            if available is None:
                available = list(names)
            chosen.update(name for name in available if name.startswith(prefix))
        elif pattern in names:
            chosen.add(pattern)
        elif strict:
            raise NotFoundError(f"{what}{pattern} not found")
    return sorted(chosen)


def matches_any(name: str, patterns: Sequence[str]) -> bool:
    """True if ``name`` matches one of ``patterns`` (no patterns matches everything)."""
    if not patterns:
        return True
    for pattern in patterns:
        if (is_pattern(pattern) and name.startswith(pattern[:-1])) or pattern == name:
            return True
    return False


def format_time(timestamp: float) -> str:
    """Timestamps go on the wire as Python float reprs (what papa 1.0.6 sent)."""
    return repr(timestamp)


def now() -> float:
    """Wall-clock time for records (epoch seconds)."""
    return time.time()


@functools.cache
def _signal_numbers() -> frozenset[int]:
    """The signal numbers of this system, listed once: :func:`signal.valid_signals` makes a
    :class:`signal.Signals` member of each of its ~64 numbers at every call (~80 us of CPU),
    and stopping N processes sends N signals by number."""
    return frozenset(map(int, signal.valid_signals()))


def parse_signal(text: str) -> int:
    """``TERM``, ``SIGTERM``, ``term`` or ``15`` -> 15."""
    if is_decimal(text):
        number = int(text) if len(text) <= MAX_DIGITS else -1
        if number not in _signal_numbers():
            raise CommandError(f'Unknown signal number "{show_value(text)}"')
        return number
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    member = getattr(signal.Signals, name, None) if name.isidentifier() else None
    if member is None:
        raise NotFoundError(f'Unknown signal "{show_value(text)}"')
    return int(member)
