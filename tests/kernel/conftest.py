"""Fixtures of the papa-kernel suite: real kernel daemons in private temporary directories."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # makes kernel_helpers importable

import kernel_helpers
import support


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "shared_kernel: the module's tests that use only ``client`` share one papa-kernel, "
        "checked empty before each test and emptied after (tests/kernel/conftest.py)",
    )


@pytest.fixture
def kdir():
    """A short private directory (unix socket paths must stay under 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="pk-") as directory:
        os.chmod(directory, 0o700)
        yield directory


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
    """The papa-kernel a module marked ``shared_kernel`` shares (see :class:`SharedKernel`)."""
    with tempfile.TemporaryDirectory(prefix="pk-") as directory:
        os.chmod(directory, 0o700)
        started = kernel_helpers.start_kernel(directory)
        try:
            yield SharedKernel(started)
        finally:
            started.stop()


class SharedKernel:
    """A kernel shared by tests that leave nothing in it but processes, sockets and values
    (and their connections): each test finds it with none, and what it made is removed after
    it (its processes killed first: removing a running process leaves it running)."""

    def __init__(self, kernel: kernel_helpers.KernelProcess) -> None:
        self.kernel = kernel

    def _left(self, admin: kernel_helpers.Client) -> tuple[str, str, str]:
        return tuple(admin.cmd(f"list {kind}") for kind in ("processes", "sockets", "values"))

    @contextlib.contextmanager
    def test(self):
        assert self.kernel.proc.poll() is None, "the shared kernel exited"
        admin = kernel_helpers.Client(self.kernel.path)
        try:
            left = self._left(admin)
            assert left == ("", "", ""), f"the shared kernel is not empty: {left}"
            client = kernel_helpers.Client(self.kernel.path)
            try:
                yield client
            finally:
                client.close()
                self._empty(admin)
        finally:
            admin.close()

    def _empty(self, admin: kernel_helpers.Client) -> None:
        for pid in self.kernel.hosted_pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        support.wait_for(
            lambda: "running=True" not in admin.cmd("list processes"),
            timeout=10,
            message="the shared kernel's processes killed",
        )
        admin.cmd("remove processes *")
        admin.cmd("remove sockets *")
        for line in admin.cmd("list values").splitlines():
            admin.cmd(f"remove values {line.split(' ', 1)[0]}")
