"""Helpers shared by several commands: watcher selection by pattern, process info lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from circus.control.api import ArbiterAPI, WatcherAPI
from circus.errors import MessageError

MATCH_METHODS = ("simple", "glob", "regex")

# One process on one console line: the original's column order.
_INFO_FIELDS = ("cmdline", "username", "nice", "mem_info1", "mem_info2", "cpu", "mem", "ctime")


def select_watchers(arbiter: ArbiterAPI, props: Mapping[str, Any]) -> list[WatcherAPI] | None:
    """Watchers named by ``name`` + ``match`` (None when no name was given).

    ``simple`` is an exact, case-insensitive name; ``glob`` (default) and ``regex`` match
    case-insensitively. No match -> MessageError ``program NAME not found``.
    """
    name = props.get("name")
    if name is None:
        return None
    method = props.get("match", "glob")
    if method not in MATCH_METHODS:
        raise MessageError(f"unknown match method {method} (use simple, glob or regex)")
    if method == "simple":
        return [arbiter.get_watcher(name)]
    watchers = arbiter.match_watchers(name, method)
    if not watchers:
        raise MessageError(f"program {name} not found")
    return list(watchers)


def policy_detail(watcher: WatcherAPI) -> dict[str, Any]:
    """The restart-policy extension keys of ``status``/``stats`` for one watcher: ``gave_up``,
    ``flapping`` and ``hook_failed``, each None when it has nothing to say
    (:func:`extended_reply` leaves it out, so the reply stays the original's)."""
    return {
        "gave_up": watcher.gave_up_detail(),
        "flapping": watcher.flapping_detail(),
        "hook_failed": watcher.hook_failed_detail(),
    }


def policy_details(watchers: Iterable[WatcherAPI]) -> dict[str, dict[str, dict[str, Any]]]:
    """The same for all watchers: ``{"gave_up": {name: detail}, "flapping": {name: detail},
    "hook_failed": {name: {hook: detail}}}`` (only the watchers that have the detail)."""
    details: dict[str, dict[str, dict[str, Any]]] = {
        "gave_up": {},
        "flapping": {},
        "hook_failed": {},
    }
    for watcher in watchers:
        for key, detail in policy_detail(watcher).items():
            if detail is not None:
                details[key][watcher.name] = detail
    return details


def extended_reply(reply: dict[str, Any], **extensions: Any) -> dict[str, Any]:
    """``reply`` plus the extension keys that have something to say (absent otherwise, so the
    reply stays the original's)."""
    return {**reply, **{key: value for key, value in extensions.items() if value}}


def reload_failures(watchers: Iterable[WatcherAPI]) -> dict[str, Any]:
    """The extension key of ``set``/``reload``/``reloadconfig`` with ``waiting``:
    ``{"reload_failed": {name: detail}}`` for each watcher whose last reload kept its running
    processes (:meth:`WatcherAPI.reload_failed_detail`), or nothing (the original's reply)."""
    failed = {w.name: detail for w in watchers if (detail := w.reload_failed_detail())}
    return {"reload_failed": failed} if failed else {}


def with_reload_failures(reply: Mapping[str, Any], text: str = "ok") -> str:
    """``text`` then one ``NAME: reload failed: REASON`` line per watcher of the reply's
    ``reload_failed`` key, for circusctl."""
    failed = reply.get("reload_failed")
    if not isinstance(failed, Mapping):
        return text
    lines = [f"{name}: reload failed: {detail.get('reason')}" for name, detail in failed.items()]
    return "\n".join([text, *sorted(lines)])


def policy_note(gave_up: Any, flapping: Any = None, hook_failed: Any = None) -> str:
    """`` (gave up: REASON)``, `` (flapping: REASON)``, `` (hook failed: REASON)`` (one per
    hook) after a watcher's state on the console, or nothing. A hook that gave up the start
    by raising is one note: `` (gave up: ... refused the start: it raised ERROR)``."""
    hooks = dict(hook_failed) if isinstance(hook_failed, Mapping) else {}
    notes = ""
    for label, detail in (("gave up", gave_up), ("flapping", flapping)):
        if isinstance(detail, Mapping) and detail:
            notes += f" ({label}: {detail.get('reason', 'restart policy')}"
            raised = hooks.pop(detail.get("rule"), None) if label == "gave up" else None
            notes += f": it raised {raised.get('error')})" if isinstance(raised, Mapping) else ")"
    for hook in sorted(hooks):
        if isinstance(hooks[hook], Mapping):
            notes += f" (hook failed: {hooks[hook].get('reason', hook)})"
    return notes


def info_line(info: Mapping[str, Any]) -> str:
    """``PID  cmdline user nice rss vms cpu mem ctime`` (missing fields print as N/A)."""
    values = " ".join(str(info.get(key, "N/A")) for key in _INFO_FIELDS)
    return f"{info.get('pid', 'N/A')}  {values}"


#: Keys of a process info that circusd itself fills in: everything else in a ``stats --extended``
#: reply was added by the watcher's ``extended_stats`` hook.
_BASE_KEYS = frozenset({"pid", *_INFO_FIELDS, "create_time", "age", "started", "wid", "children"})


def info_block(info: Any, child_indent: str = "   ") -> str:
    """A process info and its children, one line each (a string info is printed as is).

    What the ``extended_stats`` hook added follows the line of its process or child, one
    ``key: value`` per line (sorted; values as JSON unless they are text), indented one step
    further, so ``circusctl stats --extended`` shows it."""
    if not isinstance(info, Mapping):
        return str(info)
    lines = [info_line(info), *_extra_lines(info, "    ")]
    for child in info.get("children") or ():
        if not isinstance(child, Mapping):
            lines.append(child_indent + str(child))
            continue
        lines.append(child_indent + info_line(child))
        lines.extend(_extra_lines(child, child_indent + "    "))
    return "\n".join(lines)


def _extra_lines(info: Mapping[str, Any], indent: str) -> list[str]:
    return [
        f"{indent}{key}: {_show(info[key])}"
        for key in sorted(info, key=str)
        if key not in _BASE_KEYS
    ]


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):  # e.g. keys of mixed types
        return repr(value)
