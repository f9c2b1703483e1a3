"""Building the ``[circus]``, ``[socket:NAME]`` and ``[plugin:NAME]`` sections into the model.

Each builder reads a merged :class:`~circus.config.ini.Section` (from a file or the dict form),
converts every key with its converter, records problems with their origin, and returns the model
object (or None when the section cannot be built). Unknown keys are warnings with a suggestion.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import Any

from circus.config import converters as cv
from circus.config.ini import Entry, Section
from circus.config.limits import MAX_PROCESSES_CEILING
from circus.config.model import CircusSettings, FrozenMap, PluginConfig, SocketConfig
from circus.config.problems import Problems
from circus.config.schema import (
    WATCHER_OPTIONS,
    WATCHER_PREFIXES,
    convert_watcher_option,
    split_key,
)
from circus.config.substitution import substitute_env
from circus.config.watchers import check_name
from circus.errors import ConfigError, ConfigProblem
from circus.util.endpoints import parse_endpoint, parse_multicast
from circus.util.suggest import nearest
from papa_kernel import records

Converter = Callable[[Any], Any]

#: The smallest ``statsd_interval``: circusd-stats' own minimum of ``--interval``
#: (circus.cli.circusd_stats.MIN_INTERVAL; a test checks that they agree).
STATS_MIN_INTERVAL = 0.1
LOG_LEVELS = {n: n for n in ("debug", "info", "warning", "error", "critical")} | {"warn": "warning"}


def to_zmq_endpoint(value: Any) -> str:
    """``ipc://PATH`` or ``tcp://HOST:PORT`` (a ZeroMQ endpoint circusd binds)."""
    text = cv.to_str(value).strip()
    if not text.startswith(("ipc://", "tcp://")):
        raise ValueError(
            f"expected an ipc://PATH or tcp://HOST:PORT endpoint, got {cv.show(value)}"
        )
    endpoint = parse_endpoint(text)
    if endpoint.scheme == "tcp":
        cv.to_int(endpoint.port, 1, 65535)
    return text


def to_kernel_endpoint(value: Any) -> str:
    """papa-kernel's address: ``ipc:///abs/path``, ``/abs/path``, or ``tcp://127.0.0.1:PORT``
    (loopback only: the kernel has no authentication)."""
    text = cv.to_str(value).strip()
    try:
        endpoint = parse_endpoint(text)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    if endpoint.scheme == "ipc" and not (endpoint.path or "").startswith("/"):
        raise ValueError(f"the kernel socket must be an absolute path, got {cv.show(value)}")
    if endpoint.scheme == "tcp":
        cv.to_int(endpoint.port, 1, 65535)
        if not endpoint.is_loopback:
            raise ValueError(f"the kernel listens on loopback only, got {cv.show(value)}")
    return text


def to_multicast(value: Any) -> str | None:
    """``udp://ADDR:PORT`` with a multicast address (224.0.0.0-239.255.255.255); empty: off."""
    text = cv.to_optional_str(value)
    if text is None:
        return None
    try:
        parse_multicast(text)
    except ValueError:
        raise ValueError(
            f"expected udp://MULTICAST_ADDR:PORT (224.0.0.0-239.255.255.255), got {cv.show(value)}"
        ) from None
    return text.strip()


def to_interfaces(value: Any) -> tuple[str, ...]:
    """Network interface names, separated by whitespace or commas (at least one)."""
    names = _words(value.replace(",", " ") if isinstance(value, str) else value)
    bad = [n for n in names if not n or len(n) > 15 or "/" in n or not n.isprintable()]
    if not names or bad:
        raise ValueError(
            f"expected network interface names such as 'lo eth0', got {cv.show(value)}"
        )
    return names


