"""From a watcher's configuration to what a host needs: the SpawnSpec and SocketSpec.

Pure functions of the configuration and a :class:`SpawnContext` (what the arbiter adds: the
configured sockets, ``[circus] umask``, the default working directory): no watcher, no host, no
stream. The watcher calls them and hands the result to its host; it builds its output streams
itself (:func:`circus.streams.watcher_stream`). The translation rules, in one place:

- ``$(circus.sockets.NAME)`` becomes the host placeholder ``$(socket.circus.NAME.fileno)``; the
  host (kernel or local) fills in the fd number of *that* process (with ``so_reuseport`` each
  process has its own socket, so only the host can know it);
- the environment is the config's (``copy_env`` and ``[env]`` sections already merged at load)
  plus ``copy_path`` and ``virtualenv`` additions, computed here because they depend on the
  running circusd;
- ``uid``/``gid`` names are resolved at spawn time (a user may be created after circusd
  started), and an unknown one is a SpawnError naming it.
"""

from __future__ import annotations

import grp
import os
import pwd
import sys

from circus import spawn_records
from circus.config import CircusConfig, SocketConfig, WatcherConfig, build_argv, spawn_variables
from circus.errors import ConfigError, SpawnError
from circus.hosts import names
from circus.hosts.base import OutputMode, SocketSpec, SpawnSpec
from papa_kernel.records import field, frozen_record, record


def socket_host_name(socket: str) -> str:
    """The name a configured socket has in its host."""
    return names.socket_name(socket.lower())


def socket_spec(sconf: SocketConfig) -> SocketSpec:
    """A ``[socket:NAME]`` section as a host SocketSpec."""
    family = "unix" if sconf.path else sconf.family
    return SocketSpec(
        name=socket_host_name(sconf.name),
        family=family,
        type=sconf.type,
        host=None if family == "unix" else sconf.host,
        port=0 if family == "unix" else int(sconf.port),
        path=sconf.path,
        umask=sconf.umask,
        backlog=int(sconf.backlog),
        interface=sconf.interface,
        reuseport=bool(sconf.so_reuseport),
        replace=bool(sconf.replace),
        systemd=(sconf.systemd_name or sconf.name) if sconf.systemd else None,
    )


def resolve_uid(uid: int | str | None) -> int | None:
    if uid is None or isinstance(uid, int):
        return uid
    if str(uid).isdigit():
        return int(uid)
    try:
        return pwd.getpwnam(str(uid)).pw_uid
    except KeyError:
        raise SpawnError(f"unknown user {uid!r}") from None


def resolve_gid(gid: int | str | None, uid: int | None) -> int | None:
    if gid is None:
        if uid is None:
            return None
        try:
            return pwd.getpwuid(uid).pw_gid  # the user's primary group, as the original
        except KeyError:
            return None
    if isinstance(gid, int) or str(gid).isdigit():
        return int(gid)
    try:
        return grp.getgrnam(str(gid)).gr_gid
    except KeyError:
        raise SpawnError(f"unknown group {gid!r}") from None


def virtualenv_paths(root: str, py_ver: str | None) -> list[str]:
    """site-packages directories of a virtualenv (for the given Python version, or any)."""
    import glob  # only the virtualenv option needs it

    version = py_ver or "*"
    return sorted(glob.glob(os.path.join(root, "lib", f"python{version}", "site-packages")))


def process_env(config: WatcherConfig) -> dict[str, str]:
    """The environment of a process: the config's, plus copy_path and virtualenv."""
    env = {str(k): str(v) for k, v in config.env.items()}
    extra_paths: list[str] = []
    if config.virtualenv:
        extra_paths += virtualenv_paths(config.virtualenv, config.virtualenv_py_ver)
        env["VIRTUAL_ENV"] = config.virtualenv
        bindir = os.path.join(config.virtualenv, "bin")
        env["PATH"] = os.pathsep.join(p for p in (bindir, env.get("PATH", "")) if p)
    if config.copy_path:
        extra_paths += [p for p in sys.path if p]
    if extra_paths:
        existing = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = os.pathsep.join([*extra_paths, *([existing] if existing else [])])
    return env


