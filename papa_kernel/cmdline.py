"""A command line read from a table of :class:`Option` without :mod:`argparse` when it is
plain (:func:`parse_plain`), and the argparse parser of the same table for anything else
(:func:`add_options`): papa-kernel's (:mod:`papa_kernel.options`) and circusd's. argparse,
with gettext, is ~0.35 MB of a daemon's memory for a dozen words read once at start-up.
"""

from __future__ import annotations

from papa_kernel.records import frozen_record
from papa_kernel.typenames import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence


@frozen_record
class Option:
    """One option: ``kind`` is ``value`` (takes the next word), ``flag`` (True if given),
    ``unset`` (False if given: argparse's ``store_false``) or ``append`` (a value, repeatable:
    a list). ``name`` is the attribute, when it is not the flag's."""

    flag: str
    kind: str
    help: str
    metavar: str | None = None
    default: object = None
    choices: tuple[str, ...] | None = None
    convert: Callable[[str], object] | None = None
    name: str | None = None

    @property
    def dest(self) -> str:
        """The attribute it sets (``--pid-file``: ``pid_file``)."""
        return self.name or self.flag[2:].replace("-", "_")

    @property
    def initial(self) -> object:
        """The value when the option is not given."""
        return {"flag": False, "unset": True, "append": []}.get(self.kind, self.default)


def parse_plain(
    words: Sequence[str],
    options: Sequence[Option],
    positional: str | None = None,
    rest: str | None = None,
) -> dict[str, object] | None:
    """The values of a plain command line: each option of ``options`` a separate word, its
    value the next one; with ``positional``, at most one word that is not an option is that
    value (None if absent); with ``rest``, the words after ``--`` are that list. None for
    anything else (help, version, an abbreviation, ``--option=value``, a bad value): ask the
    argparse parser of the same table."""
    by_flag = {option.flag: option for option in options}
    values = {option.dest: option.initial for option in options}
    if positional is not None:
        values[positional] = None
    if rest is not None:
        values[rest] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--" and rest is not None:
            values[rest] = list(words[index + 1 :])
            break
        option = by_flag.get(word)
        if option is None:
            if positional is None or values[positional] is not None or word.startswith("-"):
                return None  # --help, --version, abbreviations, a COMMAND without --, errors
            values[positional] = word
            index += 1
            continue
        if option.kind in ("flag", "unset"):
            values[option.dest] = option.kind == "flag"
            index += 1
            continue
        if index + 1 == len(words) or (
            words[index + 1].startswith("-") and words[index + 1] != "-"
        ):
            return None  # a missing value
        text = words[index + 1]
        if option.choices is not None and text not in option.choices:
            return None
        try:
            value = option.convert(text) if option.convert else text
        except ValueError:
            return None
        if option.kind == "append":
            values[option.dest] = [*values[option.dest], value]  # type: ignore[misc]
        else:
            values[option.dest] = value
        index += 2
    return values


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    """Add ``options`` to an argparse parser (as :func:`parse_plain` reads them)."""
    for option in options:
        settings: dict[str, object] = {"help": option.help}
        if option.metavar is not None:
            settings["metavar"] = option.metavar
        if option.name is not None:
            settings["dest"] = option.name
        if option.kind == "flag":
            settings["action"] = "store_true"
        elif option.kind == "unset":
            settings["action"] = "store_false"
        elif option.kind == "append":
            settings.update(action="append", default=[])
        else:
            settings["default"] = option.default
        if option.choices is not None:
            settings["choices"] = list(option.choices)
        if option.convert is not None:
            settings["type"] = _argparse_type(option.convert)
        parser.add_argument(option.flag, **settings)  # type: ignore[arg-type]


def _argparse_type(convert: Callable[[str], object]) -> Callable[[str], object]:
    """``convert`` for argparse: its ValueError's message becomes the error argparse prints."""
    import argparse

    def typed(text: str) -> object:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return typed
