"""The "did you mean" of every message about a misspelt name: circusctl's commands, the
configuration's keys, sections and names, the options of stream classes.

difflib is imported on the first misspelt name only (kept out of circusd's and circusctl's
memory otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable

#: How alike a guess must be (difflib's ratio, 0 to 1): its default.
CUTOFF = 0.6


def close_matches(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """Up to ``n`` known names closest to ``word``, best first, compared without regard to
    case and returned as known (a name differing only in case comes first)."""
    lowered = {candidate.lower(): candidate for candidate in candidates}
    key = word.lower()
    if key in lowered and lowered[key] != word:
        return [lowered[key]]
    import difflib

    return [lowered[m] for m in difflib.get_close_matches(key, list(lowered), n, CUTOFF)]


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The known name closest to ``word``, or None (see :func:`close_matches`)."""
    matches = close_matches(word, candidates)
    return matches[0] if matches else None
