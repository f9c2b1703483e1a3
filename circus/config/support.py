"""Support watchers: the processes circusd runs for itself (plugins, circusd-stats, circushttpd).

Each is an ordinary :class:`WatcherConfig` added to ``CircusConfig.watchers`` when the
configuration is loaded, so circusd starts, lists (``status``, ``list``), stops and reloads it
like any other watcher, and ``reloadconfig`` adds, removes or restarts it when its section
changes (its command line changes with its settings). What makes them *support* watchers:

* they run ``python -m MODULE ...`` with circusd's own interpreter (:func:`support_watcher`);
* they are direct children of circusd (``use_papa = false``, DESIGN.md): they talk to circusd
  and have no reason to outlive it;
* defaults as the original's: ``singleton``, ``copy_env``, ``copy_path`` (the plugin's module
  imports as it did for circusd); their output goes to circusd's stdout/stderr unless the
  section says otherwise.

A **provider** is a function ``(config, environ) -> iterable of WatcherConfig`` (and
``SocketConfig``, for one that needs a socket) listed in :data:`PROVIDERS`; :func:`with_support`
calls each once per load, after the sections are checked. :func:`plugin_watchers` makes
``plugin:NAME`` of every ``[plugin:NAME]``. circusd-stats and circushttpd add theirs the same
way (see docs/dev/support-watchers.md).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from circus.config import converters as cv
from circus.config import env as envlib
from circus.config.flapping import FLAPPING_PLUGIN
from circus.config.ini import Entry
from circus.config.model import CircusConfig, PluginConfig, SocketConfig, WatcherConfig, thaw
from circus.config.problems import NOWHERE, Problems
from circus.config.watchers import finish, gather
from circus.errors import ConfigError
from papa_kernel import records

#: What every support watcher is unless its section says otherwise (the original's choices).
SUPPORT_DEFAULTS: Mapping[str, Any] = {"singleton": True, "copy_env": True, "copy_path": True}
#: A plugin's watcher also starts before the other watchers (the original's priority 1).
PLUGIN_DEFAULTS: Mapping[str, Any] = {**SUPPORT_DEFAULTS, "priority": 1}
#: The module ``python -m`` runs for a plugin (``circus-plugin``).
PLUGIN_RUNNER = "circus.cli.plugin"
#: Plugin classes circusd applies itself (policy in circusd, DESIGN.md): no process is run.
BUILT_INTO_CIRCUSD = frozenset({FLAPPING_PLUGIN})
#: Keys of a plugin section that are for circusd, not for the plugin's constructor.
PLUGIN_OWN_KEYS = frozenset({"use", "active", "curve_secret_key"})

#: ``(config, environ) -> watchers (and sockets) to add``; see :func:`with_support`.
Provider = Callable[[CircusConfig, Mapping[str, str]], Iterable[WatcherConfig | SocketConfig]]


def support_watcher(
    name: str,
    module: str,
    arguments: Sequence[str],
    config: CircusConfig,
    options: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    section: str | None = None,
) -> WatcherConfig:
    """The watcher ``name`` running ``python -m module *arguments`` as a support process.

    ``options`` are watcher options as a section or ``add`` gives them (text or JSON values;
    ``env`` sections and ``$(circus.env.*)`` apply as to any watcher); they override
    :data:`SUPPORT_DEFAULTS`, except ``use_papa``, which is always false. ``environ`` is
    circusd's environment (default: ``os.environ``). Raises :class:`ConfigError` (located at
    ``section``, default ``watcher:NAME``) if an option is wrong.
    """
    import os

    environ = os.environ if environ is None else environ
    section = section or f"watcher:{name}"
    problems = Problems()
    merged = {**SUPPORT_DEFAULTS, **(options or {})}
    entries = [Entry(str(key), value, NOWHERE) for key, value in merged.items()]
    copy_env = cv.to_bool(merged.get("copy_env", False))
    env = envlib.watcher_env(name, copy_env, environ, config.env, config.env_sections)
    values: dict[str, Any] = {"env": env}
    lookup = envlib.lookup_env(name, environ, config.env, config.env_sections)
    values, free = gather(entries, section, problems, values, lookup, strict=True)
    values["cmd"] = _quote(sys.executable)
    values["args"] = ("-m", module, *arguments)
    values["use_papa"] = False
    watcher = finish(name, values, free, problems, section)
    problems.raise_if_errors()
    assert watcher is not None
    return watcher


def _quote(word: str) -> str:
    """``cmd`` is split like a shell would: keep an interpreter path with spaces whole."""
    import shlex

    return shlex.quote(word)


# --- plugins -------------------------------------------------------------------------------


def plugin_arguments(plugin: PluginConfig, config: CircusConfig) -> list[str]:
    """The ``circus-plugin`` arguments of a plugin: circusd's endpoints, ``--config KEY:VALUE``
    for each key of the section that is for the plugin, logging as circusd's, the class."""
    settings = config.circus
    arguments = [
        "--endpoint",
        settings.endpoint,
        "--pubsub",
        settings.pubsub_endpoint,
        "--check-delay",
        str(settings.check_delay),
    ]
    arguments += ["--watcher", plugin.watcher_name]
    if settings.curve:  # the server's certificate file holds its public key too
        own = plugin.config.get("curve_secret_key") or settings.curve_secret_key
        arguments += ["--curve-secret-key", str(own)]
        arguments += ["--curve-server-key", str(settings.curve_secret_key)]
    for key, value in plugin_constructor_config(plugin).items():
        arguments += ["--config", f"{key}:{value}"]
    level = "debug" if settings.debug else settings.loglevel
    if level:
        arguments += ["--log-level", level]
    if settings.logoutput:
        arguments += ["--log-output", settings.logoutput]
    arguments.append(plugin.use)
    return arguments


