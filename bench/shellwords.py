"""Splitting command lines: circus.config.shellwords.split versus shlex.split.

    .venv/bin/python bench/shellwords.py

For each size, the best of three CPU times of one word of that size and of the same text cut
into 128 words, for both splitters (shlex only up to 256 KiB: it is quadratic in the word
length and would take minutes beyond). Goal: ours linear (one long word about as cheap as many
short ones of the same total size). Figures go to stdout as a Markdown table.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable

from circus.config.shellwords import split

SIZES_KIB = (64, 256, 1024, 4096)
SHLEX_MAX_KIB = 256
PIECES = 128


def best_of(function: Callable[[str], list[str]], text: str, repeat: int = 3) -> float:
    """The smallest CPU time of ``repeat`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        function(text)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    print("| size | splitter | one word (ms) | 128 words (ms) | ratio |")
    print("|---|---|---|---|---|")
    for kib in SIZES_KIB:
        size = kib * 1024
        one_word = "/bin/" + "a" * size
        many_words = " ".join(["b" * (size // PIECES)] * PIECES)
        splitters = [("shellwords", split)]
        if kib <= SHLEX_MAX_KIB:
            splitters.append(("shlex", shlex.split))
        for name, function in splitters:
            one, many = best_of(function, one_word), best_of(function, many_words)
            ratio = one / many if many else float("inf")
            print(f"| {kib} KiB | {name} | {one * 1000:.1f} | {many * 1000:.1f} | {ratio:.1f} |")


if __name__ == "__main__":
    main()
