"""Test support for policy code: a virtual-time event loop, an in-memory ProcessHost and an
arbiter harness. Used by circus's own tests; usable by library users to test hooks and
configurations without starting processes (docs/library.md, "Testing policy in-process")."""

from circus.testing.clock import (
    VirtualTimeDeadlock,
    VirtualTimeLoop,
    run_virtual,
    settle,
    virtual_time,
)
from circus.testing.fakehost import Call, FakeHost, FakeProcess
from circus.testing.harness import RecordingPublisher, arbiter_on, start_arbiter

__all__ = [
    "Call",
    "FakeHost",
    "FakeProcess",
    "RecordingPublisher",
    "VirtualTimeDeadlock",
    "VirtualTimeLoop",
    "arbiter_on",
    "run_virtual",
    "settle",
    "start_arbiter",
    "virtual_time",
]