def _words(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(cv.to_str(v) for v in value)
    return tuple(cv.to_str(value).split())


def _module_names(value: Any) -> tuple[str, ...]:
    """Python module names, separated by whitespace or commas."""
    words = (
        value if isinstance(value, (list, tuple)) else cv.to_str(value).replace(",", " ").split()
    )
    names = tuple(cv.to_dotted_name(word) for word in words)
    if any(":" in name for name in names):
        raise ValueError(
            f"expected module names such as 'myproject.commands', got {cv.show(value)}"
        )
    return names


CIRCUS_OPTIONS: dict[str, Converter] = {
    "endpoint": to_zmq_endpoint,
    "pubsub_endpoint": to_zmq_endpoint,
    "stats_endpoint": to_zmq_endpoint,
    "papa_endpoint": to_kernel_endpoint,
    "multicast_endpoint": to_multicast,
    "multicast_interfaces": to_interfaces,
    "endpoint_owner": cv.to_optional_str,
    "curve_secret_key": cv.to_optional_str,
    "curve_public_keys": cv.to_optional_str,
    "check_delay": cv.to_duration,
    "warmup_delay": cv.to_duration,
    "statsd": cv.to_bool,
    "statsd_close_outputs": cv.to_bool,
    "statsd_interval": lambda v: cv.to_duration(v, STATS_MIN_INTERVAL),
    "httpd": cv.to_bool,
    "httpd_host": lambda v: cv.to_optional_str(v) or "localhost",
    "httpd_port": lambda v: cv.to_int(v, 1, 65535),
    "httpd_close_outputs": cv.to_bool,
    "httpd_auth_file": cv.to_optional_str,
    "debug": cv.to_bool,
    "debug_gc": cv.to_bool,
    "stream_backend": lambda v: cv.to_choice(
        v, {"thread": "thread", "gevent": "gevent"}, "a backend"
    ),
    "pidfile": cv.to_optional_str,
    "umask": cv.to_octal,
    "loglevel": lambda v: cv.to_choice(v, LOG_LEVELS, "a log level"),
    "logoutput": cv.to_optional_str,
    "loggerconfig": cv.to_optional_str,
    "fqdn_prefix": cv.to_optional_str,
    "include": _words,
    "include_dir": _words,
    "commands": _module_names,
    "max_processes": lambda v: cv.to_int(v, 1, MAX_PROCESSES_CEILING),
}

FAMILIES = {
    "af_inet": "inet",
    "inet": "inet",
    "af_inet6": "inet6",
    "inet6": "inet6",
    "af_unix": "unix",
    "unix": "unix",
}
TYPES = {
    f"{p}{t}": t for t in ("stream", "dgram", "raw", "rdm", "seqpacket") for p in ("", "sock_")
}
PROTOCOLS = {"ip": 0, "icmp": 1, "tcp": 6, "udp": 17, "ipv6": 41, "icmpv6": 58, "sctp": 132}


def to_proto(value: Any) -> int:
    """A protocol number, or a name (``tcp``, ``udp``, ``sctp``... or any in /etc/protocols)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return cv.to_int(value, 0, 255)
    text = cv.to_str(value).strip().lower()
    if text.isdigit():
        return cv.to_int(text, 0, 255)
    if text in PROTOCOLS:
        return PROTOCOLS[text]
    try:
        return socket.getprotobyname(text)
    except (OSError, ValueError):
        raise ValueError(f"expected a protocol name or number, got {cv.show(value)}") from None


SOCKET_OPTIONS: dict[str, Converter] = {
    "host": lambda v: cv.to_optional_str(v) or "localhost",
    "port": cv.to_port,
    "path": cv.to_optional_str,
    "family": lambda v: cv.to_choice(v, FAMILIES, "a socket family"),
    "type": lambda v: cv.to_choice(v, TYPES, "a socket type"),
    "proto": to_proto,
    "backlog": lambda v: cv.to_int(v, 0, 2**31 - 1),
    "interface": cv.to_optional_str,
    "umask": cv.to_octal,
    "replace": cv.to_bool,
    "so_reuseport": cv.to_bool,
    "blocking": cv.to_bool,
    "use_papa": cv.to_bool,
    "systemd": cv.to_bool,
    "systemd_name": cv.to_optional_str,
}
#: Keys that set the address: with ``systemd = true`` the .socket unit sets it instead.
ADDRESS_KEYS = ("host", "port", "path", "family", "interface", "umask", "so_reuseport")


def convert_entries(
    section: Section,
    options: Mapping[str, Converter],
    env: Mapping[str, str],
    problems: Problems,
    what: str,
) -> tuple[dict[str, Any], dict[str, Entry]]:
    """Convert the known keys of ``section``; warn about the others. Returns the values and the
    entries they came from (to place cross-key errors)."""
    values: dict[str, Any] = {}
    entries: dict[str, Entry] = {}
    for entry in section.entries.values():
        convert = options.get(entry.key)
        if convert is None:
            problems.warn(
                f"unknown {what} option {entry.key!r} (ignored)",
                entry.origin,
                section.name,
                entry.key,
                nearest(entry.key, options),
            )
            continue
        raw = substitute_env(entry.value, env) if isinstance(entry.value, str) else entry.value
        try:
            values[entry.key] = convert(raw)
            entries[entry.key] = entry
        except (ValueError, TypeError) as exc:
            problems.error(str(exc), entry.origin, section.name, entry.key)
    return values, entries


def build_settings(
    section: Section | None, env: Mapping[str, str], problems: Problems
) -> tuple[CircusSettings, dict[str, Entry]]:
    """The ``[circus]`` section (defaults when absent)."""
    if section is None:
        return CircusSettings(), {}
    values, entries = convert_entries(section, CIRCUS_OPTIONS, env, problems, "[circus]")
    if "stats_endpoint" in values and "statsd" not in entries:
        problems.warn(
            "stats_endpoint implies statsd = true (set statsd = true or false in [circus] to "
            "silence this warning)",
            entries["stats_endpoint"].origin,
            "circus",
            "stats_endpoint",
        )
        values["statsd"] = True
    return CircusSettings(**values), entries


def build_socket(
    section: Section, env: Mapping[str, str], problems: Problems
) -> SocketConfig | None:
    """A ``[socket:NAME]`` section, or None if its name is unusable."""
    name = section.name.split(":", 1)[1].strip().lower()
    if not name or not all(c.isalnum() or c in "_.-" for c in name):
        problems.error(
            f"socket name {name!r} must be made of letters, digits, '_', '.' and '-' "
            "(it is used as $(circus.sockets.NAME))",
            section.origin,
            section.name,
        )
        return None
    values, entries = convert_entries(section, SOCKET_OPTIONS, env, problems, "socket")
    if values.get("systemd") or "systemd_name" in values:
        _check_systemd_socket(section, values, entries, problems)
    if values.get("path"):
        if values.get("family", "unix") != "unix":
            problems.warn(
                "path forces family = AF_UNIX", entries["family"].origin, section.name, "family"
            )
        values["family"] = "unix"
    elif values.get("family") == "unix":
        problems.error(
            "a unix socket needs a 'path'", entries["family"].origin, section.name, "family"
        )
    return SocketConfig(name=name, **values)


def _check_systemd_socket(
    section: Section, values: dict[str, Any], entries: dict[str, Entry], problems: Problems
) -> None:
    """``systemd = true``: papa-kernel takes the socket systemd passed it (FileDescriptorName
    = ``systemd_name``, default the socket's name; ``systemd_name`` alone implies ``systemd =
    true``); the address is the .socket unit's."""
    if "systemd" in entries and not values["systemd"]:
        return  # systemd = false with a systemd_name: off, as written
    values["systemd"] = True
    if not values.get("use_papa", True):
        reason = "systemd = true needs use_papa = true: systemd passes the socket to papa-kernel"
        problems.error(reason, entries["use_papa"].origin, section.name, "use_papa")
    for key in ADDRESS_KEYS:
        if key in entries:
            problems.error(f"{key} cannot be set with systemd = true: the address is set by "
                           "ListenStream= of the .socket unit", entries[key].origin,
                           section.name, key)  # fmt: skip
            values.pop(key)


#: Watcher keys a plugin section may set for the watcher that runs it (not its command line).
PLUGIN_EXCLUDED = ("cmd", "args", "executable", "shell", "shell_args")


def build_plugin(
    section: Section, env: Mapping[str, str], problems: Problems
) -> PluginConfig | None:
    """A ``[plugin:NAME]`` section, or None if it has no usable ``use``."""
    name = section.name.split(":", 1)[1].strip()
    config: dict[str, Any] = {}
    watcher_options: dict[str, Any] = {}
    use = None
    for entry in section.entries.values():
        raw = substitute_env(entry.value, env) if isinstance(entry.value, str) else entry.value
        if entry.key == "use":
            try:
                use = cv.to_dotted_name(raw)
            except ValueError as exc:
                problems.error(str(exc), entry.origin, section.name, "use")
            continue
        config[entry.key] = raw
        if _is_watcher_key(entry.key) and entry.key not in PLUGIN_EXCLUDED:
            try:
                value = convert_watcher_option(entry.key, raw, section.name)
            except ConfigError as exc:
                problems.errors.extend(_place(p, entry) for p in exc.problems)
                continue
            watcher_options[entry.key] = value
    if "use" not in section.entries:
        problems.error(
            "missing required key 'use' (the plugin class)", section.origin, section.name, "use"
        )
    if not name:
        problems.error("a plugin section needs a name: [plugin:NAME]", section.origin, section.name)
        return None
    try:
        check_name(f"plugin:{name}")  # it runs as that watcher: the same rules
    except ValueError as exc:
        problems.error(str(exc), section.origin, section.name)
        return None
    if use is None:
        return None
    return PluginConfig(name, use, FrozenMap(config), FrozenMap(watcher_options))


def _is_watcher_key(key: str) -> bool:
    try:
        split_key(key)
    except KeyError:
        return False
    return key in WATCHER_OPTIONS or any(key.startswith(p) for p in WATCHER_PREFIXES)


def _place(problem: ConfigProblem, entry: Entry) -> ConfigProblem:
    return records.replace(problem, file=entry.origin.file, line=entry.origin.line)
