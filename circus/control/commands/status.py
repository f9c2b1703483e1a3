"""status: the state of one watcher or of all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from circus.control.api import ArbiterAPI, WatcherAPI
from circus.control.commands._shared import (
    extended_reply,
    policy_detail,
    policy_details,
    policy_note,
    reload_failures,
)
from circus.control.commands.base import Command, Prop


class Status(Command):
    """Get the status of a watcher or all watchers

    Watcher states: ``stopped``, ``starting``, ``active``, ``stopping``; an active watcher
    whose papa-kernel was lost says ``recovering`` until its workers are back.

    Message::

        {"command": "status", "properties": {"name": "web"}}

    Reply: with a name ``{"status": "active"}`` (the watcher state replaces "ok" in the
    ``status`` field, as in the original); without, ``{"statuses": {"web": "active",
    "worker": "stopped"}}`` (names as configured).

    Extension: when processes are *outdated* (adopted after a restart of circusd, but spawned
    from another configuration than the current one; see docs/upgrades.md), the reply has an
    extra key: ``"outdated": [1234, 1235]`` (pids) with a name, ``"outdated": {"web": [1234]}``
    without. The key is absent when nothing is outdated, so the reply is the original's.

    Extension: a watcher whose restart policy **gave up** (``max_retry`` failed starts in a
    row) is ``stopped``, as in the original, and the reply says why in an extra key
    ``gave_up``: with a name ``{"rule": "max_retry", "failures": 5, "limit": 5, "last_exit": 1,
    "error": null, "time": 1700000000.5, "reason": "5 failed starts in a row (max_retry = 5),
    last: exit code 1"}``, without ``{"web": {...}}``. ``last_exit`` is the exit code of the
    last failure (minus the signal number if a signal ended it; null for a spawn error, whose
    text is in ``error``). Absent when no watcher gave up; a ``start`` clears it; a watcher
    stopped by a command has none.

    Extension: a watcher **stopped as flapping** (flapping plugin: ``attempts`` exits within
    ``window`` seconds) is ``stopped`` too, with the key ``flapping`` until it is started again
    (by its retry, ``retry_in`` seconds after the detection, or a ``start``) or stopped by a
    command: ``{"retry": 1, "max_retry": 5, "exits": 2, "within": 0.1, "window": 1.0,
    "retry_in": 7.0, "last_exit": 1, "time": 1700000000.5, "retry_at": 1700000007.5, "reason":
    "2 exits within 0.1 s (flapping.window = 1 s), retry 1 of 5 in 7 s"}`` (without a name,
    ``{"web": {...}}``). When it flaps again after its last retry it gives up: ``gave_up`` with
    ``"rule": "flapping"``.

    Extension: a watcher whose last reload **kept its running processes** (the new ones could
    not be spawned or all exited at once: a bad ``cmd``, ``uid``, ``working_dir``...) is
    ``active``, with the key ``reload_failed`` until a reload of it succeeds or it is stopped:
    ``{"error": "no new process could be spawned (...)", "kept": [1234, 1235], "time":
    1700000000.5, "reason": "...: the 2 running processes are kept (fix the configuration,
    then reload)"}`` (without a name, ``{"web": {...}}``).

    Extension: a watcher with a **hook whose last run raised** has the key ``hook_failed``:
    ``{"before_start": {"hook": "before_start", "path": "myhooks.check_db", "error":
    "RuntimeError: database unreachable", "ignored": false, "time": 1700000000.5, "reason":
    "the before_start hook (myhooks.check_db) raised RuntimeError: database unreachable"}}``
    (one entry per hook; ``ignored``: the hook is configured to count its errors as success;
    without a name, ``{"web": {...}}``). A hook's entry goes when it runs without an exception.

    Extension: with the property ``"processes": true`` the reply also holds each watcher's
    live pids and target count, so a client that shows them (the web console's list) needs
    one call, not one per watcher: with a name ``"pids": [1234, 1235], "numprocesses": 2``;
    without, ``"processes": {"web": {"pids": [1234, 1235], "numprocesses": 2}}`` (names as
    configured). Absent without the property.

    Command line::

        circusctl status [<name>]

    prints the state, or ``name: state`` lines sorted by name; ``(outdated: PIDS)`` follows
    the state of a watcher with outdated processes, ``(gave up: REASON)`` the state of a
    watcher whose restart policy gave up, ``(flapping: REASON)`` the state of a watcher
    stopped as flapping, ``(hook failed: REASON)`` the state of a watcher per hook whose last
    run raised.
    """

    name = "status"
    usage = "[<name>]"
    properties = (
        Prop("name", "str", help="watcher name"),
        Prop("processes", "bool", help="add the pids and numprocesses"),
    )

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        if "name" in props:
            watcher = self.get_watcher(arbiter, props["name"])
            reply: dict[str, Any] = {"status": watcher.status()}
            if props.get("processes"):
                reply.update(_processes(watcher))
            return extended_reply(
                reply,
                outdated=watcher.outdated_pids(),
                **policy_detail(watcher),
                reload_failed=watcher.reload_failed_detail(),
            )
        watchers = arbiter.watchers
        statuses: dict[str, Any] = {
            "statuses": {watcher.name: watcher.status() for watcher in watchers}
        }
        if props.get("processes"):
            statuses["processes"] = {watcher.name: _processes(watcher) for watcher in watchers}
        outdated = {w.name: pids for w in watchers if (pids := w.outdated_pids())}
        return extended_reply(
            statuses, outdated=outdated, **policy_details(watchers), **reload_failures(watchers)
        )

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 0, 1)
        return self.make_message(name=args[0]) if args else self.make_message()

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if "statuses" in reply:
            statuses, outdated = reply["statuses"], reply.get("outdated") or {}
            gave_up, flapping = reply.get("gave_up") or {}, reply.get("flapping") or {}
            failed, hooks = reply.get("reload_failed") or {}, reply.get("hook_failed") or {}
            return "\n".join(
                f"{name}: {statuses[name]}{_outdated(outdated.get(name))}"
                f"{policy_note(gave_up.get(name), flapping.get(name), hooks.get(name))}"
                f"{_reload_failed(failed.get(name))}"
                for name in sorted(statuses)
            )
        if reply.get("status") not in (None, "error"):
            notes = _outdated(reply.get("outdated"))
            notes += policy_note(
                reply.get("gave_up"), reply.get("flapping"), reply.get("hook_failed")
            )
            notes += _reload_failed(reply.get("reload_failed"))
            return f"{reply['status']}{notes}"
        return self.console_error(reply)


def _processes(watcher: WatcherAPI) -> dict[str, Any]:
    return {"pids": list(watcher.pids()), "numprocesses": watcher.numprocesses}


def _reload_failed(detail: Any) -> str:
    return f" (reload failed: {detail.get('reason')})" if isinstance(detail, Mapping) else ""


def _outdated(pids: Iterable[int] | None) -> str:
    return f" (outdated: {','.join(str(pid) for pid in pids)})" if pids else ""
