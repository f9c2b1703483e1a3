"""The command table is the one source of the kernel's words and help (issue 9 item 7)."""

from __future__ import annotations

import pytest

from papa_kernel import command_table
from papa_kernel import connection as _connection  # noqa: F401 - declares every command
from papa_kernel.command_table import COMMANDS, command, help_text, overview, resolve_command
from papa_kernel.errors import CommandError


def test_every_command_resolves_and_has_help():
    assert len(COMMANDS) == 18
    for name, cmd in COMMANDS.items():
        assert cmd.usage.startswith(name + " ") or cmd.usage == name
        assert resolve_command([*name.split(" "), "x"]) == (name, ["x"])
        assert help_text(name.split(" ")) == cmd.topic
        assert cmd.usage in overview()
        assert cmd.brief or cmd.summary, f"{name} needs a summary for the overview"


def test_words_are_derived_from_the_table():
    tops, seconds = command_table.words()
    assert tops == tuple(sorted({name.split(" ")[0] for name in COMMANDS}))
    assert seconds["make"] == ("process", "socket")
    with pytest.raises(CommandError, match="cannot be abbreviated"):
        resolve_command(["pas", "sockets"])


def test_a_new_command_is_one_declaration(monkeypatch):
    monkeypatch.setattr(command_table, "COMMANDS", dict(COMMANDS))
    monkeypatch.setattr(command_table, "_words", None)

    @command("list frobs", usage="list frobs [NAME...]", summary="show frobs", details="  ...")
    def list_frobs(session: object, args: list[str]) -> str:
        return "frobs " + " ".join(args)

    assert command_table.execute(None, ["l", "f", "a"]) == "frobs a"
    assert help_text(["list"]).startswith('"list" is followed by one of: frobs, processes')
    assert help_text(["l", "f"]) == "list frobs [NAME...]\n  ..."
    assert "list frobs [NAME...]" in command_table.overview()
    with pytest.raises(ValueError, match="declared twice"):
        command("list frobs", usage="list frobs")(list_frobs)
