"""Watcher hooks: user callables run around starts, spawns, stops, signals and reaps.

A hook is ``hook(watcher, arbiter, hook_name, **kwargs)`` returning True to let circus go on.
It may also be a coroutine function (an addition over the original). Configured as a dotted
path with an optional ``,true`` flag: when set, an exception in the hook counts as success;
otherwise an exception counts as ``False``. Every run publishes ``hook_success`` or
``hook_failure``, and tells its ``record`` callback (the watcher keeps the
:func:`failure_detail` of each hook whose last run raised, shown in ``status`` and ``stats``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from circus.config.schema import HOOK_NAMES
from circus.errors import ConfigError, ConfigProblem
from circus.util.dotted import import_callable
from circus.util.no_openssl import isawaitable
from papa_kernel.records import frozen_record

log = logging.getLogger(__name__)

#: Hooks whose ``False`` aborts the start (the others' result is advisory or ignored).
ABORTING_HOOKS = frozenset({"before_start", "after_start", "before_spawn", "after_spawn"})


@frozen_record
class Hook:
    name: str
    func: Callable[..., Any]
    ignore_errors: bool = False
    path: str = ""


def resolve(path: str) -> Callable[..., Any]:
    """Import ``package.module.function`` (also ``package.module:function``); ValueError says
    why it cannot be."""
    return import_callable(path)


def load_hooks(specs: Mapping[str, Any], where: str = "") -> dict[str, Hook]:
    """Build hooks from ``{name: "dotted.path[,bool]" | (path, ignore) | callable}``.

    Raises ConfigError naming every hook that is unknown or cannot be imported.
    """
    hooks: dict[str, Hook] = {}
    problems: list[ConfigProblem] = []
    for name, spec in specs.items():
        key = f"hooks.{name}"
        if name not in HOOK_NAMES:
            problems.append(
                ConfigProblem(
                    f"unknown hook {name!r}; known: {', '.join(HOOK_NAMES)}",
                    section=where or None,
                    key=key,
                )
            )
            continue
        ignore = False
        if isinstance(spec, tuple | list):
            spec, ignore = spec[0], bool(spec[1])
        if callable(spec):
            hooks[name] = Hook(name, spec, ignore, getattr(spec, "__qualname__", repr(spec)))
            continue
        path, _, flag = str(spec).partition(",")
        if flag.strip():
            ignore = flag.strip().lower() in ("1", "true", "yes", "on")
        try:
            hooks[name] = Hook(name, resolve(path.strip()), ignore, path.strip())
        except Exception as exc:  # any import error of user code
            problems.append(
                ConfigProblem(f"hook {path.strip()!r}: {exc}", section=where or None, key=key)
            )
    if problems:
        raise ConfigError(problems)
    return hooks


def failure_detail(hook: Hook, exc: BaseException, wall: float) -> dict[str, Any]:
    """What ``status``/``stats`` say of a hook that raised ``exc`` at ``wall`` (epoch seconds):
    ``hook`` (its name), ``path`` (dotted), ``error`` (``Type: message``), ``ignored`` (its
    errors count as success), ``time`` and ``reason`` (one line for people)."""
    error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    reason = f"the {hook.name} hook ({hook.path}) raised {error}"
    if hook.ignore_errors:
        reason += " (ignored: the hook is configured with errors ignored)"
    return {
        "hook": hook.name,
        "path": hook.path,
        "error": error,
        "ignored": hook.ignore_errors,
        "time": wall,
        "reason": reason,
    }


async def run_hook(
    hook: Hook | None,
    watcher: Any,
    arbiter: Any,
    publish: Callable[[str, dict[str, Any]], None],
    record: Callable[[Hook, BaseException | None], None] | None = None,
    **kwargs: Any,
) -> bool:
    """Run one hook; True when absent, when it returned True, or when its error is ignored.
    ``record`` (if given) is told the exception the hook raised, or None when it did not."""
    if hook is None:
        return True
    try:
        result = hook.func(watcher=watcher, arbiter=arbiter, hook_name=hook.name, **kwargs)
        if isawaitable(result):
            result = await result
    except Exception as exc:
        log.error(
            "hook %s (%s) of %s failed: %s",
            hook.name,
            hook.path,
            getattr(watcher, "name", "?"),
            exc,
            exc_info=True,
        )
        publish("hook_failure", {"name": hook.name, "time": time.time(), "error": str(exc)})
        if record is not None:
            record(hook, exc)
        return hook.ignore_errors
    publish("hook_success", {"name": hook.name, "time": time.time()})
    if record is not None:
        record(hook, None)
    return bool(result)
