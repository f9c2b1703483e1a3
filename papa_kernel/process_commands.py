"""Handlers of the process commands: make, list, remove and watch processes.

Registered into :data:`papa_kernel.commands.COMMANDS` on import.
"""

from __future__ import annotations

import logging

from papa_kernel.commands import Session, _check_name, command
from papa_kernel.errors import CommandError, ConflictError
from papa_kernel.procspec import close_child_sockets, parse_process
from papa_kernel.protocol import parse_bool, parse_size, select_names, split_options
from papa_kernel.spawn import spawn

log = logging.getLogger(__name__)

DEFAULT_BUFSIZE = parse_size("bufsize", "2m")  # per stream


@command("make process")
def make_process_command(session: Session, args: list[str]) -> str | None:
    """``make process NAME [key=value...] PROGRAM [ARGS...]``."""
    if not args:
        raise CommandError("Process requires a name")
    name = args[0]
    _check_name(name)
    options, rest = split_options(args[1:])
    kernel = session.kernel
    existing = kernel.processes.get(name)
    spec = parse_process(options, rest, kernel.sockets, DEFAULT_BUFSIZE)
    try:
        if existing is not None:
            if existing.identity != spec.identity:
                raise ConflictError(
                    f"Process for {name} has already been created - {existing.describe()}"
                )
            entry = existing  # identical request: idempotent, like papa 1.0.6
        else:
            spawned = spawn(spec.request, use_pidfd=kernel.use_pidfd)
            entry = kernel.host(
                name, spawned, spec.args_text, spec.identity, spec.capacity, spec.shown_options
            )
            if log.isEnabledFor(logging.INFO):
                log.info("process %s", entry.describe())
    finally:
        close_child_sockets(spec)  # the child has its own copies now
    if spec.watch:
        session.begin_process_watch(
            (entry.describe() + "\n").encode(), [name], follow=False, dropped=False, entries=[entry]
        )
        return None
    return entry.describe()


@command("list processes")
def list_processes_command(session: Session, args: list[str]) -> str:
    """``list processes [PATTERN...]``."""
    processes = session.kernel.processes
    names = select_names(args, processes, strict=False)
    return "\n".join(processes[name].describe() for name in names)


@command("remove processes")
def remove_processes_command(session: Session, args: list[str]) -> str:
    """``remove processes [PATTERN...]`` (no pattern: all)."""
    kernel = session.kernel
    for name in select_names(args, kernel.processes, strict=True):
        kernel.remove(kernel.processes[name])
    return ""


@command("watch processes")
def watch_processes_command(session: Session, args: list[str]) -> None:
    """``watch processes [follow=1] [dropped=1] [PATTERN...]``."""
    options, patterns = split_options(args)
    unknown = set(options) - {"follow", "dropped"}
    if unknown:
        raise CommandError(f'Unknown watch option "{sorted(unknown)[0]}"')
    follow = parse_bool("follow", options["follow"]) if "follow" in options else False
    dropped = parse_bool("dropped", options["dropped"]) if "dropped" in options else False
    processes = session.kernel.processes
    names = select_names(patterns, processes, strict=True)
    entries = [processes[name] for name in names if not processes[name].removed]
    if not entries and not follow:
        raise CommandError("Nothing to watch")
    session.begin_process_watch(
        f"Watching {len(entries)}\n".encode(), patterns, follow, dropped, entries
    )
