"""[circus], [socket:NAME] and [plugin:NAME]: every key's default, a valid and an invalid value."""

from __future__ import annotations

import os

import pytest

from circus.config import CircusSettings, PluginConfig, SocketConfig


def test_circus_defaults_are_private_unix_sockets(load, runtime_dir):
    settings = load("[watcher:w]\ncmd = x\n").circus
    base = os.path.join(str(runtime_dir), "circus")
    assert settings.endpoint == f"ipc://{base}/circus.sock"
    assert settings.pubsub_endpoint == f"ipc://{base}/pubsub.sock"
    assert settings.stats_endpoint == f"ipc://{base}/stats.sock"
    assert settings.papa_endpoint == f"{base}/papa.sock"
    assert settings.multicast_endpoint is None
    assert settings == CircusSettings()
    expected = {
        "endpoint_owner": None,
        "curve_secret_key": None,
        "curve_public_keys": None,
        "check_delay": 5.0,
        "warmup_delay": 0.0,
        "statsd": False,
        "statsd_close_outputs": False,
        "statsd_interval": 1.0,
        "httpd": False,
        "httpd_host": "localhost",
        "httpd_port": 8080,
        "httpd_close_outputs": False,
        "httpd_auth_file": None,
        "debug": False,
        "debug_gc": False,
        "stream_backend": "thread",
        "pidfile": None,
        "umask": None,
        "loglevel": None,
        "logoutput": None,
        "loggerconfig": None,
        "fqdn_prefix": None,
        "include": (),
        "include_dir": (),
        "commands": (),
    }
    assert {k: getattr(settings, k) for k in expected} == expected


CIRCUS_CASES = {
    "endpoint": (
        "tcp://127.0.0.1:5555",
        "tcp://127.0.0.1:5555",
        "http://x",
        "ipc://PATH or tcp://",
    ),
    "pubsub_endpoint": (
        "ipc:///var/run/p.sock",
        "ipc:///var/run/p.sock",
        "tcp://127.0.0.1:0",
        ">= 1",
    ),
    "stats_endpoint": ("tcp://[::1]:5557", "tcp://[::1]:5557", "tcp://host", "tcp://HOST:PORT"),
    "papa_endpoint": (
        "tcp://127.0.0.1:20202",
        "tcp://127.0.0.1:20202",
        "tcp://10.0.0.1:20202",
        "loopback only",
    ),
    "multicast_endpoint": (
        "udp://237.219.251.97:12027",
        "udp://237.219.251.97:12027",
        "udp://10.0.0.1:12027",
        "MULTICAST",
    ),
    "multicast_interfaces": ("lo, eth0", ("lo", "eth0"), "eth0/1", "interface names"),
    "endpoint_owner": ("www-data", "www-data", None, None),
    "check_delay": ("1.5", 1.5, "-1", ">= 0"),
    "warmup_delay": ("2", 2.0, "soon", "duration"),
    "statsd": ("true", True, "maybe", "boolean"),
    "statsd_close_outputs": ("true", True, "x", "boolean"),
    "statsd_interval": ("250ms", 0.25, "0.05", ">= 0.1"),
    "httpd": ("1", True, "2", "boolean"),
    "httpd_host": ("127.0.0.1", "127.0.0.1", None, None),
    "httpd_port": ("9090", 9090, "70000", "<= 65535"),
    "httpd_close_outputs": ("yes", True, "y", "boolean"),
    "httpd_auth_file": ("/etc/circus/web-users", "/etc/circus/web-users", None, None),
    "debug": ("true", True, "debug", "boolean"),
    "debug_gc": ("false", False, "gc", "boolean"),
    "stream_backend": ("gevent", "gevent", "asyncio", "a backend (gevent, thread)"),
    "pidfile": ("/run/circusd.pid", "/run/circusd.pid", None, None),
    "umask": ("002", 2, "9", "octal"),
    "loglevel": ("DEBUG", "debug", "loud", "a log level"),
    "logoutput": ("syslog://localhost:514?user", "syslog://localhost:514?user", None, None),
    "loggerconfig": ("/etc/circus/log.yaml", "/etc/circus/log.yaml", None, None),
    "fqdn_prefix": ("prod", "prod", None, None),
    "include_dir": ("conf.d other.d", ("conf.d", "other.d"), None, None),
    "commands": ("json, os.path", ("json", "os.path"), "json:loads", "module names"),
    "max_processes": ("4096", 4096, "0", ">= 1"),
}


def test_every_circus_key_has_a_case():
    from circus.config.sections import CIRCUS_OPTIONS

    missing = (
        set(CIRCUS_OPTIONS)
        - set(CIRCUS_CASES)
        - {"include", "curve_secret_key", "curve_public_keys"}
    )
    assert not missing


