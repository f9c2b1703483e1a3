"""Circus: a process and socket manager built on a persistent process kernel.

Library use (the manual's example)::

    from circus import get_arbiter

    arbiter = get_arbiter([{"cmd": "python myprogram.py", "numprocesses": 4}])
    try:
        arbiter.start()      # blocks; inside asyncio code: await arbiter.start()
    finally:
        arbiter.stop()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

# The one version source: circus and its kernel ship together.
from papa_kernel import __version__ as __version__

version_info = tuple(int(part) for part in __version__.split("."))

if TYPE_CHECKING:
    import logging

    from circus.arbiter import Arbiter

    #: The original's ``from circus import logger`` (plugins and hooks written for it use it).
    logger: logging.Logger


def __getattr__(name: str) -> Any:
    """``circus.logger``, made when first asked for: the client tools (circusctl) do without
    :mod:`logging` (with traceback and string, ~6 ms of CPU at every start)."""
    if name == "logger":
        import logging

        return logging.getLogger("circus")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_arbiter(watchers: Iterable[Mapping[str, Any]] = (), **options: Any) -> Arbiter:
    """An :class:`~circus.arbiter.Arbiter` for watcher dicts and ``[circus]`` options.

    Keys are the configuration file's (``cmd``, ``numprocesses``, ``controller`` or
    ``endpoint``, ``pubsub_endpoint``, ``sockets``, ``plugins``, ``env``...). Unlike a
    configuration file, watchers and sockets created here run as direct children of the
    calling program (``use_papa = false``) unless they say ``use_papa=True``: an embedded
    process manager should not leave a kernel daemon behind. Raises
    :class:`~circus.errors.ConfigError` listing every problem.
    """
    from circus.arbiter import Arbiter
    from circus.config import config_from_dict
    from circus.control import control_channel

    def local_by_default(item: Mapping[str, Any]) -> dict[str, Any]:
        return {"use_papa": False, **item}

    sockets = options.pop("sockets", None)
    if isinstance(sockets, Mapping):
        sockets = {name: local_by_default(conf) for name, conf in sockets.items()}
    elif sockets is not None:
        sockets = [local_by_default(conf) for conf in sockets]
    data: dict[str, Any] = {"watchers": [local_by_default(w) for w in watchers], **options}
    if sockets is not None:
        data["sockets"] = sockets
    return Arbiter(config_from_dict(data), control=control_channel)
