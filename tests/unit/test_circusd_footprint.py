"""Modules circusd does without at run time (each costs resident memory for months): they are
imported only on the paths that need them."""

import pytest
from support import imported_by

pytestmark = pytest.mark.timeout(30)

#: module -> what needs it (MB of circusd's RSS it would cost otherwise)
NOT_IMPORTED = {
    "ssl": "TLS through asyncio (4.6 with libcrypto; circus.util.no_openssl)",
    "_hashlib": "hashlib's OpenSSL",
    "difflib": "a 'did you mean' hint for a misspelt name (0.1)",
    "logging.handlers": "--log-output syslog://... (0.2 with queue)",
    "urllib.parse": "--log-output syslog://...",
    "ipaddress": "a tcp:// endpoint to check (0.25)",
    "datetime": "a stream with a time format, utc or time rotation (0.3)",
    # value classes are papa_kernel.records: a dataclass compiles source for each of its
    # methods (~1 ms of CPU per class at every start; the configuration model alone ~9 ms)
    "dataclasses": "nothing (circusd's value classes are papa_kernel.records)",
    # asyncio's inspect is a stand-in until used (circus.util.no_openssl.import_asyncio)
    "inspect": "asyncio in debug mode, a partial as a signal handler (1.1 with ast and dis)",
    "ast": "inspect",
    "dis": "inspect",
    # the local host's socket code: a use_papa = false socket, or a reloadconfig adding a socket
    "circus.hosts.local_sockets": "the local host, or reloadconfig's check_bindable (0.15)",
    "papa_kernel.sockets": "circus.hosts.local_sockets",
}


def test_a_started_circusd_has_not_imported_what_it_does_not_use(tmp_path):
    """The imports circusd makes to run a watcher and log to a file (as circus.cli.circusd
    does: asyncio first through import_asyncio, then the arbiter and the control channel)."""
    config = tmp_path / "circus.ini"
    config.write_text("[watcher:web]\ncmd = sleep 100\nnumprocesses = 2\n")
    loaded = imported_by(f"""
        from circus.config import load_config
        from circus.util.logsetup import configure_logging
        from circus.util.no_openssl import import_asyncio
        config = load_config({str(config)!r})
        configure_logging("info", {str(tmp_path / "circusd.log")!r}, None)
        import_asyncio()
        import circus.arbiter, circus.control, circus.util.systemd
    """)
    assert "circus.arbiter" in loaded
    assert not {name: why for name, why in NOT_IMPORTED.items() if name in loaded}


#: module -> what needs it, for circusd's control channel (bound once the workers started)
NOT_IMPORTED_BY_THE_CONTROL_CHANNEL = {
    "circus.control.discovery": "multicast_endpoint set (discovery is off by default)",
    "circus.wire.discovery": "multicast_endpoint set",
}


def test_the_control_channel_imports_discovery_only_when_it_is_on():
    """The controller and the pub/sub channel circusd binds: multicast discovery's modules
    (~2 ms of CPU at every start) are imported when ``multicast_endpoint`` is set."""
    loaded = imported_by("""
        from circus.util.no_openssl import import_asyncio
        import_asyncio()
        import circus.arbiter, circus.control.controller, circus.events
    """)
    assert "circus.control.controller" in loaded
    unused = NOT_IMPORTED_BY_THE_CONTROL_CHANNEL
    assert not {name: why for name, why in unused.items() if name in loaded}


def test_logging_to_stdout_imports_no_file_handler():
    """circusd logging to stdout (the suite's circusds, a service manager's journal) does
    without the reopening file handler (papa_kernel.logfile and its writer: ~0.3 ms of CPU)."""
    loaded = imported_by("""
        from circus.util.logsetup import configure_logging
        configure_logging("info", "-", None)
    """)
    assert "circus.util.logsetup" in loaded
    assert not {"papa_kernel.logfile", "papa_kernel.logwriter"} & loaded
