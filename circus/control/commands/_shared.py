"""Helpers shared by several commands: watcher selection by pattern, process info lines."""

from __future__ import annotations

from collections.abc import Mapping
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


def info_line(info: Mapping[str, Any]) -> str:
    """``PID  cmdline user nice rss vms cpu mem ctime`` (missing fields print as N/A)."""
    values = " ".join(str(info.get(key, "N/A")) for key in _INFO_FIELDS)
    return f"{info.get('pid', 'N/A')}  {values}"


def info_block(info: Any, child_indent: str = "   ") -> str:
    """A process info and its children, one line each (a string info is printed as is)."""
    if not isinstance(info, Mapping):
        return str(info)
    lines = [info_line(info)]
    for child in info.get("children") or ():
        lines.append(
            child_indent + (info_line(child) if isinstance(child, Mapping) else str(child))
        )
    return "\n".join(lines)