def plugin_constructor_config(plugin: PluginConfig) -> dict[str, str]:
    """The section's keys that go to the plugin's constructor (as text): every key but
    ``use``, ``active``, ``curve_secret_key`` and the watcher options."""
    return {
        key: value if isinstance(value, str) else json.dumps(thaw(value))
        for key, value in plugin.config.items()
        if key not in PLUGIN_OWN_KEYS and key not in plugin.watcher_options
    }


def plugin_watcher(
    plugin: PluginConfig, config: CircusConfig, environ: Mapping[str, str] | None = None
) -> WatcherConfig:
    """The watcher ``plugin:NAME`` that runs ``plugin`` with ``circus-plugin``. An inactive
    plugin (``active = false``) gets a watcher that does not start on its own."""
    section = f"plugin:{plugin.name}"
    options: dict[str, Any] = {
        **PLUGIN_DEFAULTS,
        **{key: plugin.config[key] for key in plugin.watcher_options},
    }
    try:
        active = cv.to_bool(plugin.config.get("active", True))
    except ValueError as exc:
        raise ConfigError(Problems().make(str(exc), section=section, key="active")) from None
    if not active:
        options["autostart"] = False
    return support_watcher(
        plugin.watcher_name,
        PLUGIN_RUNNER,
        plugin_arguments(plugin, config),
        config,
        options,
        environ,
        section,
    )


def plugin_watchers(config: CircusConfig, environ: Mapping[str, str]) -> Iterator[WatcherConfig]:
    """A watcher per ``[plugin:NAME]``, except the plugins circusd applies itself."""
    for plugin in config.plugins:
        if plugin.use not in BUILT_INTO_CIRCUSD:
            yield plugin_watcher(plugin, config, environ)


# --- circusd-stats ---------------------------------------------------------------------------

#: The module ``python -m`` runs for ``statsd = true`` (``circusd-stats``).
STATS_RUNNER = "circus.cli.circusd_stats"
STATS_WATCHER = "circusd-stats"


def stats_watchers(config: CircusConfig, environ: Mapping[str, str]) -> Iterator[WatcherConfig]:
    """The watcher ``circusd-stats`` when ``[circus] statsd = true``, publishing on
    ``stats_endpoint`` every ``statsd_interval`` seconds; ``statsd_close_outputs`` sends its
    output to /dev/null."""
    settings = config.circus
    if not settings.statsd:
        return
    arguments = ["--endpoint", settings.endpoint, "--pubsub", settings.pubsub_endpoint]
    arguments += ["--statspoint", settings.stats_endpoint, "--die-with-parent"]
    arguments += ["--interval", f"{settings.statsd_interval:g}"]
    if settings.curve:  # as a plugin's: the server's certificate holds its public key too
        arguments += ["--curve-secret-key", str(settings.curve_secret_key)]
        arguments += ["--curve-server-key", str(settings.curve_secret_key)]
    level = "debug" if settings.debug else settings.loglevel
    if level:
        arguments += ["--log-level", level]
    if settings.logoutput:
        arguments += ["--log-output", settings.logoutput]
    # circusd's own sockets (use_papa = false), inherited by name, so that it counts their
    # hits; so_reuseport ones are left out (a child gets a listening copy of its own, which
    # would take connections). A change of one of them restarts circusd-stats.
    for sock in config.sockets:
        if not sock.use_papa and not sock.so_reuseport:
            arguments += ["--socket", f"{sock.name}=$(circus.sockets.{sock.name})"]
    quiet = settings.statsd_close_outputs
    options = {"close_child_stdout": quiet, "close_child_stderr": quiet}
    yield support_watcher(
        STATS_WATCHER, STATS_RUNNER, arguments, config, options, environ, section="circus"
    )


