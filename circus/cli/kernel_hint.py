"""The kernel socket a circusd configuration file names, at a first look (before it is loaded).

circusd starts papa-kernel's interpreter before it loads its configuration
(:class:`circus.hosts.kernel_boot.PendingKernel`), unless a kernel already serves the socket
the configuration names: a restarted or upgraded circusd reattaches to it, and the interpreter
would only be started and killed (~20 ms of CPU). That must be known before the configuration
is loaded (importing :mod:`circus.config` first would hold the kernel's start back), so this
module reads the ``[circus]`` section's ``papa_endpoint`` of the main file as it is written
there, by the rules of :mod:`circus.config.ini` that matter for it (comments, continuation
lines, the first value wins, an inline `` ;`` comment).

It is a hint: whatever it answers, the loaded configuration decides. A pending interpreter
that is not needed is killed, and a kernel not started early is started the usual way.
"""

from __future__ import annotations

import os

from papa_kernel.paths import default_kernel_socket

#: How much of the file is looked at: the ``[circus]`` section comes first in practice.
HINT_BYTES = 64 * 1024


def named_kernel_socket(config_path: str) -> str | None:
    """The unix socket of the kernel ``config_path`` names: its ``[circus] papa_endpoint``
    written as an absolute path or ``ipc://`` URL, else the default socket (also for a file
    that cannot be read: its load fails). None when only loading the file tells (a
    placeholder in the value, a TCP endpoint, ``include`` keys that may set it)."""
    try:
        with open(config_path, encoding="utf-8-sig", errors="replace") as handle:
            text = handle.read(HINT_BYTES)
    except OSError:
        return default_kernel_socket()
    value, includes = _circus_values(text)
    if value is None:
        return None if includes else default_kernel_socket()
    if "$(" in value or "((" in value:
        return None
    path = value.removeprefix("ipc://")
    return path if os.path.isabs(path) else None


def _circus_values(text: str) -> tuple[str | None, bool]:
    """(the first ``papa_endpoint`` of the ``[circus]`` sections, whether they have includes)."""
    section, includes = None, False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or line[0].isspace():  # comments, continuations
            continue
        if stripped[0] == "[":
            section = stripped[1 : stripped.rfind("]")].strip()
            continue
        if section != "circus":
            continue
        cut = min((i for i in (stripped.find("="), stripped.find(":")) if i >= 0), default=-1)
        if cut < 0:
            continue  # not an option (the load reports it)
        key = stripped[:cut].strip()
        if key in ("include", "include_dir"):
            includes = True
        elif key == "papa_endpoint":
            value = stripped[cut + 1 :]
            comment = min((i for i in (value.find(" ;"), value.find("\t;")) if i >= 0), default=-1)
            return (value[:comment] if comment >= 0 else value).strip(), includes
    return None, includes
