"""The argv of one process: the spawn-time variables of a watcher and the command line built
with them (``$(circus.*)`` substitution is :mod:`circus.config.substitution`).

circusd calls :func:`spawn_variables` then :func:`build_argv` for every process it spawns.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from circus.config import shellwords
from circus.config.converters import show
from circus.config.model import WatcherConfig
from circus.config.schema import watcher_option_values
from circus.config.substitution import env_variables, substitute
from circus.errors import ConfigError, ConfigProblem

#: The shell used for ``shell = true`` watchers: argv is ``[SHELL, "-c", CMDLINE, *shell_args]``.
SHELL = "/bin/sh"


def spawn_variables(
    watcher: WatcherConfig,
    wid: int,
    sockets: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The variables available to one process's cmd/args at spawn time.

    - ``wid``: the worker id (1, 2...; unique within the watcher, not a pid);
    - ``sockets.NAME``: the value to put in place of a socket, from ``sockets`` (usually the
      inherited fd number; circusd may pass a kernel placeholder instead);
    - ``env.NAME``: the process environment ``env`` (default: ``watcher.env``);
    - ``name``, ``cmd``, ``args``, ``shell``, ``shell_args``, ``working_dir``, ``uid``, ``gid``,
      ``executable``, ``use_fds`` (= use_sockets), ``rlimits.NAME``, and every other watcher
      option by its manual name (``numprocesses``, ``graceful_timeout``...), plus the free-form
      options of the watcher.
    """
    variables: dict[str, object] = {}
    for key, value in watcher_option_values(watcher).items():
        if isinstance(value, Mapping):
            for sub, subvalue in value.items():
                variables[f"{key.lower()}.{str(sub).lower()}"] = subvalue
        elif value is not None:
            variables[key.lower()] = value
    variables["name"] = watcher.name
    variables["use_fds"] = watcher.use_sockets
    for name, value in watcher.rlimits.items():
        variables[f"rlimits.{name}"] = "unlimited" if value is None else value
    for key in [k for k in variables if k.startswith("env.")]:
        del variables[key]
    variables.update(env_variables(watcher.env if env is None else env))
    for name, value in (sockets or {}).items():
        variables[f"sockets.{name.lower()}"] = value
    variables["wid"] = wid
    return variables


def _words(text: str, watcher: WatcherConfig, key: str) -> list[str]:
    try:
        return shellwords.split(text)
    except ValueError as exc:
        raise ConfigError(
            ConfigProblem(
                f"cannot split {show(text)} into words after substitution: {exc}",
                section=f"watcher:{watcher.name}",
                key=key,
            )
        ) from None


def _expand(
    value: str | tuple[str, ...] | None,
    variables: Mapping[str, object],
    watcher: WatcherConfig,
    key: str,
) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return _words(_legacy_wid(substitute(value, variables), variables), watcher, key)
    return [_legacy_wid(substitute(item, variables), variables) for item in value]


def _legacy_wid(text: str, variables: Mapping[str, object]) -> str:
    """``$WID`` is the pre-0.8 spelling of ``$(circus.wid)``; still honoured."""
    return text.replace("$WID", str(variables["wid"])) if "$WID" in text else text


def build_argv(watcher: WatcherConfig, variables: Mapping[str, object]) -> tuple[str, ...]:
    """The argv of one process, after substitution with ``variables`` (from
    :func:`spawn_variables`): ``cmd`` split like a shell would, then ``args`` (a string is
    split the same way, a list is used item by item).

    With ``shell = true`` the command line is handed to the shell untouched, so pipes,
    redirections and ``$VARS`` work: ``(SHELL, "-c", "CMD ARGS", *shell_args)`` (list args are
    quoted). Raises :class:`ConfigError` if a substituted value breaks the quoting.
    """
    section = f"watcher:{watcher.name}"
    if watcher.shell:
        cmdline = _legacy_wid(substitute(watcher.cmd, variables), variables).strip()
        if isinstance(watcher.args, str) and watcher.args:
            cmdline += " " + _legacy_wid(substitute(watcher.args, variables), variables)
        elif watcher.args:
            cmdline += " " + " ".join(
                shlex.quote(w) for w in _expand(watcher.args, variables, watcher, "args")
            )
        argv = [
            SHELL,
            "-c",
            cmdline,
            *_expand(watcher.shell_args, variables, watcher, "shell_args"),
        ]
    else:
        argv = _expand(watcher.cmd, variables, watcher, "cmd")
        argv += _expand(watcher.args, variables, watcher, "args")
    if not argv or (watcher.shell and not argv[2]):
        raise ConfigError(
            ConfigProblem("cmd is empty after substitution", section=section, key="cmd")
        )
    return tuple(argv)
