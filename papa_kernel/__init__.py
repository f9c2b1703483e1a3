"""papa-kernel: the long-lived, stdlib-only process and socket kernel of Circus.

It owns listening sockets, child processes, their buffered output and exit records, and speaks
the papa line protocol (a superset of papa 1.0.6). It holds no policy. It imports nothing from
``circus``; ``circus`` may import from it (for example :mod:`papa_kernel.paths`).
"""

__version__ = "0.1.0"  # the one version of the project (pyproject reads it; circus re-exports it)
