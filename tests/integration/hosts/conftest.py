"""Fixtures for KernelHost against a real papa-kernel (own unix socket in a private tmp dir)."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)  # kernelkit
sys.path.insert(0, os.path.join(HERE, "..", "..", "unit", "hosts"))  # hostkit
sys.path.insert(0, os.path.join(HERE, "..", "..", "kernel"))  # kernel_helpers

from kernel_helpers import SharedKernel  # noqa: E402
from kernelkit import RunningKernel  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "shared_kernel: the test's ``kernel`` is the module's, checked empty before the test "
        "and emptied after (tests/integration/hosts/conftest.py)",
    )


@pytest.fixture
def kdir():
    """A short private directory (unix socket paths must stay under 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="kh-") as directory:
        os.chmod(directory, 0o700)
        yield directory


@pytest.fixture
def kernel(request, kdir):
    """A papa-kernel on a unix socket; it and everything it hosts is killed afterwards. A
    test marked ``shared_kernel`` gets the module's instead: it must find no process, socket
    or value there, and what it made is killed and removed after it (a kernel start and stop
    costs ~40 ms of CPU)."""
    if request.node.get_closest_marker("shared_kernel"):
        shared = request.getfixturevalue("module_kernel")
        with shared.test():
            yield shared.kernel
        return
    started = RunningKernel(kdir)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def module_kernel():
    """The papa-kernel of a module's tests marked ``shared_kernel``."""
    with tempfile.TemporaryDirectory(prefix="kh-") as directory:
        os.chmod(directory, 0o700)
        started = RunningKernel(directory)
        try:
            yield SharedKernel(started)
        finally:
            started.stop()