@pytest.mark.parametrize("key", sorted(CIRCUS_CASES))
def test_circus_valid_value(load, tmp_path, key):
    text, expected, _bad, _message = CIRCUS_CASES[key]
    if key == "include_dir":
        (tmp_path / "conf.d").mkdir()
        (tmp_path / "other.d").mkdir()
    config = load(f"[circus]\n{key} = {text}\n")
    assert getattr(config.circus, key) == expected


@pytest.mark.parametrize("key", sorted(k for k, v in CIRCUS_CASES.items() if v[2] is not None))
def test_circus_invalid_value(load, key):
    _text, _expected, bad, message = CIRCUS_CASES[key]
    (problem,) = load.problems(f"[circus]\n\n{key} = {bad}\n")
    assert (problem.line, problem.section, problem.key) == (3, "circus", key)
    assert message in problem.message


def test_stats_endpoint_turns_statsd_on_with_a_warning(load):
    config = load("[circus]\nstats_endpoint = tcp://127.0.0.1:5557\n")
    assert config.circus.statsd is True
    assert any("stats_endpoint implies statsd = true" in w.message for w in config.warnings)
    assert (
        load("[circus]\nstats_endpoint = tcp://127.0.0.1:5557\nstatsd = false\n").circus.statsd
        is False
    )


def test_unknown_circus_key_is_a_warning_with_suggestion(load):
    config = load("[circus]\ncheck_dealy = 3\n")
    (warning,) = config.warnings
    assert warning.suggestion == "check_delay"
    assert config.circus.check_delay == 5.0


@pytest.mark.parametrize("host", ["0.0.0.0", "*", "192.168.1.4", "eth0", "[::]"])
def test_non_loopback_tcp_endpoint_needs_curve(load, host):
    (problem,) = load.problems(f"[circus]\nendpoint = tcp://{host}:5555\n")
    assert problem.key == "endpoint" and "curve_secret_key" in problem.message


def test_curve_keys_allow_public_endpoints(load, tmp_path):
    (tmp_path / "server.key_secret").write_text("secret-key = x\n")
    (tmp_path / "clients").mkdir()
    config = load(
        f"""
        [circus]
        endpoint = tcp://0.0.0.0:5555
        pubsub_endpoint = tcp://0.0.0.0:5556
        curve_secret_key = {tmp_path}/server.key_secret
        curve_public_keys = {tmp_path}/clients
        """
    )
    assert config.circus.curve
    assert config.circus.curve_public_keys == f"{tmp_path}/clients"


def test_curve_keys_must_exist_and_come_in_pairs(load, tmp_path):
    messages = load.messages(f"[circus]\ncurve_secret_key = {tmp_path}/missing\n")
    assert any("needs curve_public_keys too" in m for m in messages)
    assert any("no such key file" in m for m in messages)
    messages = load.messages(
        f"[circus]\ncurve_public_keys = {tmp_path}/nodir\ncurve_secret_key = {tmp_path}/x\n"
    )
    assert any("no such directory" in m for m in messages)


def test_endpoints_must_differ(load):
    (problem,) = load.problems(
        "[circus]\nendpoint = tcp://127.0.0.1:5555\npubsub_endpoint = tcp://127.0.0.1:5555\n"
    )
    assert problem.key == "pubsub_endpoint" and "same as endpoint" in problem.message


def test_kernel_endpoint_forms(load):
    assert load("[circus]\npapa_endpoint = /run/k.sock\n").circus.papa_endpoint == "/run/k.sock"
    assert (
        load("[circus]\npapa_endpoint = ipc:///run/k.sock\n").circus.papa_endpoint
        == "ipc:///run/k.sock"
    )
    (problem,) = load.problems("[circus]\npapa_endpoint = ipc://relative.sock\n")
    assert "absolute path" in problem.message


# --- sockets -------------------------------------------------------------------------------------


def test_socket_defaults(load):
    sock = load("[socket:Web]\nport = 8080\n").sockets[0]
    assert sock == SocketConfig(name="web")
    assert (sock.host, sock.port, sock.family, sock.type, sock.backlog) == (
        "localhost",
        8080,
        "inet",
        "stream",
        2048,
    )
    assert (sock.umask, sock.replace, sock.so_reuseport, sock.blocking, sock.use_papa) == (
        None,
        False,
        False,
        False,
        True,
    )


