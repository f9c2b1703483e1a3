"""Load-time warnings for the ``$(circus.*)`` placeholders that will be left as written: the
original leaves them so, silently, and the worker got the text (see
:mod:`circus.config.substitution` for when placeholders are replaced)."""

from __future__ import annotations

from collections.abc import Mapping

from circus.config.ini import Section
from circus.config.problems import Problems
from circus.config.substitution import PLACEHOLDER, env_variables

#: The keys whose placeholders are also replaced at spawn time (:mod:`circus.config.argv`).
SPAWN_KEYS = ("cmd", "args", "shell_args")
#: Environment variables circusd adds to a process's environment at spawn (virtualenv, copy_path).
SPAWN_ENV = ("env.virtual_env", "env.pythonpath")


def warn_left_placeholders(
    section: Section,
    env: Mapping[str, str],
    problems: Problems,
    spawn_variables: Mapping[str, object] | None = None,
) -> None:
    """Warn, at its line, about each placeholder of ``section`` that will be left as written
    (as the original does): ``$(circus.env.X)`` with X neither in ``env`` (what the section's
    values see at load time) nor added at spawn, and any other ``$(circus.KEY)`` outside the
    :data:`SPAWN_KEYS` of a watcher, or not in its ``spawn_variables`` (None: not a watcher)."""
    known_env = env_variables(env)
    for entry in section.entries.values():
        if not isinstance(entry.value, str) or "circus" not in entry.value.lower():
            continue
        at_spawn = spawn_variables is not None and entry.key in SPAWN_KEYS
        for match in PLACEHOLDER.finditer(entry.value):
            key = (match.group(1) or match.group(2)).lower()
            if key.startswith("env."):
                if key in known_env or (at_spawn and key in SPAWN_ENV):
                    continue
                why = f"{key[4:]} is not set in circusd's environment nor in an [env] section"
            elif at_spawn and spawn_variables is not None:
                if key in spawn_variables or key.startswith("sockets."):  # sockets: checked
                    continue
                why = "it names no variable (wid, name, sockets.NAME, env.NAME, an option...)"
            else:
                why = f"only $(circus.env.NAME) is replaced in {entry.key}"
            problems.warn(
                f"placeholder {match.group(0)} left as written: {why}",
                entry.origin,
                section.name,
                entry.key,
            )
