"""Adding a control command is adding its module: every module of circus.control.commands but
``base`` and the ``_`` helpers is a command module, imported by get_commands() or when its command
is first asked for, and each one's command class registers itself (no second list to keep in
step)."""

from __future__ import annotations

from pathlib import Path

from support import imported_by

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
    commands.load_all()
    prefix = f"{commands.__name__}."
    registering = {
        cls.__module__.removeprefix(prefix)
        for cls in REGISTRY.values()
        if cls.__module__.startswith(prefix)
    }
    assert registering == _command_files()


def test_asking_for_one_command_imports_its_module_only():
    loaded = imported_by("""
        from circus.control.commands import Commands
        assert Commands()["status"].name == "status"
    """)
    modules = {name for name in loaded if name.startswith("circus.control.commands.")}
    assert modules == {
        "circus.control.commands.base",
        "circus.control.commands._shared",
        "circus.control.commands.status",
    }


def test_list_and_set_import_the_modules_whose_names_begin_with_theirs():
    """``list`` is in listwatchers, ``set`` in setoptions: found without importing every
    module (circusd's controller looks commands up this way: tests and tools ask for list)."""
    loaded = imported_by("""
        from circus.control.commands import Commands
        commands = Commands()
        assert commands["list"].name == "list" and commands["set"].name == "set"
    """)
    modules = {name.rpartition(".")[2] for name in loaded if ".control.commands." in name}
    assert modules == {"base", "_shared", "listen", "listsockets", "listwatchers", "setoptions"}


def test_commands_not_named_after_their_module_and_unknown_ones():
    imported_by("""
        from circus.control.commands import Commands, command_class
        commands = Commands()
        assert commands["list"].name == "list" and commands["set"].name == "set"
        assert command_class("nothing") is None and "nothing" not in commands
        assert "Status" not in commands  # command names are lower case, as circusd's
        assert len(commands) == len(list(commands)) > 25
    """)


def test_a_third_party_command_cannot_take_a_built_in_name_before_it_is_loaded():
    """Built-in commands are imported on first use: a third-party class named ``status``
    defined before ``status`` was asked for is still the one refused."""
    imported_by("""
        from circus.control.commands import command_class
        from circus.control.commands.base import Command
        try:
            class Clash(Command):
                name = "status"
        except ValueError as exc:
            assert "already defined" in str(exc), exc
        else:
            raise AssertionError("a second 'status' was accepted")
        assert command_class("status").__module__ == "circus.control.commands.status"
    """)
