"""Fixtures of the papa-kernel suite: real kernel daemons in private temporary directories."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # makes kernel_helpers importable

import kernel_helpers


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "shared_kernel: the module's tests that use only ``client`` share one papa-kernel, "
        "checked empty before each test and emptied after (tests/kernel/conftest.py)",
    )


@contextlib.contextmanager
def _private_dir(prefix: str) -> Iterator[str]:
    """A short private (0700) temporary directory: unix socket paths must stay under 108
    bytes."""
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        os.chmod(directory, 0o700)
        yield directory


@pytest.fixture
def kdir():
    """A short private directory for a kernel of the test's own."""
    with _private_dir("pk-") as directory:
        yield directory


@pytest.fixture
def scratch():
    """Like ``kdir``, for a test's own files and unix sockets, but not the directory of a
    kernel of its own: a test of a ``shared_kernel`` module that asks for it still shares."""
    with _private_dir("pt-") as directory:
        yield directory


@pytest.fixture
def connect(client):
    """``connect(timeout=10.0)``: another connection to the kernel ``client`` talks to (the
    module's, in a ``shared_kernel`` module), closed after the test."""
    opened: list[kernel_helpers.Client] = []

    def new(timeout: float = 10.0) -> kernel_helpers.Client:
        opened.append(kernel_helpers.Client(client.address, timeout=timeout))
        return opened[-1]

    yield new
    for connection in opened:
        connection.close()


@pytest.fixture
def kernel(kdir):
    """A running papa-kernel on a unix socket; every hosted process is killed afterwards."""
    started = kernel_helpers.start_kernel(kdir)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def tcp_kernel(kdir):
    """A papa-kernel that also listens on loopback TCP (OS-chosen port)."""
    started = kernel_helpers.start_kernel(kdir, tcp=True)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def client(request):
    """A connection to ``kernel``; in a module marked ``shared_kernel``, a test that asks for
    neither ``kernel`` nor ``kdir`` gets a connection to the module's kernel instead (a kernel
    start and stop costs ~40 ms of CPU)."""
    node = request.node
    if node.get_closest_marker("shared_kernel") and not {"kernel", "kdir"} & set(
        request.fixturenames
    ):
        with request.getfixturevalue("module_kernel").test() as shared:
            yield shared
        return
    yield request.getfixturevalue("kernel").client()


@pytest.fixture(scope="module")
def module_kernel():
    """The papa-kernel a module marked ``shared_kernel`` shares (see
    :class:`kernel_helpers.SharedKernel`)."""
    with _private_dir("pk-") as directory:
        started = kernel_helpers.start_kernel(directory)
        try:
            yield kernel_helpers.SharedKernel(started)
        finally:
            started.stop()
