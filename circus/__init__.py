"""Circus: a process and socket manager built on a persistent process kernel."""

__version__ = "0.1.0"
version_info = tuple(int(part) for part in __version__.split("."))
