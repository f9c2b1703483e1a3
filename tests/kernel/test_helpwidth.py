"""The daemons' option parsers do not import shutil (argparse's HelpFormatter would, with bz2,
lzma and zlib, at every start), and their help keeps the terminal's width."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

PARSERS = {
    "papa-kernel": "from papa_kernel.cli import build_parser",
    "circusd": "from circus.cli.circusd import build_parser",
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_building_and_using_the_parser_imports_no_shutil(name):
    code = (
        f"import sys; {PARSERS[name]}; before = 'shutil' in sys.modules; "
        "build_parser().parse_args(['x.ini'] if 'circus' in sys.argv[1] else []); "
        "print(before, 'shutil' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code, name], capture_output=True,
                         text=True, timeout=30, cwd=os.path.dirname(os.path.dirname(
                             os.path.dirname(os.path.abspath(__file__)))))  # fmt: skip
    if name == "circusd" and out.returncode:  # -S: circusd needs site-packages
        out = subprocess.run([sys.executable, "-c", code, name], capture_output=True,
                             text=True, timeout=30)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("columns", ["40", "100", "junk"])
def test_help_is_what_argparse_gives_at_the_same_width(monkeypatch, columns):
    from circus.cli.circusd import build_parser as circusd_parser
    from papa_kernel.cli import build_parser as kernel_parser

    monkeypatch.setenv("COLUMNS", columns)
    for build, stock in ((kernel_parser, argparse.HelpFormatter),
                         (circusd_parser, argparse.RawDescriptionHelpFormatter)):  # fmt: skip
        parser = build()
        ours = parser.format_help()
        parser.formatter_class = stock
        assert ours == parser.format_help()
