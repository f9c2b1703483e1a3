"""The command table: the one registry of kernel commands, their words and their help.

Each command is declared once, beside its handler, with :func:`command`::

    @command("list values", usage="list values [NAME|PREFIX*...]", brief=True,
             details="One line per value: NAME VALUE")
    def list_values_command(session, args): ...

Everything else is derived from the table: the command words and their abbreviations
(:func:`resolve_command`), the ``help`` overview and the ``help COMMAND`` topics. Word
resolution (docs/kernel-protocol.md): words match case-insensitively by prefix and the first
word in alphabetical order wins (``s`` is ``set``, not ``signal``); a command declared
``abbreviable=False`` must have its first word spelt out.

Handlers register when their module is imported; :mod:`papa_kernel.connection` imports the
handler modules (``commands``, ``process_commands``) so a running kernel has them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from papa_kernel.errors import CommandError
from papa_kernel.typenames import TYPE_CHECKING

# A handler gets the session (a papa_kernel.commands.Session) and the arguments after the
# command words; it returns the reply body, or None when it wrote its own reply. The table
# does not name the session type: it sits below the kernel, and the grammar imports it.
if TYPE_CHECKING:
    from papa_kernel.typenames import Any, TypeVar

    Handler = Callable[[Any, list[str]], "str | None"]
    HandlerT = TypeVar("HandlerT", bound=Handler)

OVERVIEW_HEAD = (
    'papa-kernel commands (every word may be shortened to its first letters, e.g. "l p"):'
)
OVERVIEW_TAIL = 'Type "help make process" (or "h m p") for the details of one command.'
USAGE_COLUMN = 37  # overview: summaries start in this column (after two spaces of indent)
OVERVIEW_WIDTH = 96  # brief commands share overview lines up to this width
NOT_ABBREVIABLE = " (not abbreviable)"


class Command:
    """One kernel command: its canonical words, handler and help.

    A plain class, not a dataclass: building a dataclass costs the kernel's start-up ~0.4 ms.
    """

    __slots__ = ("abbreviable", "brief", "details", "handler", "name", "summary", "usage")

    def __init__(
        self,
        name: str,
        handler: Handler,
        usage: str,
        summary: str,
        details: str,
        abbreviable: bool,
        brief: bool,
    ) -> None:
        self.name = name  # canonical words, e.g. "list processes"
        self.handler = handler
        self.usage = usage  # synopsis: the first line of its help
        self.summary = summary  # one line for the overview ("" for brief commands)
        self.details = details  # the rest of ``help NAME``
        self.abbreviable = abbreviable  # False: the first word must be typed in full
        self.brief = brief  # shown in the overview's compact trailing lines, usage only

    @property
    def heading(self) -> str:
        """The usage, marked when the command may not be abbreviated."""
        return self.usage if self.abbreviable else self.usage + NOT_ABBREVIABLE

    @property
    def topic(self) -> str:
        """The text of ``help NAME``."""
        head = self.heading
        return f"{head}\n{self.details}" if self.details else head


COMMANDS: dict[str, Command] = {}  # canonical name -> command, in registration order
_words: tuple[tuple[str, ...], dict[str, tuple[str, ...]]] | None = None  # derived, cached


def command(
    name: str,
    *,
    usage: str,
    summary: str = "",
    details: str = "",
    abbreviable: bool = True,
    brief: bool = False,
) -> Callable[[HandlerT], HandlerT]:
    """Declare a command: register ``handler`` under ``name`` with its help."""

    def register(handler: HandlerT) -> HandlerT:
        global _words
        if name in COMMANDS:
            raise ValueError(f"kernel command {name!r} is declared twice")
        COMMANDS[name] = Command(name, handler, usage, summary, details, abbreviable, brief)
        _words = None
        return handler

    return register


def words() -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """(first words, {first word: second words}), each in alphabetical order."""
    global _words
    if _words is None:
        firsts: set[str] = set()
        seconds: dict[str, set[str]] = {}
        for name in COMMANDS:
            top, _, second = name.partition(" ")
            firsts.add(top)
            if second:
                seconds.setdefault(top, set()).add(second)
        _words = tuple(sorted(firsts)), {top: tuple(sorted(s)) for top, s in seconds.items()}
    return _words


def _match_word(word: str, choices: Sequence[str]) -> str | None:
    lowered = word.lower()
    for choice in choices:
        if choice.startswith(lowered):
            return choice
    return None


def _abbreviable(top: str) -> bool:
    return all(cmd.abbreviable for cmd in COMMANDS.values() if cmd.name.split(" ")[0] == top)


def resolve_command(args: list[str]) -> tuple[str, list[str]]:
    """Map the leading words of ``args`` to a canonical command name and its arguments.

    Returns e.g. ``("list processes", ["web.*"])``. Raises CommandError for unknown words.
    """
    tops, second_words = words()
    first = args[0]
    top = _match_word(first, tops)
    if top is None:
        raise CommandError(f'Unknown command "{first}" (type "help" for the list)')
    if first.lower() != top and not _abbreviable(top):
        raise CommandError(f'"{top}" cannot be abbreviated; type it in full')
    seconds = second_words.get(top)
    if seconds is None:
        return top, args[1:]
    if len(args) < 2:
        raise CommandError(f'"{top}" must be followed by one of: {", ".join(seconds)}')
    second = _match_word(args[1], seconds)
    if second is None:
        raise CommandError(f'Bad "{top}" command: "{args[1]}" is not one of: {", ".join(seconds)}')
    return f"{top} {second}", args[2:]


def execute(session: object, args: list[str]) -> str | None:
    """Resolve the command words of ``args`` and run the handler."""
    name, rest = resolve_command(args)
    return COMMANDS[name].handler(session, rest)


def help_text(args: list[str]) -> str:
    """``help [COMMAND]``: the overview, or the topic of one command."""
    if not args:
        return overview()
    tops, second_words = words()
    top = _match_word(args[0], tops)
    seconds = second_words.get(top or "")
    if top is not None and seconds and len(args) == 1:
        return (
            f'"{top}" is followed by one of: {", ".join(seconds)} (e.g. "help {top} {seconds[0]}")'
        )
    try:
        name, _rest = resolve_command(args[:2] if seconds else args[:1])
    except CommandError:
        raise CommandError(f'No help for "{" ".join(args)}"; type "help" for the list') from None
    return COMMANDS[name].topic


def overview() -> str:
    """One line (or two) per command, brief commands packed together at the end."""
    lines = [OVERVIEW_HEAD]
    for cmd in COMMANDS.values():
        if cmd.brief:
            continue
        usage = cmd.heading
        if len(usage) < USAGE_COLUMN:
            lines.append(f"  {usage:<{USAGE_COLUMN}}{cmd.summary}".rstrip())
        else:
            lines.append(f"  {usage}")
            lines.append(" " * (USAGE_COLUMN + 2) + cmd.summary)
    packed = "  "
    for cmd in COMMANDS.values():
        if not cmd.brief:
            continue
        usage = cmd.heading
        if len(packed) > 2 and len(packed) + 4 + len(usage) > OVERVIEW_WIDTH:
            lines.append(packed)
            packed = "  "
        packed += ("    " if len(packed) > 2 else "") + usage
    if len(packed) > 2:
        lines.append(packed)
    lines.append(OVERVIEW_TAIL)
    return "\n".join(lines)
