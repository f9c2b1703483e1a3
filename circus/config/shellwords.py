"""Splitting a command line into words like a POSIX shell, in linear time.

:func:`split` gives the same words and the same errors as ``shlex.split(text)`` (POSIX mode, no
comments): words are separated by spaces, tabs, carriage returns and newlines; ``'...'`` keeps
everything literally; inside ``"..."`` a backslash escapes only ``"`` and ``\\``; outside quotes
a backslash takes the next character literally; ``''`` is an empty word.

Why not ``shlex``: its tokenizer grows each word one character at a time (``token = token + c``
on an attribute, which CPython cannot do in place), so a word of n characters costs O(n²):
a 900 KB single-word ``cmd`` blocked circusd's loop for seconds. Here each run of ordinary
characters, quoted text or escape is consumed by one regular-expression match and the pieces
of a word are joined once.
"""

from __future__ import annotations

import re

#: shlex's whitespace (not Python's: a vertical tab or form feed is part of a word).
_BLANKS = " \t\r\n"
_PIECE = re.compile(
    r"""
      (?P<plain>[^ \t\r\n'"\\]+)
    | '(?P<single>[^']*)'
    | "(?P<double>[^"\\]*(?:\\.[^"\\]*)*)"
    | \\(?P<escaped>.)
    | (?P<blank>[ \t\r\n]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_DOUBLE_ESCAPE = re.compile(r'\\(["\\])')

NO_CLOSING_QUOTE = "No closing quotation"
NO_ESCAPED_CHARACTER = "No escaped character"


def split(text: str) -> list[str]:
    """The words of ``text``; ValueError (shlex's message) on an unclosed quote or a trailing
    backslash."""
    words: list[str] = []
    pieces: list[str] = []
    in_word = False
    position, end = 0, len(text)
    while position < end:
        match = _PIECE.match(text, position)
        if match is None:
            raise ValueError(_failure(text, position))
        position = match.end()
        kind = match.lastgroup
        assert kind is not None  # every alternative of _PIECE is a named group
        if kind == "blank":
            if in_word:
                words.append("".join(pieces))
                pieces.clear()
                in_word = False
            continue
        in_word = True
        piece = match.group(kind)
        if kind == "double" and "\\" in piece:
            piece = _DOUBLE_ESCAPE.sub(r"\1", piece)
        pieces.append(piece)
    if in_word:
        words.append("".join(pieces))
    return words


def _failure(text: str, position: int) -> str:
    """Why no piece matches at ``position``: an unclosed quote or a lone final backslash."""
    char = text[position]
    if char == "\\":
        return NO_ESCAPED_CHARACTER
    if char == '"' and re.fullmatch(r'"[^"\\]*(?:\\.[^"\\]*)*\\', text[position:], re.DOTALL):
        return NO_ESCAPED_CHARACTER  # shlex: the backslash before the end wins
    return NO_CLOSING_QUOTE
