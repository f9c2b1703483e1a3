"""``circusd --check-config FILE``: load a configuration and report, without starting anything.

Prints every error (``file:line [section] key: message (did you mean ...?)``) and every warning
on stderr; prints ``ok`` on stdout when the configuration can be used. Exit status: 0 when it
loads (warnings allowed), 1 when it has errors. Usage errors exit with 2 (argparse).
"""

from __future__ import annotations

import argparse
import sys

from circus.errors import ConfigError
from circus.util.fast_exit import ends_process
from papa_kernel.helpwidth import HelpFormatter

EXIT_OK = 0
EXIT_INVALID = 1  # the configuration has errors: circusd would refuse to start


@ends_process
def main(argv: list[str] | None = None) -> int:
    """``circusd --check-config``'s command line: with ``argv``, returns the exit status;
    without (the program), ends the process with it (:mod:`circus.util.fast_exit`)."""
    parser = argparse.ArgumentParser(
        prog="circusd --check-config",
        description="Check a circus configuration file: print its errors, or 'ok'.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("config", help="configuration file (INI)")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print warnings")
    args = parser.parse_args(argv)

    from circus.config import load_config

    try:
        config = load_config(args.config, log_warnings=False)
    except ConfigError as exc:
        if not args.quiet:
            for warning in exc.warnings:
                print(f"warning: {warning}", file=sys.stderr)
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        count = len(exc.problems)
        print(f"{args.config}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
        return EXIT_INVALID
    if not args.quiet:
        for warning in config.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    print("ok")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
