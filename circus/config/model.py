"""The configuration model: frozen records that compare by value.

A :class:`CircusConfig` holds the ``[circus]`` settings (:class:`CircusSettings`), the watchers,
sockets and plugins (sorted by name), and the env sections. Everything is immutable and hashable:
mappings are :class:`FrozenMap`, lists are tuples. Two loads of the same files are ``==``;
:func:`circus.config.diff.diff` says what changed between two of them.

Field names are the manual's key names. Defaults are the manual's, except where DESIGN.md's
secure-by-default rule changes them (endpoints, ``use_papa``): see docs/configuration.md.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

from circus.config.limits import DEFAULT_MAX_PROCESSES
from circus.config.substitution import referenced_sockets
from circus.errors import ConfigProblem
from circus.util.endpoints import default_endpoint, default_pubsub_endpoint, default_stats_endpoint
from papa_kernel.paths import default_kernel_socket
from papa_kernel.records import field, frozen_record

_V_co = TypeVar("_V_co", covariant=True)

#: The manual's defaults of a watcher's restart options, which :mod:`circus.restart_policy`'s
#: records take too: failed starts in a row before giving up, the longest back-off between
#: them (seconds), and how long a process must stay up not to count as a failed start.
DEFAULT_MAX_RETRY = 5
DEFAULT_RETRY_IN = 7.0
DEFAULT_MIN_UPTIME = 1.0


class FrozenMap(Mapping[str, _V_co]):
    """An immutable, hashable mapping (insertion order kept; equal to a dict with same items).

    ``FrozenMap[str]`` says what its values are; the values are stored :func:`freeze`-d, so
    ``FrozenMap[Any]`` (or plain ``FrozenMap``) is for values that may be dicts or lists."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, _V_co] | None = None, **kwargs: _V_co):
        self._data: dict[str, _V_co] = {
            key: freeze(value) for key, value in {**(data or {}), **kwargs}.items()
        }
        self._hash: int | None = None

    def __getitem__(self, key: str) -> _V_co:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def freeze(value: Any) -> Any:
    """Make a value immutable: dicts become FrozenMap, lists/sets become tuples."""
    if isinstance(value, FrozenMap):
        return value
    if isinstance(value, Mapping):
        return FrozenMap(value)
    if isinstance(value, (list, tuple, set, frozenset)) and not hasattr(value, "_fields"):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """The JSON-friendly form of a model value: FrozenMap -> dict, tuples -> lists."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return [thaw(item) for item in value]
    if isinstance(value, HookSpec):
        path = (
            value.path if isinstance(value.path, str) else getattr(value.path, "__qualname__", "?")
        )
        return f"{path},{str(value.ignore_errors).lower()}"
    if isinstance(value, StreamConfig):
        return value.as_dict()
    return value


class HookSpec(NamedTuple):
    """``hooks.NAME = dotted.path[, ignore_errors]``. A 2-tuple, as circus hooks expect.
    ``path`` is a dotted name, or (library use only) the callable itself."""

    path: str | Callable[..., Any]
    ignore_errors: bool = False


@frozen_record
class StreamConfig:
    """Where a watcher's stdout or stderr goes: ``class`` plus the class's keyword options."""

    class_name: str
    options: FrozenMap[Any] = field(default_factory=FrozenMap)

    def as_dict(self) -> dict[str, Any]:
        """The original ``stdout_stream`` mapping: ``{"class": ..., **options}``."""
        return {"class": self.class_name, **thaw(self.options)}


@frozen_record
class CircusSettings:
    """The ``[circus]`` section. Defaults follow DESIGN.md: private unix sockets."""

    endpoint: str = field(default_factory=default_endpoint)
    pubsub_endpoint: str = field(default_factory=default_pubsub_endpoint)
    stats_endpoint: str = field(default_factory=default_stats_endpoint)
    papa_endpoint: str = field(default_factory=default_kernel_socket)
    multicast_endpoint: str | None = None  # discovery is off unless set
    multicast_interfaces: tuple[str, ...] = ("lo",)  # where discovery answers (docs/remote.md)
    endpoint_owner: str | None = None
    curve_secret_key: str | None = None
    curve_public_keys: str | None = None
    check_delay: float = 5.0
    warmup_delay: float = 0.0
    statsd: bool = False
    statsd_close_outputs: bool = False
    statsd_interval: float = 1.0  # circusd-stats' --interval
    httpd: bool = False
    httpd_host: str = "localhost"
    httpd_port: int = 8080
    httpd_close_outputs: bool = False
    httpd_auth_file: str | None = None  # circushttpd's users (password logins); else a token
    debug: bool = False
    debug_gc: bool = False
    stream_backend: str = "thread"
    pidfile: str | None = None
    umask: int | None = None
    loglevel: str | None = None  # None: the command line's, else "info"
    logoutput: str | None = None  # None: the command line's, else "-" (stdout)
    loggerconfig: str | None = None
    fqdn_prefix: str | None = None
    include: tuple[str, ...] = ()
    include_dir: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # modules of third-party control commands
    max_processes: int = DEFAULT_MAX_PROCESSES  # see circus.config.limits

    @property
    def curve(self) -> bool:
        """True when ZeroMQ CURVE encryption/authentication is configured."""
        return bool(self.curve_secret_key and self.curve_public_keys)


@frozen_record
class WatcherConfig:
    """A ``[watcher:NAME]`` section. ``name`` keeps its case; look watchers up case-insensitively.

    The first group of fields shapes the processes (changing one restarts them); the second is
    policy circusd applies live. :data:`circus.config.schema.WATCHER_OPTIONS` is the table.
    """

    name: str
    cmd: str
    args: str | tuple[str, ...] = ""
    executable: str | None = None
    shell: bool = False
    shell_args: str | tuple[str, ...] | None = None
    working_dir: str | None = None
    uid: int | str | None = None
    gid: int | str | None = None
    env: FrozenMap[str] = field(default_factory=FrozenMap)
    copy_env: bool = False
    copy_path: bool = False
    virtualenv: str | None = None
    virtualenv_py_ver: str | None = None
    rlimits: FrozenMap[int | None] = field(default_factory=FrozenMap)  # None = unlimited
    use_sockets: bool = False
    stdin_socket: str | None = None
    close_child_stdin: bool = True
    close_child_stdout: bool = False
    close_child_stderr: bool = False
    use_papa: bool = True
    max_age: float = 0.0
    max_age_variance: float = 30.0
    # --- live policy ---
    numprocesses: int = 1
    warmup_delay: float = 0.0
    autostart: bool = True
    respawn: bool = True
    on_demand: bool = False
    singleton: bool = False
    priority: int = 0
    send_hup: bool = False
    reload_outdated: bool = False
    stop_signal: int = int(signal.SIGTERM)
    stop_children: bool = False
    graceful_timeout: float = 30.0
    max_retry: int = DEFAULT_MAX_RETRY
    retry_in: float = DEFAULT_RETRY_IN
    min_uptime: float = DEFAULT_MIN_UPTIME
    check_flapping: bool = True
    flapping: FrozenMap[Any] = field(default_factory=FrozenMap)  # flapping.* overrides
    hooks: FrozenMap[HookSpec] = field(default_factory=FrozenMap)  # by hook name
    stdout_stream: StreamConfig | None = None
    stderr_stream: StreamConfig | None = None
    options: FrozenMap[Any] = field(default_factory=FrozenMap)  # free-form keys, for plugins

    @property
    def socket_refs(self) -> frozenset[str]:
        """Sockets this watcher uses: ``$(circus.sockets.NAME)`` in cmd/args/shell_args, and
        ``stdin_socket`` (lower-cased names)."""
        refs = referenced_sockets(self.cmd, self.args, self.shell_args)
        return refs | {self.stdin_socket.lower()} if self.stdin_socket else refs


@frozen_record
class SocketConfig:
    """A ``[socket:NAME]`` section (name lower-cased). ``family``/``type`` use the short names
    of :class:`circus.hosts.base.SocketSpec` (``inet``, ``inet6``, ``unix``; ``stream``...)."""

    name: str
    host: str = "localhost"
    port: int = 8080
    path: str | None = None
    family: str = "inet"
    type: str = "stream"
    proto: int = 0
    backlog: int = 2048
    interface: str | None = None
    umask: int | None = None
    replace: bool = False
    so_reuseport: bool = False
    blocking: bool = False
    use_papa: bool = True
    systemd: bool = False  # papa-kernel takes the socket systemd passed it (socket activation)
    systemd_name: str | None = None  # its FileDescriptorName= (default: the socket's name)


@frozen_record
class PluginConfig:
    """A ``[plugin:NAME]`` section. ``config`` is every key but ``use``, as written (text, or
    JSON values in the dict form), for the plugin; ``watcher_options`` are the keys that are
    also watcher options, converted, for the watcher that runs the plugin (named
    :attr:`watcher_name`)."""

    name: str
    use: str
    config: FrozenMap[Any] = field(default_factory=FrozenMap)
    watcher_options: FrozenMap[Any] = field(default_factory=FrozenMap)

    @property
    def watcher_name(self) -> str:
        return f"plugin:{self.name}"

    @property
    def priority(self) -> int:
        return int(self.watcher_options.get("priority", 1))


@frozen_record
class EnvSection:
    """An ``[env:PATTERNS]`` section: fnmatch patterns (case-insensitive) and its values."""

    patterns: tuple[str, ...]
    values: FrozenMap[str]


@frozen_record
class CircusConfig:
    """A whole configuration. Compare two with ``==`` or :func:`circus.config.diff.diff`."""

    circus: CircusSettings = field(default_factory=CircusSettings)
    watchers: tuple[WatcherConfig, ...] = ()
    sockets: tuple[SocketConfig, ...] = ()
    plugins: tuple[PluginConfig, ...] = ()
    env: FrozenMap[str] = field(default_factory=FrozenMap)  # the [env] section
    env_sections: tuple[EnvSection, ...] = ()
    path: str | None = field(default=None, compare=False)
    files: tuple[str, ...] = field(default=(), compare=False)
    warnings: tuple[ConfigProblem, ...] = field(default=(), compare=False, repr=False)

    @property
    def uses_kernel(self) -> bool:
        """True if a watcher or socket is hosted by papa-kernel (``use_papa``)."""
        return any(w.use_papa for w in self.watchers) or any(s.use_papa for s in self.sockets)

    def get_watcher(self, name: str) -> WatcherConfig | None:
        """The watcher called ``name``, ignoring case."""
        lowered = name.lower()
        return next((w for w in self.watchers if w.name.lower() == lowered), None)

    def get_socket(self, name: str) -> SocketConfig | None:
        lowered = name.lower()
        return next((s for s in self.sockets if s.name == lowered), None)

    def get_plugin(self, name: str) -> PluginConfig | None:
        """By plugin name (``statsd``) or watcher name (``plugin:statsd``), ignoring case."""
        lowered = name.lower().removeprefix("plugin:")
        return next((p for p in self.plugins if p.name.lower() == lowered), None)
