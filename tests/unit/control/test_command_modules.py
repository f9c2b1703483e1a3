"""Adding a control command is adding its module: every module of circus.control.commands but
``base`` and the ``_`` helpers is imported with the package, and each one's command class
registers itself (no second list to keep in step)."""

from __future__ import annotations

from pathlib import Path

from circus.control import commands
from circus.control.commands.base import REGISTRY


def _command_files() -> set[str]:
    folder = Path(commands.__file__).parent
    return {
        path.stem
        for path in folder.glob("*.py")
        if path.stem not in {"__init__", "base"} and not path.stem.startswith("_")
    }


def test_every_module_of_the_package_is_imported_as_a_command_module():
    assert set(commands.COMMAND_MODULES) == _command_files()


def test_every_command_module_registers_its_command():
    prefix = f"{commands.__name__}."
    registering = {
        cls.__module__.removeprefix(prefix)
        for cls in REGISTRY.values()
        if cls.__module__.startswith(prefix)
    }
    assert registering == _command_files()
