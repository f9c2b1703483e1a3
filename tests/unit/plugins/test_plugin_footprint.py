"""Modules a plugin process (circus-plugin) does without: circusd starts one per plugin and
restarts it with circusd, and each import costs CPU at every start. They are imported only on
the paths that need them."""

import pytest
from support import imported_by

pytestmark = pytest.mark.timeout(30)

#: module -> what needs it
NOT_IMPORTED = {
    "ssl": "a plugin that uses TLS (asyncio's is a stand-in until used; circus.util.no_openssl)",
    "_ssl": "ssl",
    "circus.config.loader": "nothing: a plugin converts one option (circus.config.converters)",
    "circus.config.model": "circus.config.loader",
    "circus.config.schema": "circus.config.loader",
    "circus.wire.ssh": "circus-plugin --ssh",
    "inspect": "a plugin that uses it (tornado's isawaitable and getfullargspec are stand-ins "
    "until called; circus.util.no_openssl.import_without_inspect): ~8 ms with ast and dis",
    "ast": "inspect",
    "uuid": "nothing: the plugin's id is os.urandom(16).hex()",
    "shutil": "argparse's terminal width (papa_kernel.helpwidth finds it without; bz2, lzma)",
}

#: A plugin that stops as soon as it has started (handle_init runs before the loop).
PROBE = """
from circus.plugins import CircusPlugin


class Probe(CircusPlugin):
    def handle_init(self):
        self.loop.add_callback(self.stop)

    def handle_recv(self, data):
        pass
"""


def test_a_plugin_process_imports_only_what_it_runs(tmp_path):
    """circus-plugin's main, a plugin loaded, connected (to endpoints nobody serves: ZeroMQ
    connects lazily), its loop run and stopped."""
    (tmp_path / "footprint_probe.py").write_text(PROBE)
    loaded = imported_by(f"""
        sys.path.insert(0, {str(tmp_path)!r})
        from circus.cli.plugin import main
        code = main(["--endpoint", "ipc://{tmp_path}/c.sock", "--pubsub", "ipc://{tmp_path}/p.sock",
                     "--log-output", "{tmp_path}/log", "footprint_probe.Probe"])
        assert code == 0, code
    """)
    assert "footprint_probe" in loaded and "tornado.ioloop" in loaded
    assert not {name: why for name, why in NOT_IMPORTED.items() if name in loaded}


def test_a_plugin_that_uses_tls_gets_the_real_ssl():
    """The stand-in asyncio holds loads OpenSSL when a plugin asks asyncio for it."""
    loaded = imported_by("""
        from circus.util.no_openssl import import_asyncio
        import_asyncio()
        import asyncio.base_events
        assert "ssl" not in sys.modules
        context = asyncio.base_events.ssl.create_default_context()
        assert type(context).__module__ == "ssl"
    """)
    assert "ssl" in loaded


#: The built-in plugins whose libraries are always installed (RedisObserver and
#: PrometheusExporter import theirs when circusd checks the configuration: a missing optional
#: library is reported there, naming the plugin).
BUILT_INS = (
    "statsd.StatsdEmitter",
    "statsd.FullStats",
    "watchdog.WatchDog",
    "command_reloader.CommandReloader",
    "http_observer.HttpObserver",
    "resource_watcher.ResourceWatcher",
    "flapping.Flapping",
)


def test_checking_a_configuration_of_plugins_imports_no_plugin_runtime(tmp_path):
    """circusd imports each plugin class when it loads the configuration (to check its
    config_options): that loads neither tornado nor ZeroMQ's event loop, nor OpenSSL (tornado's
    HTTP client), which only the plugin's own process uses (~30 ms of CPU, and circusd's
    memory for as long as it runs)."""
    config = tmp_path / "circus.ini"
    config.write_text(
        "[watcher:w]\ncmd = sleep 60\n"
        + "".join(f"[plugin:p{i}]\nuse = circus.plugins.{use}\n" for i, use in enumerate(BUILT_INS))
    )
    loaded = imported_by(f"""
        from circus.config import load_config
        config = load_config({str(config)!r})
        assert len(config.plugins) == {len(BUILT_INS)}, config.plugins
    """)
    assert "circus.plugins.watchdog" in loaded and "circus.plugins.http_observer" in loaded
    runtime = {"tornado", "tornado.ioloop", "zmq", "zmq.eventloop", "ssl", "asyncio"}
    assert not runtime & loaded
    # the built-ins' value classes are papa_kernel.records: dataclasses would import inspect
    # (ast, dis) into circusd and compile each class's methods
    assert not {"dataclasses", "inspect"} & loaded
