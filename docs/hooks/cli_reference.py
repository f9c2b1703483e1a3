"""mkdocs hook: generates ``cli-reference.md`` from the tools' own argparse parsers, so the
reference never drifts from ``--help``.

Every console script of pyproject.toml is listed. Its module must offer ``build_parser()``
(circusctl: its general help and each command's help text); a tool still wired to
``circus.cli.planned`` is listed as not built. A tool without a parser fails the build.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
PAGE = "cli-reference.md"
WIDTH = "100"


def _scripts() -> dict[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["scripts"]


def _block(text: str) -> str:
    return f"```text\n{text.rstrip()}\n```\n"


def _circusctl() -> str:
    from circus.cli.circusctl import general_help
    from circus.control.commands import get_commands

    commands = get_commands()
    parts = [_block(general_help(commands))]
    for name, command in sorted(commands.items()):
        parts.append(f"### circusctl {name}\n\n{_block(command.help_text())}")
    return "\n".join(parts)


def render() -> str:
    """The page's Markdown."""
    os.environ["COLUMNS"] = WIDTH  # argparse wraps to the terminal: fix it for stable output
    lines = [
        "# Command-line reference",
        "",
        "Generated from each tool's own parser when the site is built (`make docs`), so it says",
        "exactly what `TOOL --help` says. How to use them: [cli.md](cli.md), "
        "[circusctl.md](circusctl.md), [circusd.md](circusd.md).",
        "",
    ]
    for script, target in sorted(_scripts().items()):
        module_name, _, attribute = target.partition(":")
        lines.append(f"## {script}\n")
        if module_name == "circus.cli.planned":
            lines.append("Not built yet: it prints so and exits with status 2.\n")
            continue
        if script == "circusctl":
            lines.append(_circusctl())
            continue
        module: Any = importlib.import_module(module_name)
        build = getattr(module, "build_parser", None)
        if build is None:
            raise RuntimeError(f"{module_name} has no build_parser(): the reference needs it")
        lines.append(_block(build().format_help()))
    return "\n".join(lines) + "\n"


def on_files(files: Files, config: Any) -> Files:
    """Add the generated page to the site."""
    files.append(File.generated(config, PAGE, content=render()))
    return files
