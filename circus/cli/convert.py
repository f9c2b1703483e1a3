"""``circus-convert``: print the Circus configuration equivalent to a supervisord.conf.

    circus-convert supervisord.conf > circus.ini

The INI goes to stdout; every setting that could not be mapped exactly goes to stderr as a
``file:line: what`` warning (exit status 0; 1 with ``--strict`` when there is any; 2 when a
file cannot be read, or ``-o FILE`` cannot be written).
"""

from __future__ import annotations

import argparse
import sys

from circus import __version__
from circus.convert.supervisor import UnreadableError, convert
from circus.util.fast_exit import ends_process
from papa_kernel.helpwidth import HelpFormatter
from papa_kernel.pipes import quiet_on_broken_pipe

EXIT_WARNINGS = 1
EXIT_UNREADABLE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="circus-convert",
        description="Print the Circus configuration equivalent to a Supervisor one "
        "(supervisord.conf and its [include] files). Warnings name each setting that could "
        "not be mapped exactly, with its file and line.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("config", help="the supervisord.conf to convert")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the Circus INI to FILE, not stdout"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 if anything was not mapped"
    )
    parser.add_argument("--version", action="version", version=f"circus-convert {__version__}")
    return parser


@ends_process
@quiet_on_broken_pipe
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``circus-convert``: with ``argv``, returns the exit status; without (the
    program), ends the process with it (:mod:`circus.util.fast_exit`)."""
    args = build_parser().parse_args(argv)
    try:
        text, warnings = convert(args.config)
    except UnreadableError as exc:
        print(f"circus-convert: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            print(f"circus-convert: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return EXIT_UNREADABLE
    else:
        sys.stdout.write(text)
    return EXIT_WARNINGS if warnings and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
