"""Fixtures for tests that run a real circusd (and the kernel it starts)."""

import pytest
import support

WORKER = support.CIRCUSD_WORKER


@pytest.fixture
def worker_cmd():
    """``cmd = ...`` text running tests/integration/circusd/worker.py with this Python."""
    return support.WORKER_CMD


@pytest.fixture
def circusd(tmp_path, runtime_dir):
    """Factory: ``circusd(body, circus_extra="")`` starts a circusd; all cleaned up after."""
    started: list[support.Circusd] = []

    def factory(body: str, circus_extra: str = "", start: bool = True, args=()):
        daemon = support.Circusd(tmp_path / f"d{len(started)}", body, circus_extra)
        started.append(daemon)
        if start:
            daemon.start(*args)
        return daemon

    yield factory
    for daemon in started:
        daemon.cleanup()


@pytest.fixture
def no_kernel_left():
    """A list to fill with kernel socket paths; afterwards asserts that no kernel serves them
    (and kills any that does, with its children)."""
    watched: list[str] = []
    yield watched
    leftovers = [kernel for path in watched for kernel in support.kill_kernels_at(path)]
    assert not leftovers, f"kernels left running: {leftovers}"
