"""Modules circusctl does without at start: it is started hundreds of times by the test suite
and by scripts, and each import costs CPU at every run. They are imported on the paths that
need them."""

import pytest
from support import imported_by

pytestmark = pytest.mark.timeout(30)

#: module -> what needs it
NOT_IMPORTED = {
    "circus.config": "converting an option value (add, set): ~20 ms of CPU with its schema",
    "circus.config.schema": "converting an option value (add, set)",
    "circus.config.model": "converting an option value (add, set)",
    "ssl": "TLS through asyncio, which circusctl does not use (~4 ms; circus.util.no_openssl)",
    "_hashlib": "hashlib's OpenSSL",
    "circus.cli.fleet": "fleet mode: several --endpoint or --hosts",
    "configparser": "a --hosts file",
    "shutil": "argparse's terminal width (papa_kernel.helpwidth finds it without; bz2, lzma)",
}


def test_circusctl_has_not_imported_what_a_status_does_not_use():
    """What ``circusctl status`` imports before it sends its call: the command line tool, its
    commands, the client."""
    loaded = imported_by("""
        from circus.cli.circusctl import build_parser, get_commands, parse
        parse(build_parser(get_commands()), ["status", "--json"])
    """)
    assert "circus.cli.circusctl" in loaded and "circus.control.options" in loaded
    assert not {name: why for name, why in NOT_IMPORTED.items() if name in loaded}


def test_converting_an_option_still_imports_the_schema_when_asked():
    loaded = imported_by("""
        from circus.control import options
        assert options.convert_cli_option("numprocesses", "3") == 3
        assert options.to_number("500ms") == 0.5 and options.to_int("4") == 4
    """)
    assert "circus.config.schema" in loaded