@frozen_record
class SpawnContext:
    """What the arbiter adds to a watcher's configuration for every spawn: the configured
    sockets, ``[circus] umask`` and the default working directory (circusd's at start-up).
    One object per arbiter configuration, so caches can key on its identity."""

    sockets: tuple[SocketConfig, ...] = ()
    umask: int | None = None
    default_cwd: str | None = None

    @classmethod
    def of(cls, config: CircusConfig, default_cwd: str | None) -> SpawnContext:
        return cls(config.sockets, config.circus.umask, default_cwd)


@frozen_record
class SharedParts:
    """What every process of a watcher shares: its environment and spawn variables, and its
    argv when that does not depend on the wid (None when it does, or cannot be built)."""

    env: dict[str, str]
    variables: dict[str, object]
    argv: tuple[str, ...] | None = None


def socket_placeholders(ctx: SpawnContext) -> dict[str, str]:
    """``$(circus.sockets.NAME)`` -> the host placeholder of that socket's fd number."""
    return {s.name: f"$(socket.{socket_host_name(s.name)}.fileno)" for s in ctx.sockets}


def inherited_sockets(config: WatcherConfig, ctx: SpawnContext) -> list[str]:
    """Configured sockets a ``use_sockets`` watcher inherits (those of its host)."""
    if not config.use_sockets:
        return []
    return [s.name for s in ctx.sockets if s.use_papa == config.use_papa]


def socket_host_names(config: WatcherConfig, ctx: SpawnContext) -> list[str]:
    """Host names of the sockets a watcher uses (for on_demand)."""
    refs = config.socket_refs | set(inherited_sockets(config, ctx))
    return sorted(socket_host_name(name) for name in refs)


def shared_parts(config: WatcherConfig, ctx: SpawnContext) -> SharedParts:
    env = process_env(config)
    variables = spawn_variables(config, 0, socket_placeholders(ctx), env)
    return SharedParts(env, variables, _common_argv(config, variables))


def _common_argv(config: WatcherConfig, variables: dict[str, object]) -> tuple[str, ...] | None:
    """The argv every process of the watcher gets, if it does not depend on the wid; else
    None (also when it cannot be built: each spawn then reports why).

    The wid only enters an argv as the text of its number (``$(circus.wid)``, ``$WID``), so
    the argvs of wids 1 and 2 are equal exactly when no argv depends on the wid. Then the
    processes' SpawnSpecs differ only by name, which is not part of a fingerprint: the argv
    is built once, and so is the fingerprint (10,000 processes: once, not 10,000 times)."""
    try:
        first = build_argv(config, {**variables, "wid": 1})
        second = build_argv(config, {**variables, "wid": 2})
    except ConfigError:
        return None
    return first if first == second else None


def spawn_spec(
    config: WatcherConfig, ctx: SpawnContext, wid: int, shared: SharedParts | None = None
) -> SpawnSpec:
    """The SpawnSpec of process ``wid`` (``shared``: :func:`shared_parts` of the same
    configuration, computed once for many spawns). SpawnError for anything the OS would
    refuse (a command that does not split, an unknown user or group)."""
    shared = shared or shared_parts(config, ctx)
    argv = shared.argv
    if argv is None:
        try:
            argv = build_argv(config, {**shared.variables, "wid": wid})
        except ConfigError as exc:
            raise SpawnError(str(exc)) from None
    uid = resolve_uid(config.uid)
    return SpawnSpec(
        name=names.process_name(config.name, wid),
        argv=argv,
        executable=config.executable,
        env=shared.env,
        working_dir=config.working_dir or ctx.default_cwd,
        uid=uid,
        gid=resolve_gid(config.gid, uid),
        umask=ctx.umask,
        rlimits=dict(config.rlimits),
        stdout=OutputMode.DEVNULL if config.close_child_stdout else OutputMode.CAPTURE,
        stderr=OutputMode.DEVNULL if config.close_child_stderr else OutputMode.CAPTURE,
        sockets=tuple(socket_host_name(name) for name in inherited_sockets(config, ctx)),
        stdin_socket=socket_host_name(config.stdin_socket) if config.stdin_socket else None,
        stop_signal=int(config.stop_signal),
    )


