"""``circus-plugin``: not implemented yet (planned; see the issue tracker)."""

from __future__ import annotations

import sys

EXIT_NOT_IMPLEMENTED = 2


def main(argv: list[str] | None = None) -> int:
    print("circus-plugin is not implemented yet in this version of circus", file=sys.stderr)
    return EXIT_NOT_IMPLEMENTED


if __name__ == "__main__":
    sys.exit(main())
