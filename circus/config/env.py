"""The ``[env]`` and ``[env:PATTERNS]`` sections: process environments and substitution sources.

- ``[env]`` applies to every watcher. ``[env:web,worker*]`` applies to the watchers whose name
  matches one of the comma-separated fnmatch patterns (case-insensitive, like watcher lookup).
- A watcher's environment is: circusd's environment if ``copy_env = true``, then ``[env]``, then
  every matching ``[env:...]`` section in file order (a later section wins for the same key),
  then the watcher's own ``env`` option (dict form / commands).
- In env values, ``$NAME`` and ``${NAME}`` are replaced bash-style from circusd's environment
  (``PATH = $PATH:/opt/bin``; undefined names become empty; ``$$`` is a literal ``$``), and
  ``$(circus.env.NAME)`` from circusd's environment plus, for ``[env:...]``, the ``[env]``
  section.
- ``$(circus.env.NAME)`` in other sections looks up, most specific first: the watcher's matching
  ``[env:...]`` sections, ``[env]``, then circusd's environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from circus.config import converters as cv
from circus.config.ini import Section
from circus.config.model import EnvSection, FrozenMap
from circus.config.problems import Problems
from circus.config.substitution import expand_shell_vars, substitute_env


def _values(
    section: Section, environ: Mapping[str, str], lookup: Mapping[str, str], problems: Problems
) -> dict[str, str]:
    values: dict[str, str] = {}
    for entry in section.entries.values():
        try:
            name = cv.check_env_name(entry.key.strip())
            text = cv.to_str(entry.value)
        except ValueError as exc:
            problems.error(str(exc), entry.origin, section.name, entry.key)
            continue
        values[name] = expand_shell_vars(substitute_env(text, lookup), environ).strip()
    return values


def global_env(
    section: Section | None, environ: Mapping[str, str], problems: Problems
) -> dict[str, str]:
    """The ``[env]`` section's values, expanded."""
    if section is None:
        return {}
    return _values(section, environ, environ, problems)


def env_sections(
    sections: Iterable[Section],
    environ: Mapping[str, str],
    base: Mapping[str, str],
    problems: Problems,
) -> list[tuple[EnvSection, Section]]:
    """The ``[env:PATTERNS]`` sections, in file order, values expanded, each with the section
    it came from."""
    lookup = {**environ, **base}
    result: list[tuple[EnvSection, Section]] = []
    for section in sections:
        patterns = tuple(p.strip() for p in section.name[len("env:") :].split(",") if p.strip())
        if not patterns:
            problems.error("[env:] names no watcher pattern", section.origin, section.name)
            continue
        values = _values(section, environ, lookup, problems)
        result.append((EnvSection(patterns, FrozenMap(values)), section))
    return result


def matches(section: EnvSection, watcher_name: str) -> bool:
    lowered = watcher_name.lower()
    return any(fnmatchcase(lowered, pattern.lower()) for pattern in section.patterns)


def watcher_env(
    name: str,
    copy_env: bool,
    environ: Mapping[str, str],
    base: Mapping[str, str],
    sections: Iterable[EnvSection],
) -> dict[str, str]:
    """The environment of watcher ``name`` (before its own ``env`` option)."""
    env = dict(environ) if copy_env else {}
    env.update(base)
    for section in sections:
        if matches(section, name):
            env.update(section.values)
    return env


def lookup_env(
    name: str, environ: Mapping[str, str], base: Mapping[str, str], sections: Iterable[EnvSection]
) -> dict[str, str]:
    """What ``$(circus.env.X)`` sees in watcher ``name``'s options: most specific wins."""
    return watcher_env(name, True, environ, base, sections)
