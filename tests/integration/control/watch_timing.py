"""Timings of the connection-watch tests (test_connection_watch, test_async_monitor), whose
fixtures ``quick_detach`` and ``fast_retries`` are in this directory's conftest.py."""

#: The idle time before a client's monitor is detached (``diagnose.IDLE_DETACH``, 1 s) where
#: a test waits for it and is not about its value (the ``quick_detach`` fixture sets it).
QUICK_DETACH = 0.2
