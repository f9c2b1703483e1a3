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
    "asyncio": "the async client, fleet mode, ssh logins, discovery, listen (~18 ms of CPU)",
    "zmq.asyncio": "the async client (circus.client.aio)",
    "circus.client.aio": "AsyncCircusClient",
    "circus.client.fleet": "fleet mode",
    "circus.control.commands.add": "circusctl add: a run imports its own command's module only",
    "circus.control.commands.reloadconfig": "circusctl reloadconfig (~0.5 ms per module, 27)",
    "circus.wire.ssh": "--ssh (circus.wire.tunnel imports it for an ssh server only)",
    "subprocess": "the ssh client (circus.wire.ssh)",
    "circus.wire.discovery": "--discover (circus.cli.discover imports it when it probes)",
    "uuid": "nothing: call ids and identities are os.urandom(16).hex()",
    "socket": "a host name to resolve (circus.util.endpoints.host_is_loopback), a unix socket "
    "to probe (papa_kernel.paths): a call goes through ZeroMQ's own sockets (~2 ms)",
    "logging": "circusd's side (circus.logger is made when asked for): ~6 ms with traceback",
}


def test_circusctl_has_not_imported_what_a_status_does_not_use():
    """What ``circusctl status`` imports before it sends its call: the command line tool, its
    commands, the client."""
    loaded = imported_by("""
        from circus.cli.circusctl import Commands, build_parser, parse
        parse(build_parser(Commands()), ["status", "--json"])
    """)
    assert "circus.cli.circusctl" in loaded and "circus.control.options" in loaded
    assert not {name: why for name, why in NOT_IMPORTED.items() if name in loaded}
    # the client is imported when the command is sent (--help, --version and usage errors
    # send none): ZeroMQ is ~20 ms of CPU
    assert "zmq" not in loaded and "circus.client" not in loaded


def test_a_status_call_imports_no_asyncio():
    """The whole single-host path: circusctl's main, the blocking client and its connection
    watch (the socket monitor), against a ROUTER that answers like circusd."""
    loaded = imported_by("""
        import json, threading, zmq
        router = zmq.Context.instance().socket(zmq.ROUTER)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        def serve():
            identity, data = router.recv_multipart()
            reply = {"id": json.loads(data)["id"], "status": "ok", "statuses": {}}
            router.send_multipart([identity, json.dumps(reply).encode()])
        threading.Thread(target=serve, daemon=True).start()
        from circus.cli.circusctl import main
        assert main(["--endpoint", f"tcp://127.0.0.1:{port}", "status", "--json"]) == 0
        router.close(linger=0)
    """)
    assert "circus.client" in loaded and "circus.wire.diagnose" in loaded
    assert not {name: why for name, why in NOT_IMPORTED.items() if name in loaded}


def test_the_async_client_and_fleet_are_still_importable_from_circus_client():
    """docs/library.md: ``from circus.client import CircusClient, AsyncCircusClient``."""
    loaded = imported_by("""
        from circus.client import AsyncCircusClient, CircusClient, Fleet, Host, fan_out
        from circus.client import aio, fleet
        assert AsyncCircusClient is aio.AsyncCircusClient and Fleet is fleet.Fleet
        assert Host is fleet.Host and fan_out is fleet.fan_out
    """)
    assert "asyncio" in loaded


def test_converting_an_option_still_imports_the_schema_when_asked():
    loaded = imported_by("""
        from circus.control import options
        assert options.convert_cli_option("numprocesses", "3") == 3
        assert options.to_number("500ms") == 0.5 and options.to_int("4") == 4
    """)
    assert "circus.config.schema" in loaded


def test_circus_logger_is_still_the_original_one():
    """``from circus import logger`` (plugins and hooks written for the original use it)."""
    imported_by("""
        import logging
        from circus import logger
        assert logger is logging.getLogger("circus")
    """)
