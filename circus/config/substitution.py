"""``$(circus.*)`` placeholders and bash-style ``$VAR`` in env values: text in, text out.

Two placeholder syntaxes mean the same thing: ``$(circus.KEY)`` and ``((circus.KEY))`` (the
second avoids clashes with other tools' syntax). ``KEY`` is made of letters, digits, ``_``, ``.``
and ``-``; the whole placeholder is case-insensitive (``$(CIRCUS.ENV.HOME)`` works). A placeholder
whose key is not known is left exactly as written.

When values are replaced:

- at load time, ``$(circus.env.NAME)`` in every value of every section (see
  :mod:`circus.config.loader` for which environment each section sees);
- at spawn time (circusd calls :func:`circus.config.argv.spawn_variables` then
  :func:`circus.config.argv.build_argv`): ``$(circus.wid)``, ``$(circus.sockets.NAME)``,
  ``$(circus.env.NAME)`` from the process environment, and the other per-process variables.

This module knows no model class (the model imports it for
:attr:`~circus.config.model.WatcherConfig.socket_refs`); what needs a watcher is in
:mod:`circus.config.argv`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_KEY = r"[\w.\-]+"
PLACEHOLDER = re.compile(rf"\$\(circus\.({_KEY})\)|\(\(circus\.({_KEY})\)\)", re.IGNORECASE)
_SOCKET_REF = re.compile(
    rf"\$\(circus\.sockets\.({_KEY})\)|\(\(circus\.sockets\.({_KEY})\)\)", re.IGNORECASE
)
_SHELL_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def substitute(text: str, variables: Mapping[str, object]) -> str:
    """Replace ``$(circus.KEY)`` / ``((circus.KEY))`` in ``text``.

    ``variables`` maps lower-case keys *without* the ``circus.`` prefix (``"wid"``,
    ``"sockets.web"``, ``"env.home"``) to values (turned into text with ``str()``). Unknown keys
    are left verbatim.
    """
    if "circus" not in text.lower():
        return text

    def replace(match: re.Match[str]) -> str:
        key = (match.group(1) or match.group(2)).lower()
        value = variables.get(key)
        return match.group(0) if value is None else str(value)

    return PLACEHOLDER.sub(replace, text)


def env_variables(env: Mapping[str, str]) -> dict[str, str]:
    """``{"env.<name lower-cased>": value}`` for :func:`substitute`. When two names differ only
    in case, the one whose name is already lower-case wins, else the upper-case one."""
    variables: dict[str, str] = {}
    for name in sorted(env, key=lambda n: (n == n.lower(), n == n.upper())):
        variables[f"env.{name.lower()}"] = env[name]
    return variables


def substitute_env(text: str, env: Mapping[str, str]) -> str:
    """Replace only ``$(circus.env.NAME)`` placeholders, from ``env`` (case-insensitive)."""
    if "circus" not in text.lower():
        return text
    return substitute(text, env_variables(env))


def expand_shell_vars(text: str, environ: Mapping[str, str]) -> str:
    """Bash-style ``$NAME`` and ``${NAME}`` from ``environ`` (undefined: empty); ``$$`` is a
    literal ``$``. Used for the values of ``[env]`` sections (``PATH = $PATH:/opt/bin``)."""
    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return environ.get(match.group(1) or match.group(2), "")

    return _SHELL_VAR.sub(replace, text)


def referenced_sockets(*texts: str | Iterable[str] | None) -> frozenset[str]:
    """Socket names (lower-cased) referenced by ``$(circus.sockets.NAME)`` in the texts."""
    names: set[str] = set()
    for text in texts:
        parts = [text] if isinstance(text, str) else list(text or ())
        for part in parts:
            for match in _SOCKET_REF.finditer(part):
                names.add((match.group(1) or match.group(2)).lower())
    return frozenset(names)
