"""Rules that span sections: names, socket references, ``use_papa`` agreement, endpoint security.

Run once every section has been built; each rule records problems and never raises.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from circus.config import env as envlib
from circus.config.ini import Entry
from circus.config.limits import process_limit
from circus.config.model import CircusSettings, EnvSection, SocketConfig, WatcherConfig
from circus.config.problems import NOWHERE, Origin, Problems
from circus.config.substitution import referenced_sockets
from circus.util.endpoints import parse_endpoint
from circus.util.netif import is_loopback_interface
from circus.util.suggest import nearest

PUBLIC_ENDPOINTS = ("endpoint", "pubsub_endpoint", "stats_endpoint")


def _ref_key(watcher: WatcherConfig, name: str) -> str:
    """The key in which ``watcher`` refers to socket ``name``."""
    for key in ("cmd", "args", "shell_args"):
        if name in referenced_sockets(getattr(watcher, key)):
            return key
    return "stdin_socket"


def check_watcher_sockets(
    watcher: WatcherConfig,
    sockets: Mapping[str, SocketConfig],
    problems: Problems,
    origin: Origin,
    key_origins: Mapping[str, Entry] | None = None,
) -> None:
    """Every socket a watcher uses exists, is inherited, and is hosted where its processes are
    (a kernel-hosted process cannot inherit a socket held by circusd, and the other way round).
    Problems are placed on the line of the key involved when ``key_origins`` has it."""
    section = f"watcher:{watcher.name}"

    def at(key: str) -> Origin:
        entry = (key_origins or {}).get(key)
        return entry.origin if entry is not None else origin

    for name in sorted(watcher.socket_refs):
        key = _ref_key(watcher, name)
        sock = sockets.get(name)
        if sock is None:
            problems.error(
                f"uses socket {name!r}, which is not defined (no [socket:{name}])",
                at(key),
                section,
                key,
                nearest(name, sockets),
            )
            continue
        if sock.use_papa != watcher.use_papa:
            problems.error(
                f"watcher {watcher.name!r} has use_papa = {str(watcher.use_papa).lower()} but its "
                f"socket {name!r} has use_papa = {str(sock.use_papa).lower()}: a watcher and the "
                "sockets it uses must both be hosted by papa-kernel or both by circusd",
                at("use_papa") if "use_papa" in (key_origins or {}) else at(key),
                section,
                "use_papa",
            )
    refs = referenced_sockets(watcher.cmd, watcher.args, watcher.shell_args)
    if refs and not watcher.use_sockets:
        problems.error(
            f"cmd/args use socket(s) {', '.join(sorted(refs))} but use_sockets is false: the "
            "processes would not inherit them (set use_sockets = true)",
            at("use_sockets")
            if "use_sockets" in (key_origins or {})
            else at(_ref_key(watcher, min(refs))),
            section,
            "use_sockets",
        )


def check_unique(names: Sequence[tuple[str, Origin, str]], what: str, problems: Problems) -> None:
    """Names that differ only in case are the same name for lookup: refuse both."""
    seen: dict[str, tuple[str, Origin]] = {}
    for name, origin, section in names:
        first = seen.setdefault(name.lower(), (name, origin))
        if first[0] != name:
            where = f"{first[1].file}:{first[1].line}" if first[1].file else "before"
            problems.error(
                f"{what} {name!r} and {first[0]!r} ({where}) differ only in case; "
                f"{what} names are case-insensitive",
                origin,
                section,
            )


def check_env_patterns(
    sections: Sequence[tuple[EnvSection, Origin, str]],
    watcher_names: Sequence[str],
    problems: Problems,
) -> None:
    for env_section, origin, section_name in sections:
        if not any(envlib.matches(env_section, name) for name in watcher_names):
            problems.warn(
                f"[{section_name}] matches no watcher",
                origin,
                section_name,
                suggestion=_pattern_hint(env_section, watcher_names),
            )


def _pattern_hint(env_section: EnvSection, names: Sequence[str]) -> str | None:
    hints = [nearest(p, names) for p in env_section.patterns]
    return next((f"env:{h}" for h in hints if h), None)


def check_endpoints(
    settings: CircusSettings, entries: Mapping[str, Entry], problems: Problems
) -> None:
    """DESIGN.md: a TCP endpoint on a non-loopback address needs ZeroMQ CURVE keys; the CURVE
    keys come in pairs and must exist; two sockets cannot share an endpoint."""

    def origin(key: str) -> Origin:
        entry = entries.get(key)
        return entry.origin if entry is not None else NOWHERE

    secret, public = settings.curve_secret_key, settings.curve_public_keys
    if bool(secret) != bool(public):
        missing = "curve_public_keys" if secret else "curve_secret_key"
        given = "curve_secret_key" if secret else "curve_public_keys"
        problems.error(
            f"{given} needs {missing} too (CURVE needs the server's secret key and "
            "the authorized clients' public keys)",
            origin(given),
            "circus",
            given,
        )
    if secret and not os.path.isfile(secret):
        problems.error(
            f"no such key file {secret!r}", origin("curve_secret_key"), "circus", "curve_secret_key"
        )
    if public and not os.path.isdir(public):
        problems.error(
            f"no such directory {public!r}",
            origin("curve_public_keys"),
            "circus",
            "curve_public_keys",
        )
    seen: dict[str, str] = {}
    for key in PUBLIC_ENDPOINTS:
        value = getattr(settings, key)
        if value in seen:
            problems.error(
                f"{key} is the same as {seen[value]} ({value})", origin(key), "circus", key
            )
        seen[value] = key
        endpoint = parse_endpoint(value)
        if endpoint.scheme == "tcp" and not endpoint.is_loopback and not settings.curve:
            problems.error(
                f"{value} accepts connections from other machines: set curve_secret_key and "
                "curve_public_keys (ZeroMQ CURVE), or use a loopback address or an ipc:// socket",
                origin(key),
                "circus",
                key,
            )
        elif endpoint.scheme == "ipc" and not (endpoint.path or "").startswith("/"):
            problems.warn(
                f"{value} is relative to circusd's working directory", origin(key), "circus", key
            )


def check_discovery(
    settings: CircusSettings, entries: Mapping[str, Entry], problems: Problems
) -> None:
    """Multicast discovery announces ``endpoint``: on loopback interfaces only, unless
    ``multicast_interfaces`` names others, and then only a CURVE-protected TCP endpoint that
    other machines can reach (docs/remote.md, "Discovery")."""
    entry = entries.get("multicast_interfaces")
    origin = entry.origin if entry is not None else NOWHERE
    if not settings.multicast_endpoint:
        if entry is not None:
            problems.warn(
                "multicast_interfaces has no effect without multicast_endpoint (discovery is off)",
                origin,
                "circus",
                "multicast_interfaces",
            )
        return
    others = [n for n in settings.multicast_interfaces if not is_loopback_interface(n)]
    if not others:
        return
    endpoint = parse_endpoint(settings.endpoint)
    if endpoint.scheme != "tcp" or endpoint.is_loopback or not settings.curve:
        problems.error(
            f"multicast_interfaces = {' '.join(settings.multicast_interfaces)} would announce "
            f"endpoint {settings.endpoint} to other machines on {', '.join(others)}: only a "
            "tcp:// endpoint they can reach, protected by CURVE (curve_secret_key, "
            "curve_public_keys), is announced beyond loopback; name only loopback "
            "interfaces (lo), or change endpoint",
            origin,
            "circus",
            "multicast_interfaces",
        )


def check_process_count(
    watcher: WatcherConfig,
    settings: CircusSettings,
    problems: Problems,
    origin: Origin,
    key_origins: Mapping[str, Entry] | None = None,
) -> None:
    """A watcher's ``numprocesses`` is within the process limit (:mod:`circus.config.limits`),
    placed on the ``numprocesses`` line when ``key_origins`` has it."""
    try:
        process_limit(settings.max_processes).check(watcher.numprocesses)
    except ValueError as exc:
        entry = (key_origins or {}).get("numprocesses")
        problems.error(
            str(exc),
            entry.origin if entry is not None else origin,
            f"watcher:{watcher.name}",
            "numprocesses",
        )


def check_users(
    watcher: WatcherConfig,
    problems: Problems,
    origin: Origin,
    key_origins: Mapping[str, Entry] | None = None,
) -> None:
    """A ``uid``/``gid`` name unknown on this machine is a warning at its line: spawning would
    fail ("unknown user"), but the file may be meant for a machine that has it. Numeric ids
    are used as they are (a container's user needs no passwd entry)."""
    import grp
    import pwd

    for key, kind, lookup in (("uid", "user", pwd.getpwnam), ("gid", "group", grp.getgrnam)):
        value = getattr(watcher, key)
        if not isinstance(value, str) or value.isdigit():
            continue
        try:
            lookup(value)
        except KeyError:
            entry = (key_origins or {}).get(key)
            problems.warn(
                f"no {kind} {value!r} on this machine (its processes cannot be spawned here)",
                entry.origin if entry is not None else origin,
                f"watcher:{watcher.name}",
                key,
            )
