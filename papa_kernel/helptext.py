"""Help texts of the ``help`` command (our own words; the wire spec is docs/kernel-protocol.md)."""

from __future__ import annotations

OVERVIEW = """\
papa-kernel commands (every word may be shortened to its first letters, e.g. "l p"):
  make socket NAME [options]           bind a socket and hold it
  list sockets [NAME|PREFIX*...]       show held sockets
  remove sockets [NAME|PREFIX*...]     close held sockets (no name: all of them)
  pass sockets NAME|PREFIX*...         send duplicates of held sockets (unix connections)
  make process NAME [options] PROGRAM [ARGS...]
                                       start a process and capture its output
  list processes [NAME|PREFIX*...]     show processes (exit_code= once exited)
  remove processes [NAME|PREFIX*...]   forget processes and their output (no name: all)
  watch processes [options] [NAME|PREFIX*...]
                                       stream output and exits; answer each batch with a line
  watch sockets [NAME|PREFIX*...]      report when a socket has a pending connection
  signal [group=1] SIGNAL NAME|PREFIX*...
                                       send a signal (TERM, SIGHUP, 9, ...) to processes
  set NAME [VALUE]    get NAME    list values [PATTERN...]    remove values PATTERN...
  version    help [COMMAND]    quit    exit-if-idle (not abbreviable)
Type "help make process" (or "h m p") for the details of one command."""

TOPICS = {
    "make socket": """\
make socket NAME [key=value...]
  family=unix|inet|inet6   default unix when path= is given, else inet
  type=stream|dgram|seqpacket   default stream (dgram sockets are bound, not listening)
  backlog=N                listen backlog (default 5)
  host=ADDR port=N         inet: default host is loopback, port 0 lets the system choose
  interface=IF             bind to one network interface (SO_BINDTODEVICE)
  reuseport=1              each process that inherits it gets its own SO_REUSEPORT socket
  path=/ABS/PATH umask=N   unix: socket file (umask in decimal, as papa clients send it)
  replace=0                unix: refuse to replace an existing socket file
Repeating an identical make socket returns the existing socket.
Example: make socket web host=127.0.0.1 port=8080 backlog=128""",
    "list sockets": (
        "list sockets [NAME|PREFIX*...]\n  One line per socket: NAME family= type= ... fileno="
    ),
    "pass sockets": (
        "pass sockets NAME|PREFIX*... (not abbreviable)\n"
        "  The sockets' list lines; a duplicate of each socket is attached to the reply\n"
        "  (SCM_RIGHTS, in line order). Unix connections only. A client that holds them can\n"
        "  start the next kernel with --socket-fd NAME=FD if this one is lost."
    ),
    "remove sockets": (
        "remove sockets [NAME|PREFIX*...]\n"
        "  Close the kernel's copy (children keep theirs); a unix socket file is removed.\n"
        "  Without a name every socket is removed."
    ),
    "make process": """\
make process NAME [key=value...] PROGRAM [ARGS...]
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
$(socket.NAME.fileno) and $(socket.NAME.port) in ARGS are replaced (and imply inheritance).
Use "\\ " for a space inside an argument.
Example: make process web.1 env.PATH=/usr/bin python3 -m http.server 8000""",
    "list processes": (
        "list processes [NAME|PREFIX*...]\n"
        "  NAME pid= running= started= [exit_code=] [dropped_out=] [dropped_err=] args=..."
    ),
    "remove processes": (
        "remove processes [NAME|PREFIX*...]\n"
        "  Forget processes and their buffered output. A running one keeps running; its\n"
        "  output is discarded and it disappears when it exits. No name: all processes."
    ),
    "watch processes": """\
watch processes [follow=1] [dropped=1] [NAME|PREFIX*...]
  Replies "Watching N", then sends batches ending in "] ":
    out:NAME:TIME:LENGTH / err:NAME:TIME:LENGTH followed by LENGTH bytes
    closed:NAME:TIME:EXITCODE      (negative: killed by that signal)
    dropped:NAME:TIME:STREAM:N     (dropped=1 only: N bytes were lost before this point)
  Answer each batch with a line to acknowledge it ("q" acknowledges and stops).
  Unacknowledged data is sent again to the next watcher. follow=1 also watches processes
  created later and only ends on "q".
  "hold NAME:out:N ..." acknowledges all but those streams after their first N chunks: they
  stay buffered (bounded as unwatched) and unsent until "release NAME:out ..." (no ack).""",
    "watch sockets": (
        "watch sockets [NAME|PREFIX*...]\n"
        "  Sends readable:NAME:TIME once per socket when a connection or datagram is pending\n"
        '  (nothing is accepted). Acknowledge with a line; "q" stops.'
    ),
    "signal": (
        "signal [group=1] SIGNAL NAME|PREFIX*...\n"
        "  SIGNAL: TERM, SIGTERM, term or a number. group=1 signals the process group.\n"
        "  Replies NAME pid=PID for each process signalled; exited ones are skipped."
    ),
    "set": "set NAME [VALUE...]\n  Store a value (words joined by one space); no value deletes.",
    "get": "get NAME\n  The stored value (empty if unset).",
    "list values": "list values [NAME|PREFIX*...]\n  One line per value: NAME VALUE",
    "remove values": "remove values NAME|PREFIX*...\n  Delete values (name them; * is refused).",
    "version": "version\n  papa-kernel VERSION protocol N",
    "quit": "quit\n  Close this connection (hosted processes and sockets stay).",
    "exit-if-idle": (
        "exit-if-idle\n  Stop the kernel if it holds no process, socket or value (else: not idle)."
    ),
    "help": "help [COMMAND]\n  This text, or the details of one command.",
}
