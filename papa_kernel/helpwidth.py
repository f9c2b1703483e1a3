"""argparse help formatters that do not import shutil.

argparse's ``HelpFormatter`` asks ``shutil`` for the terminal width whenever one is made, and
``ArgumentParser.add_argument`` makes one for every argument (to check its metavar): building a
parser imports shutil and, through it, bz2, lzma, zlib and locale, with their shared libraries,
in every start of papa-kernel and circusd, for a help text they almost never print (about 2 ms
and 0.4 MB each). :class:`HelpFormatter` gets the same width from ``os``: ``$COLUMNS``, else the
terminal's, else 80 (``shutil.get_terminal_size``'s rules), minus 2 as argparse does.
"""

from __future__ import annotations

import argparse
import os
import sys

FALLBACK_COLUMNS = 80  # shutil.get_terminal_size's fallback


def terminal_columns() -> int:
    """The width of the terminal, as ``shutil.get_terminal_size().columns`` gives it."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or FALLBACK_COLUMNS


class HelpFormatter(argparse.HelpFormatter):
    """``argparse.HelpFormatter`` at the terminal's width, found without shutil."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        width = terminal_columns() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width)


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """``argparse.RawDescriptionHelpFormatter`` at the terminal's width, without shutil."""
