"""Handlers of the process commands: make, list, remove and watch processes.

Declared into :mod:`papa_kernel.command_table` on import, like :mod:`papa_kernel.commands`.
"""

from __future__ import annotations

from papa_kernel import klog
from papa_kernel.command_table import command
from papa_kernel.commands import Session
from papa_kernel.errors import CommandError, ConflictError
from papa_kernel.procspec import close_child_sockets, parse_process
from papa_kernel.protocol import check_name, parse_bool, parse_size, select_names, split_options
from papa_kernel.spawn import spawn

log = klog.get(__name__)

DEFAULT_BUFSIZE = parse_size("bufsize", "2m")  # per stream


@command(
    "make process",
    usage="make process NAME [key=value...] PROGRAM [ARGS...]",
    summary="start a process and capture its output",
    details="""\
  working_dir=/ABS/DIR     directory to start in
  uid=USER gid=GROUP       user and group (names or numbers)
  umask=022                octal umask of the child
  executable=PATH          program file to run; PROGRAM is still passed as argv[0]
  env.NAME=VALUE           environment (the child gets only these; env.X= is an empty value)
  rlimit.NAME=N            resource limit, e.g. rlimit.nofile=4096 or rlimit.core=unlimited
  bufsize=2m               output buffer per stream (k/m/g suffixes); 0 captures nothing
  stdout=0                 discard stdout;  stderr=0 discard stderr; stderr=stdout merges it
  sockets=A,B              held sockets the child inherits (at the kernel's fd numbers)
  stdin_socket=NAME        that socket becomes the child's stdin
  shell=1                  run "/bin/sh -c PROGRAM ARGS..."
  watch=1                  reply, then start watching this process at once
  stop_signal=TERM         what a graceful stop of the kernel sends it (--graceful-stop, --init)
  arg.N=VALUE              argument N (0 is PROGRAM) is VALUE; ARGS fill the other places.
                           For what a token cannot carry: arg.2= is an empty argument
$(socket.NAME.fileno) and $(socket.NAME.port) in ARGS are replaced (and imply inheritance).
Use "\\ " for a space inside an argument.
Example: make process web.1 env.PATH=/usr/bin python3 -m http.server 8000""",
)
def make_process_command(session: Session, args: list[str]) -> str | None:
    """``make process NAME [key=value...] PROGRAM [ARGS...]``."""
    if not args:
        raise CommandError("Process requires a name")
    name = args[0]
    check_name(name)
    options, rest = split_options(args[1:])
    kernel = session.kernel
    if kernel.stopping:
        raise CommandError("The kernel is stopping everything; no process can be started")
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
            entry.stop_signal = spec.stop_signal
            if log.isEnabledFor(klog.INFO):
                log.info("process %s", entry.describe())
    finally:
        close_child_sockets(spec)  # the child has its own copies now
    if spec.watch:
        session.begin_process_watch(
            (entry.describe() + "\n").encode(), [name], follow=False, dropped=False, entries=[entry]
        )
        return None
    return entry.describe()


@command(
    "list processes",
    usage="list processes [age=1] [NAME|PREFIX*...]",
    summary="show processes (exit_code= once exited)",
    details=(
        "  NAME pid= running= started= [exit_code=] [dropped_out=] [dropped_err=] [age=]\n"
        "       args=...\n"
        "  age=1: a running process's line also has age=SECONDS, how long it has run on\n"
        "  the kernel's clock (started= is the kernel's wall clock: another machine's may\n"
        "  differ)."
    ),
)
def list_processes_command(session: Session, args: list[str]) -> str:
    """``list processes [age=1] [PATTERN...]``. Only a leading ``age=`` is an option: other
    arguments are names or patterns, as in papa 1.0.6 (a process name may contain ``=``)."""
    with_age = False
    if args and args[0].startswith("age="):
        with_age = parse_bool("age", args[0][len("age=") :])
        args = args[1:]
    processes = session.kernel.processes
    names = select_names(args, processes, strict=False)
    return "\n".join(processes[name].describe(with_age) for name in names)


@command(
    "remove processes",
    usage="remove processes [NAME|PREFIX*...]",
    summary="forget processes and their output (no name: all)",
    details=(
        "  Forget processes and their buffered output. A running one keeps running; its\n"
        "  output is discarded and it disappears when it exits. No name: all processes."
    ),
)
def remove_processes_command(session: Session, args: list[str]) -> str:
    """``remove processes [PATTERN...]`` (no pattern: all)."""
    kernel = session.kernel
    for name in select_names(args, kernel.processes, strict=True):
        kernel.remove(kernel.processes[name])
    return ""


@command(
    "watch processes",
    usage="watch processes [follow=1] [dropped=1] [NAME|PREFIX*...]",
    summary="stream output and exits; answer each batch with a line",
    details="""\
  Replies "Watching N", then sends batches ending in "] ":
    out:NAME:TIME:LENGTH / err:NAME:TIME:LENGTH followed by LENGTH bytes
    closed:NAME:TIME:EXITCODE      (negative: killed by that signal)
    dropped:NAME:TIME:STREAM:N     (dropped=1 only: N bytes were lost before this point)
  Answer each batch with a line to acknowledge it ("q" acknowledges and stops).
  Unacknowledged data is sent again to the next watcher. follow=1 also watches processes
  created later and only ends on "q".
  "hold NAME:out:N ..." acknowledges all but those streams after their first N chunks: they
  stay buffered (bounded as unwatched) and unsent until "release NAME:out ..." (no ack).""",
)
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
