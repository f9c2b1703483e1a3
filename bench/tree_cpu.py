"""The CPU of a command's whole process tree: ``python bench/tree_cpu.py CMD ARGS...``.

The command runs as a child of a child subreaper (PR_SET_CHILD_SUBREAPER): the processes its
processes orphan (a papa-kernel that daemonized, the workers of a kernel killed meanwhile) come
back here and are reaped, so their CPU counts. ``time`` and pytest's ``--cpu-report`` count
only the children their process reaps: pid 1 reaps the kernels, and the kernels their workers.
Prints the exit status, user + sys CPU of everything reaped, and the wall time::

    .venv/bin/python bench/tree_cpu.py .venv/bin/pytest -q -p no:xdist tests/integration/circusd
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    started = time.monotonic()
    code = subprocess.call(argv)
    while True:  # the orphans that came back to us, until none is left
        try:
            os.wait()
        except ChildProcessError:
            break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"exit {code}; CPU {usage.ru_utime + usage.ru_stime:.2f} s "
        f"(user {usage.ru_utime:.2f}, sys {usage.ru_stime:.2f}); "
        f"wall {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
