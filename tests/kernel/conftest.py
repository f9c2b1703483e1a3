"""Fixtures of the papa-kernel suite: real kernel daemons in private temporary directories."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # makes kernel_helpers importable

import kernel_helpers


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
def client(kernel):
    """A connection to ``kernel``."""
    return kernel.client()
