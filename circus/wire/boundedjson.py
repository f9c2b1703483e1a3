"""JSON decoding with an explicit bound on nesting depth, for everything circusd's peers send.

``json.loads`` recurses once per nested array or object: a few thousand ``[`` raise
``RecursionError`` (not a ``ValueError``), which escaped the control channel's error handling.
:func:`loads` checks the nesting depth *before* parsing, so the parser never recurses deeper
than the bound allows, and reports too deep a document as a ``ValueError``
(:class:`NestingError`), like any other malformed JSON.

The check works on bytes with C-speed ``bytes`` methods only (no per-character Python loop):

1. a document with at most ``max_depth`` opening brackets in total cannot be deeper: done;
2. escape pairs (``\\\\`` then ``\\"``) are removed, so every remaining ``"`` delimits a string,
   and the text inside strings is dropped (every other piece of a split on ``"``);
3. everything but brackets is deleted and ``[``/``{`` become ``(``, ``]``/``}`` become ``)``;
4. each pass of ``replace(b"()", b"")`` removes every innermost pair, so ``max_depth`` passes
   remove every complete pair nested at most ``max_depth`` deep. What remains is too deep if it
   still holds a pair ``()`` or more than ``max_depth`` unclosed ``(``.

A valid document is accepted exactly when its depth is at most ``max_depth``; an invalid one
that passes never makes the parser recurse more than ``2 * max_depth`` levels.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # a control request nests 4 or 5 levels (properties > options > env > ...)
# Replies and events wrap what requests carried in a few more levels; clients and subscribers
# accept more, still far below the parser's recursion limit (about 1000).
MAX_REPLY_DEPTH = 128

_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in _BRACKETS)
_TO_PARENS = bytes.maketrans(b"[{]}", b"(())")


class NestingError(ValueError):
    """The document nests arrays/objects deeper than allowed."""


def check_depth(data: bytes | str, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`NestingError` if ``data`` nests deeper than ``max_depth`` (module doc)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    parens = outside_strings.translate(_TO_PARENS, _NOT_BRACKETS)
    for _ in range(max_depth):
        shorter = parens.replace(b"()", b"")
        if len(shorter) == len(parens):
            break
        parens = shorter
    if b"()" in parens or parens.count(b"(") > max_depth:
        raise NestingError(f"nesting deeper than {max_depth} levels of arrays and objects")


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``max_depth`` (ValueError)."""
    check_depth(data, max_depth)
    return json.loads(data)
