"""``$(socket.NAME.fileno)`` and ``$(socket.NAME.port)`` in a child's arguments.

The same syntax as papa: NAME may contain dots (the suffix after the last dot says which value),
every occurrence is replaced, only argv is substituted (never env or working_dir).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from circus.errors import SpawnError

_OPEN = "$(socket."
_PLACEHOLDER = re.compile(r"\$\(socket\.([^)\s]+)\.(fileno|port)\)")


def referenced_sockets(argv: Sequence[str]) -> list[str]:
    """Socket names referenced by placeholders in ``argv``, in order, without duplicates."""
    names: dict[str, None] = {}
    for arg in argv:
        for match in _PLACEHOLDER.finditer(arg):
            names[match.group(1)] = None
    return list(names)


def substitute_sockets(
    argv: Sequence[str], fds: Mapping[str, int], ports: Mapping[str, int | None], process: str
) -> tuple[str, ...]:
    """Replace the placeholders. SpawnError names the argument of a malformed or unknown one."""
    result = []
    for index, arg in enumerate(argv):
        if _OPEN not in arg:
            result.append(arg)
            continue

        def replace(match: re.Match[str], index: int = index) -> str:
            name, what = match.group(1), match.group(2)
            if name not in fds:
                raise SpawnError(
                    f"cannot spawn {process}: argument {index} uses unknown socket {name!r}"
                )
            if what == "fileno":
                return str(fds[name])
            port = ports.get(name)
            if port is None:
                raise SpawnError(
                    f"cannot spawn {process}: socket {name!r} has no port (argument {index})"
                )
            return str(port)

        text = _PLACEHOLDER.sub(replace, arg)
        if _OPEN in text:
            raise SpawnError(
                f"cannot spawn {process}: argument {index} has a malformed socket "
                f"placeholder in {arg!r} (use $(socket.NAME.fileno) or "
                f"$(socket.NAME.port))"
            )
        result.append(text)
    return tuple(result)
