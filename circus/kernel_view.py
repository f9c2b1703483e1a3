"""What papa-kernel holds, as the ``kernel`` command reports it (circushttpd's kernel page).

This is what survives a restart of circusd: the kernel's processes (running, or exited and not
collected yet), its sockets and circusd's values in it. Process and socket names are decoded
(``circus.<watcher>.<wid>``, ``circus.<socket>``); anything else the kernel hosts (another
client's) is listed with ``watcher`` null.
"""

from __future__ import annotations

from typing import Any

from circus.hosts.base import ProcessHost
from circus.hosts.names import parse_process_name

#: The most processes one reply lists (the rest is counted in ``more_processes``).
MAX_LISTED = 10000


async def kernel_view(kernel: ProcessHost | None, endpoint: str) -> dict[str, Any]:
    """``{"available", "endpoint", "processes", "sockets", "values", "more_processes"}``."""
    if kernel is None:
        return {
            "available": False,
            "reason": "no watcher uses papa-kernel (use_papa = false everywhere)",
            "endpoint": endpoint,
            "processes": [],
            "sockets": [],
            "values": 0,
        }
    processes = []
    listed = await kernel.list_processes("")
    for info in listed[:MAX_LISTED]:
        parsed = parse_process_name(info.name)
        processes.append(
            {
                "name": info.name,
                "watcher": parsed[0] if parsed else None,
                "wid": parsed[1] if parsed else None,
                "pid": info.pid,
                "running": info.running,
                "started": info.started,
                "exit_code": info.exit_code,
                "args": info.args,
            }
        )
    sockets = [
        {
            "name": s.name,
            "family": s.family,
            "type": s.type,
            "host": s.host,
            "port": s.port,
            "path": s.path,
            "backlog": s.backlog,
            "fileno": s.fileno,
        }
        for s in await kernel.list_sockets("")
    ]
    values = await kernel.get_values("")
    return {
        "available": True,
        "endpoint": endpoint,
        "processes": processes,
        "more_processes": max(0, len(listed) - MAX_LISTED),
        "sockets": sockets,
        "values": len(values),
    }
