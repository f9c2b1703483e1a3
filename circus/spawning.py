"""From a watcher's configuration to what a host needs: SpawnSpec, SocketSpec, streams, options.

Kept apart from :mod:`circus.watcher` (policy) so the translation rules are in one place:

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

import glob
import grp
import os
import pwd
import sys
from typing import TYPE_CHECKING, Any

from circus import spawn_records
from circus.config import build_argv, spawn_variables
from circus.config.schema import watcher_option_values
from circus.errors import ConfigError, SpawnError
from circus.hosts import names
from circus.hosts.base import OutputMode, SocketSpec, SpawnSpec

if TYPE_CHECKING:
    from circus.watcher import Watcher

parse_process_name = names.parse_process_name


def socket_host_name(socket: str) -> str:
    """The name a configured socket has in its host."""
    return names.socket_name(socket.lower())


def socket_spec(sconf: Any) -> SocketSpec:
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
    version = py_ver or "*"
    return sorted(glob.glob(os.path.join(root, "lib", f"python{version}", "site-packages")))


def process_env(config: Any) -> dict[str, str]:
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


class SpawnBuilder:
    """Translates one watcher's configuration (which may change with ``set``)."""

    def __init__(self, watcher: Watcher):
        self.watcher = watcher
        # What every process of the watcher shares (env, variables); rebuilt when the
        # watcher's or the arbiter's configuration object changes.
        self._shared: tuple[object, object, dict[str, str], dict[str, object]] | None = None
        # Fingerprints of the current configuration by wid (same invalidation as _shared).
        self._fingerprints: tuple[object, object, dict[int, spawn_records.Fingerprint | None]]
        self._fingerprints = (None, None, {})
        self._digests: spawn_records.DigestMemo = {}

    @property
    def config(self) -> Any:
        return self.watcher.config

    def socket_placeholders(self) -> dict[str, str]:
        arbiter = self.watcher.arbiter
        return {
            s.name: f"$(socket.{socket_host_name(s.name)}.fileno)" for s in arbiter.config.sockets
        }

    def socket_host_names(self) -> list[str]:
        """Host names of the sockets this watcher uses (for on_demand)."""
        refs = self.config.socket_refs
        if self.config.use_sockets:
            refs = refs | {
                s.name
                for s in self.watcher.arbiter.config.sockets
                if s.use_papa == self.config.use_papa
            }
        return sorted(socket_host_name(name) for name in refs)

    def spec(self, wid: int) -> SpawnSpec:
        """The SpawnSpec of process ``wid``. SpawnError for anything the OS would refuse."""
        config = self.config
        env, shared = self._shared_parts()
        variables = {**shared, "wid": wid}
        try:
            argv = build_argv(config, variables)
        except ConfigError as exc:
            raise SpawnError(str(exc)) from None
        uid = resolve_uid(config.uid)
        sockets: tuple[str, ...] = ()
        if config.use_sockets:
            sockets = tuple(
                socket_host_name(s.name)
                for s in self.watcher.arbiter.config.sockets
                if s.use_papa == config.use_papa
            )
        settings = self.watcher.arbiter.config.circus
        return SpawnSpec(
            name=names.process_name(self.watcher.name, wid),
            argv=argv,
            executable=config.executable,
            env=env,
            working_dir=config.working_dir or self.watcher.arbiter.default_cwd,
            uid=uid,
            gid=resolve_gid(config.gid, uid),
            umask=settings.umask,
            rlimits=dict(config.rlimits),
            stdout=OutputMode.DEVNULL if config.close_child_stdout else OutputMode.CAPTURE,
            stderr=OutputMode.DEVNULL if config.close_child_stderr else OutputMode.CAPTURE,
            sockets=sockets,
            stdin_socket=socket_host_name(config.stdin_socket) if config.stdin_socket else None,
        )

    def fingerprint(self, spec: SpawnSpec) -> spawn_records.Fingerprint:
        """What :mod:`circus.spawn_records` keeps for a process spawned from ``spec``: the
        spec's fields and the definitions of the sockets it inherits or refers to."""
        used = {*self.socket_host_names(), *spec.sockets}
        if spec.stdin_socket:
            used.add(spec.stdin_socket)
        sockets = [
            socket_spec(s)
            for s in self.watcher.arbiter.config.sockets
            if socket_host_name(s.name) in used
        ]
        return spawn_records.fingerprint(spec, sockets, self._digests)

    def current_fingerprint(self, wid: int) -> spawn_records.Fingerprint | None:
        """The fingerprint process ``wid`` would get if spawned now (None if it cannot be
        spawned now, e.g. an unknown user). Cached until the configuration changes."""
        config, arbiter_config, cache = self._fingerprints
        if config is not self.config or arbiter_config is not self.watcher.arbiter.config:
            cache = {}
            self._fingerprints = (self.config, self.watcher.arbiter.config, cache)
        if wid not in cache:
            try:
                cache[wid] = self.fingerprint(self.spec(wid))
            except SpawnError:
                cache[wid] = None
        return cache[wid]

    def _shared_parts(self) -> tuple[dict[str, str], dict[str, object]]:
        arbiter_config = self.watcher.arbiter.config
        cached = self._shared
        if cached is None or cached[0] is not self.config or cached[1] is not arbiter_config:
            env = process_env(self.config)
            variables = spawn_variables(self.config, 0, self.socket_placeholders(), env)
            cached = self._shared = (self.config, arbiter_config, env, variables)
        return cached[2], cached[3]

    def build_stream(self, which: str) -> Any:
        """The stream for ``stdout``/``stderr`` (circusd's own stdout/stderr by default, as
        the original where unconfigured children wrote to circusd's terminal)."""
        from circus.streams import StdoutStream, build_stream

        conf = self.config.stdout_stream if which == "stdout" else self.config.stderr_stream
        if conf is None:
            return StdoutStream()
        return build_stream(
            conf.as_dict(), prefix=f"{which}_stream", section=f"watcher:{self.watcher.name}"
        )

    def options(self) -> dict[str, Any]:
        values = watcher_option_values(self.config)
        values["numprocesses"] = self.watcher.numprocesses
        return values
