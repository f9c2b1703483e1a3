"""Fixtures for KernelHost against a real papa-kernel (own unix socket in a private tmp dir)."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)  # kernelkit
sys.path.insert(0, os.path.join(HERE, "..", "..", "unit", "hosts"))  # hostkit

from kernelkit import RunningKernel  # noqa: E402


@pytest.fixture
def kdir():
    """A short private directory (unix socket paths must stay under 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="kh-") as directory:
        os.chmod(directory, 0o700)
        yield directory


@pytest.fixture
def kernel(kdir):
    """A papa-kernel on a unix socket; it and everything it hosts is killed afterwards."""
    started = RunningKernel(kdir)
    try:
        yield started
    finally:
        started.stop()
