"""The JSON API under ``/api/`` (the contract is docs/dev/web-api.md): circusd's state and the
actions on watchers and processes, through :class:`circus.web.circusd.CircusdLink`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from circus.web import validate as v
from circus.web.base import ApiError, ApiHandler
from circus.web.circusd import Disconnected, Refused
from circus.web.watchers import event_key

SUPPORT_NAMES = ("circusd-stats", "circushttpd")


def is_support(name: str) -> bool:
    return name in SUPPORT_NAMES or name.startswith("plugin:")


def _pids(reply: dict[str, Any]) -> list[int]:
    return [int(p) for p in reply.get("pids", []) if str(p).isdigit()]


class ApiStatus(ApiHandler):
    """``GET /api/status``: is circusd there, its own figures, is circusd-stats there."""

    async def get(self) -> None:
        link = self.web.link
        circusd = None
        if link.connected or not link.error:
            try:
                info = (await self.call("dstats")).get("info", {})
                circusd = {
                    k: info.get(k)
                    for k in ("pid", "cpu", "mem", "mem_info1", "mem_info2", "ctime", "age")
                }
            except ApiError as exc:
                if exc.code != "disconnected":
                    raise
        self.reply(
            {
                "connected": link.connected,
                "endpoint": link.endpoint,
                "since": link.since,
                "error": None if link.connected else link.error,
                "circusd": circusd,
                "stats": {
                    "connected": link.stats_connected(),
                    "endpoint": link.stats_endpoint,
                    "last": link.last_stats,
                },
            }
        )


async def pids_and_target(handler: ApiHandler, name: str) -> tuple[list[int], Any]:
    """The live pids and the target count of a watcher, asked of a circusd whose ``status``
    does not give them (cached until the watcher's next event)."""
    cache = handler.web.link.watchers
    cached = cache.get(name)
    if cached is not None:
        return cached
    fetched_at = time.monotonic()
    pids_reply, target = await asyncio.gather(
        handler.call("list", name=name), handler.call("get", name=name, keys=["numprocesses"])
    )
    value = (_pids(pids_reply), target.get("options", {}).get("numprocesses"))
    cache.put(name, value, fetched_at)
    return value


async def watcher_summary(handler: ApiHandler, name: str, status: dict[str, Any]) -> dict:
    """A watcher's line of the list, from ``status`` asked with ``processes`` (a circusd
    without that extension is asked its pids and count: two more calls)."""
    processes = (status.get("processes") or {}).get(name)
    if isinstance(processes, dict):
        pids, target = _pids(processes), processes.get("numprocesses")
    else:
        pids, target = await pids_and_target(handler, name)
    cpu, mem = handler.web.link.history.latest(name)
    return {
        "name": name,
        "status": status["statuses"].get(name, "unknown"),
        "numprocesses": target,
        "processes": len(pids),
        "pids": list(pids),
        "plugin": name.startswith("plugin:"),
        "support": is_support(name),
        "gave_up": (status.get("gave_up") or {}).get(name),
        "reload_failed": (status.get("reload_failed") or {}).get(name),
        "flapping": (status.get("flapping") or {}).get(name),
        "hook_failed": (status.get("hook_failed") or {}).get(name),
        "outdated": (status.get("outdated") or {}).get(name, []),
        "cpu": cpu,
        "mem": mem,
    }


def add_refusal(reason: str) -> ApiError:
    """circusd's refusal of ``add`` as an API error on the field it concerns, when it names
    one (the name, an option), else 409 ``circusd``."""
    if "already exist" in reason or "watcher name" in reason:
        return ApiError(409, "invalid", f"name: {reason}", field="name")
    field = v.option_field(reason)
    if field is not None:
        return ApiError(400, "invalid", reason, field=field)
    return ApiError(409, "circusd", reason)


class ApiWatchers(ApiHandler):
    """``GET /api/watchers`` lists them; ``POST /api/watchers`` adds one."""

    async def get(self) -> None:
        status = await self.call("status", processes=True)  # one call whatever the number
        names = sorted(status.get("statuses", {}))
        summaries = await asyncio.gather(*(watcher_summary(self, n, status) for n in names))
        self.reply({"watchers": list(summaries)})

    async def post(self) -> None:
        data = self.json_body()
        name = v.watcher_name(data)
        cmd = v.text(data, "cmd", True)
        props: dict[str, Any] = {
            "name": name,
            "cmd": cmd,
            "options": v.options(data),
            "start": v.boolean(data, "start", False),
        }
        arguments = v.args(data)
        if arguments is not None:
            props["args"] = arguments
        try:
            await self.web.link.call("add", **props)
        except Refused as exc:
            raise add_refusal(str(exc)) from None
        except Disconnected as exc:
            raise ApiError(503, "disconnected", f"circusd is not reachable: {exc}") from None
        self.reply({"watcher": await watcher_detail(self, name.lower())}, status=201)


async def watcher_detail(handler: ApiHandler, name: str) -> dict[str, Any]:
    status_all = await handler.call("status", processes=True)
    if name not in status_all.get("statuses", {}):
        matches = [n for n in status_all.get("statuses", {}) if n.lower() == name.lower()]
        if not matches:
            raise ApiError(404, "not_found", f"no watcher named {name!r}")
        name = matches[0]
    summary, options, stats = await asyncio.gather(
        watcher_summary(handler, name, status_all),
        handler.call("options", name=name),
        handler.call("stats", name=name),
    )
    history = handler.web.link.history
    now = time.time()
    processes = []
    for pid_text, info in sorted((stats.get("info") or {}).items(), key=lambda kv: str(kv[0])):
        pid = int(pid_text) if str(pid_text).isdigit() else None
        if pid is None:
            continue
        entry: dict[str, Any] = {"pid": pid, "status": "running"}
        if isinstance(info, dict):
            started = info.get("started") or info.get("create_time")
            entry.update(
                wid=info.get("wid"),
                started=started,
                age=info.get("age")
                if info.get("age") is not None
                else (now - started if started else None),
                cpu=info.get("cpu"),
                mem=info.get("mem"),
                mem_info1=info.get("mem_info1"),
                cmdline=info.get("cmdline"),
            )
        else:
            entry["status"] = str(info)
        cpu, mem = history.latest(name, pid)
        if cpu is not None:
            entry["cpu"], entry["mem"] = cpu, mem
        processes.append(entry)
    processes.sort(key=lambda p: (p.get("wid") is None, p.get("wid") or 0, p["pid"]))
    return {**summary, "options": options.get("options", {}), "processes": processes}


class ApiWatcher(ApiHandler):
    """``GET /api/watchers/NAME``."""

    async def get(self, name: str) -> None:
        self.reply({"watcher": await watcher_detail(self, name)})


async def _target(handler: ApiHandler, name: str) -> int | None:
    reply = await handler.call("get", name=name, keys=["numprocesses"])
    return reply.get("options", {}).get("numprocesses")


class ApiAction(ApiHandler):
    """``POST /api/watchers/NAME/ACTION`` (see the table in docs/dev/web-api.md)."""

    ACTIONS = (
        "start",
        "stop",
        "restart",
        "reload",
        "incr",
        "decr",
        "numprocesses",
        "kill",
        "signal",
        "remove",
    )

    async def post(self, name: str, action: str) -> None:
        data = self.json_body()
        if action not in self.ACTIONS:
            raise ApiError(
                404,
                "not_found",
                f"unknown action {action!r} (use one of {', '.join(self.ACTIONS)})",
            )
        reply: dict[str, Any] = {"ok": True}
        if action in ("start", "stop", "restart", "reload"):
            await self.call(action, name=name)
        elif action in ("incr", "decr"):
            nb = v.integer(data, "nb", 1, 1, v.MAX_NB)
            await self.call(action, name=name, nb=nb)
            reply["numprocesses"] = await _target(self, name)
        elif action == "numprocesses":
            value = v.required_integer(data, "value", 0, v.MAX_PROCESSES)
            await self.call("set", name=name, options={"numprocesses": value})
            reply["numprocesses"] = await _target(self, name)
        elif action == "kill":
            props: dict[str, object] = {"name": name}
            optional: dict[str, object] = {
                "pid": v.pid(data),
                "signum": v.signal_name(data, "signum", False),
                "graceful_timeout": v.number(data, "graceful_timeout", 0, 3600),
            }
            props.update((key, given) for key, given in optional.items() if given is not None)
            await self.call("kill", **props)
        elif action == "signal":
            props = {"name": name, "signum": v.signal_name(data, "signum", True)}
            process = v.pid(data)
            if process is not None:
                props["pid"] = process
            await self.call("signal", **props)
        elif action == "remove":
            await self.call("rm", name=name)
        self.web.link.watchers.invalidate(event_key(name))  # its events may come after a reload
        self.reply(reply)


class ApiWatcherStats(ApiHandler):
    """``GET /api/watchers/NAME/stats``: the recent history of a watcher and its processes."""

    def get(self, name: str) -> None:
        history = self.web.link.history
        self.reply(
            {"watcher": history.watcher_series(name), "processes": history.process_series(name)}
        )


class ApiStats(ApiHandler):
    """``GET /api/stats``: the recent history of every watcher."""

    def get(self) -> None:
        self.reply({"watchers": self.web.link.history.all_watchers()})


class ApiOutput(ApiHandler):
    """``GET /api/watchers/NAME/output?since=SEQ``: the output circusd still has."""

    async def get(self, name: str) -> None:
        since = v.integer(
            {"since": self.get_query_argument("since", None)}, "since", None, 0, 2**62
        )
        props: dict[str, Any] = {"name": name}
        if since is not None:
            props["since"] = since
        reply = await self.call("tail", **props)
        self.reply(
            {
                "chunks": reply.get("chunks", []),
                "next": reply.get("next"),
                "missed": bool(reply.get("missed")),
            }
        )


class ApiKernel(ApiHandler):
    """``GET /api/kernel``: what papa-kernel holds (survives a restart of circusd)."""

    async def get(self) -> None:
        try:
            reply = await self.call("kernel")
        except ApiError as exc:
            if exc.code != "circusd":
                raise
            self.reply({"available": False, "reason": exc.message, "processes": [], "sockets": []})
            return
        reply.pop("status", None)
        reply.pop("time", None)
        reply.pop("id", None)
        self.reply(reply)


class ApiDiscovery(ApiHandler):
    """``GET /api/discovery``: the circusds that answered circushttpd's discovery probes (when
    started with ``--discover``) and the one the console is on. ``POST``: probe now (CSRF)."""

    def _state(self) -> dict[str, Any]:
        discovered = self.web.discovery
        data: dict[str, Any] = {
            "enabled": discovered is not None,
            "current": self.web.link.endpoint,
        }
        if discovered is not None:
            data.update(discovered.snapshot())
        return data

    def get(self) -> None:
        self.reply(self._state())

    async def post(self) -> None:
        self.json_body()  # the body must be a JSON object (or empty); nothing in it is used
        if self.web.discovery is None:
            raise ApiError(409, "disabled", "discovery is off: start circushttpd with --discover")
        await self.web.discovery.probe()
        self.reply(self._state())