# --- circushttpd ------------------------------------------------------------------------------

#: The module ``python -m`` runs for ``[circus] httpd = true``.
HTTPD_MODULE = "circus.cli.circushttpd"
HTTPD_NAME = "circushttpd"


def httpd_token_file(port: int) -> str:
    """Where circushttpd keeps its login token when circusd runs it without an auth file:
    ``<runtime dir>/circushttpd-<port>.token`` (0600; ``cat`` it to log in)."""
    import os

    from papa_kernel.paths import runtime_dir

    return os.path.join(runtime_dir(), f"circushttpd-{port}.token")


def httpd_arguments(config: CircusConfig) -> list[str]:
    """circushttpd's command line for ``[circus] httpd = true``; ConfigError for a host reachable
    from other machines without ``httpd_auth_file`` (circushttpd would refuse to start)."""
    from circus.util.endpoints import host_is_loopback

    settings = config.circus
    if not settings.httpd_auth_file and not host_is_loopback(settings.httpd_host):
        message = (
            f"{settings.httpd_host!r} is reachable from other machines: the web console needs "
            "httpd_auth_file there (users made with: circushttpd --auth-file FILE --add-user "
            "NAME), or bind localhost"
        )
        raise ConfigError(Problems().make(message, section="circus", key="httpd_host"))
    arguments = ["--host", settings.httpd_host, "--port", str(settings.httpd_port)]
    arguments += ["--endpoint", settings.endpoint, "--with-circusd"]
    if settings.httpd_auth_file:
        arguments += ["--auth-file", settings.httpd_auth_file]
    else:
        arguments += ["--token-file", httpd_token_file(settings.httpd_port)]
    level = "debug" if settings.debug else settings.loglevel
    if level:
        arguments += ["--log-level", level]
    if settings.logoutput:
        arguments += ["--log-output", settings.logoutput]
    return arguments


def httpd_watchers(config: CircusConfig, environ: Mapping[str, str]) -> Iterator[WatcherConfig]:
    """The watcher ``circushttpd`` when ``[circus] httpd = true``."""
    settings = config.circus
    if not settings.httpd:
        return
    quiet = settings.httpd_close_outputs
    yield support_watcher(
        HTTPD_NAME,
        HTTPD_MODULE,
        httpd_arguments(config),
        config,
        {"close_child_stdout": quiet, "close_child_stderr": quiet},
        environ,
        section="circus",
    )


#: Every provider of support watchers, called in this order.
PROVIDERS: tuple[Provider, ...] = (plugin_watchers, stats_watchers, httpd_watchers)


def with_support(
    config: CircusConfig, problems: Problems, environ: Mapping[str, str] | None = None
) -> CircusConfig:
    """``config`` with what every provider adds: support watchers (and the sockets they use,
    for a provider that needs one: give it ``use_papa = False``), sorted by name as the loader
    sorts them. A provider's :class:`ConfigError` is recorded in ``problems`` and what it
    would have added is left out."""
    import os

    environ = os.environ if environ is None else environ
    added: list[WatcherConfig | SocketConfig] = []
    for provider in PROVIDERS:
        try:
            added.extend(list(provider(config, environ)))
        except ConfigError as exc:
            problems.extend(exc)
    if not added:
        return config
    watchers = [item for item in added if isinstance(item, WatcherConfig)]
    sockets = [item for item in added if isinstance(item, SocketConfig)]
    return records.replace(
        config,
        watchers=tuple(sorted((*config.watchers, *watchers), key=lambda w: w.name.lower())),
        sockets=tuple(sorted((*config.sockets, *sockets), key=lambda s: s.name)),
    )
