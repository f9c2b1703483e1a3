"""Entry points of the tools that are planned but not built yet (circus-top, circusd-stats):
each says so plainly instead of failing to import."""

from __future__ import annotations

import sys
from collections.abc import Callable

EXIT_NOT_IMPLEMENTED = 2


def _planned(tool: str) -> Callable[[list[str] | None], int]:
    def main(argv: list[str] | None = None) -> int:
        print(f"{tool} is not implemented yet in this version of circus", file=sys.stderr)
        return EXIT_NOT_IMPLEMENTED

    main.__doc__ = f"``{tool}``: not implemented yet."
    return main


circus_top = _planned("circus-top")
circusd_stats = _planned("circusd-stats")