SOCKET_CASES = {
    "host": ("0.0.0.0", "0.0.0.0", None, None),
    "port": ("0", 0, "http", "expected an integer"),
    "family": ("AF_INET6", "inet6", "AF_IPX", "a socket family"),
    "type": ("SOCK_DGRAM", "dgram", "SOCK_FANCY", "a socket type"),
    "proto": ("udp", 17, "nosuchproto", "protocol"),
    "backlog": ("128", 128, "-1", ">= 0"),
    "interface": ("eth0", "eth0", None, None),
    "umask": ("000", 0, "8", "octal"),
    "replace": ("true", True, "replace", "boolean"),
    "so_reuseport": ("true", True, "x", "boolean"),
    "blocking": ("true", True, "x", "boolean"),
    "use_papa": ("false", False, "x", "boolean"),
    "path": ("/tmp/x.sock", "/tmp/x.sock", None, None),
    "systemd": ("true", True, "x", "boolean"),
    "systemd_name": ("web", "web", None, None),
}


def test_every_socket_key_has_a_case():
    from circus.config.sections import SOCKET_OPTIONS

    assert set(SOCKET_CASES) == set(SOCKET_OPTIONS)


@pytest.mark.parametrize("key", sorted(SOCKET_CASES))
def test_socket_valid_value(load, key):
    text, expected, _bad, _message = SOCKET_CASES[key]
    sock = load(f"[socket:s]\n{key} = {text}\n").sockets[0]
    assert getattr(sock, key) == expected


@pytest.mark.parametrize("key", sorted(k for k, v in SOCKET_CASES.items() if v[2] is not None))
def test_socket_invalid_value(load, key):
    _text, _expected, bad, message = SOCKET_CASES[key]
    (problem,) = load.problems(f"[socket:s]\nhost = localhost\n{key} = {bad}\n")
    assert (problem.line, problem.section, problem.key) == (3, "socket:s", key)
    assert message in problem.message


def test_systemd_socket_takes_its_address_from_the_socket_unit(load):
    sock = load("[socket:web]\nsystemd = true\n").sockets[0]
    assert (sock.systemd, sock.systemd_name) == (True, None)
    assert load("[socket:web]\nsystemd_name = www\n").sockets[0].systemd is True
    problems = load.problems("[socket:web]\nsystemd = true\nport = 80\nuse_papa = false\n")
    assert sorted(p.key for p in problems) == ["port", "use_papa"]
    assert any("ListenStream=" in p.message for p in problems)


def test_path_forces_unix_family(load):
    config = load("[socket:s]\npath = /tmp/s.sock\nfamily = AF_INET\n")
    assert config.sockets[0].family == "unix"
    assert any("forces family" in w.message for w in config.warnings)
    (problem,) = load.problems("[socket:s]\nfamily = AF_UNIX\n")
    assert "needs a 'path'" in problem.message


def test_socket_names_are_lowercased_and_checked(load):
    assert load("[socket:WebApp]\nport = 1\n").sockets[0].name == "webapp"
    (problem,) = load.problems("[socket:my socket]\nport = 1\n")
    assert "letters, digits" in problem.message


def test_unknown_socket_key_warns(load):
    config = load("[socket:s]\nhots = h\n")
    assert config.warnings[0].suggestion == "host"


# --- plugins -------------------------------------------------------------------------------------


def test_plugin_keys(load):
    config = load(
        """
        [plugin:flapping]
        use = circus.plugins.flapping.Flapping
        window = 10
        priority = 1000
        max_retry = 5
        """
    )
    (plugin,) = config.plugins
    assert plugin == PluginConfig(
        "flapping",
        "circus.plugins.flapping.Flapping",
        {"window": "10", "priority": "1000", "max_retry": "5"},
        {"priority": 1000, "max_retry": 5},
    )
    assert plugin.watcher_name == "plugin:flapping"
    assert plugin.priority == 1000
    assert config.get_plugin("plugin:FLAPPING") is plugin


def test_plugin_needs_use(load):
    messages = load.messages("[plugin:p]\nhost = x\n[plugin:q]\nuse = not a path\n")
    assert any("[plugin:p] use: missing required key 'use'" in m for m in messages)
    assert any("[plugin:q] use:" in m and "dotted Python name" in m for m in messages)


def test_plugin_watcher_options_are_validated(load):
    (problem,) = load.problems("[plugin:p]\nuse = a.B\ngraceful_timeout = later\n")
    assert (problem.line, problem.key) == (3, "graceful_timeout")


def test_plugin_default_priority():
    assert PluginConfig("p", "a.B").priority == 1


def test_plugin_and_watcher_env_substitution(load):
    config = load(
        "[plugin:p]\nuse = some.path\nparameter1 = $(circus.env.plugin_param)\n"
        "[env]\nplugin_param = 42\n"
    )
    assert config.plugins[0].config["parameter1"] == "42"