def fingerprint(
    config: WatcherConfig,
    ctx: SpawnContext,
    spec: SpawnSpec,
    digests: spawn_records.DigestMemo | None = None,
) -> spawn_records.Fingerprint:
    """What :mod:`circus.spawn_records` keeps for a process spawned from ``spec``: the
    spec's fields and the definitions of the sockets it inherits or refers to."""
    used = {*socket_host_names(config, ctx), *spec.sockets}
    if spec.stdin_socket:
        used.add(spec.stdin_socket)
    sockets = [socket_spec(s) for s in ctx.sockets if socket_host_name(s.name) in used]
    return spawn_records.fingerprint(spec, sockets, {} if digests is None else digests)


@record
class SpawnMemo:
    """Memoises the pure functions above for one watcher: the shared parts and the current
    fingerprint of each wid are computed once per (configuration, context) pair; when the
    argv does not depend on the wid (:attr:`SharedParts.argv`), one fingerprint serves every
    wid."""

    _key: tuple[object, object] = (None, None)
    _shared: SharedParts | None = None
    _fingerprints: dict[int, spawn_records.Fingerprint | None] = field(default_factory=dict)
    _common: spawn_records.Fingerprint | None = None  # every wid's, when the argv is common
    _digests: spawn_records.DigestMemo = field(default_factory=dict)

    def _for(self, config: WatcherConfig, ctx: SpawnContext) -> SharedParts:
        if self._key[0] is not config or self._key[1] is not ctx:
            self._key = (config, ctx)
            self._shared = None
            self._fingerprints = {}
            self._common = None
        if self._shared is None:
            self._shared = shared_parts(config, ctx)
        return self._shared

    def spec(self, config: WatcherConfig, ctx: SpawnContext, wid: int) -> SpawnSpec:
        return spawn_spec(config, ctx, wid, self._for(config, ctx))

    def fingerprint(
        self, config: WatcherConfig, ctx: SpawnContext, spec: SpawnSpec
    ) -> spawn_records.Fingerprint:
        """The fingerprint of ``spec`` (a SpawnSpec of this configuration and context)."""
        shared = self._for(config, ctx)
        if shared.argv is None:
            return fingerprint(config, ctx, spec, self._digests)
        if self._common is None:
            self._common = fingerprint(config, ctx, spec, self._digests)
        return self._common

    def common_fingerprint(
        self, config: WatcherConfig, ctx: SpawnContext
    ) -> spawn_records.Fingerprint | None:
        """The fingerprint of every wid when the argv does not depend on the wid, else None
        (None too if no process can be spawned now, e.g. an unknown user)."""
        shared = self._for(config, ctx)
        if shared.argv is None:
            return None
        if self._common is None:
            return self.current_fingerprint(config, ctx, 1)
        return self._common

    def current_fingerprint(
        self, config: WatcherConfig, ctx: SpawnContext, wid: int
    ) -> spawn_records.Fingerprint | None:
        """The fingerprint process ``wid`` would get if spawned now (None if it cannot be
        spawned now, e.g. an unknown user)."""
        shared = self._for(config, ctx)
        if shared.argv is not None and self._common is not None:
            return self._common
        if wid not in self._fingerprints:
            try:
                spec = self.spec(config, ctx, wid)
                self._fingerprints[wid] = self.fingerprint(config, ctx, spec)
            except SpawnError:
                self._fingerprints[wid] = None
        return self._fingerprints[wid]
