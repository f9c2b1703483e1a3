"""procinfo: children are found from /proc/PID/task/*/children, not by scanning every process."""

from __future__ import annotations

import subprocess

import psutil
import pytest

from circus import procinfo


@pytest.fixture
def family():
    """A shell with one child (sleep) and one grandchild (sleep under a sub-shell)."""
    parent = subprocess.Popen(
        ["sh", "-c", "sleep 60 & (sleep 61 & wait) & wait"], start_new_session=True
    )
    try:
        import support

        support.wait_for(lambda: len(psutil.Process(parent.pid).children(recursive=True)) == 3)
        yield parent
    finally:
        for proc in psutil.Process(parent.pid).children(recursive=True):
            proc.kill()
        parent.kill()
        parent.wait()


def test_children_without_scanning_every_process(family, monkeypatch):
    expected = {p.pid for p in psutil.Process(family.pid).children()}
    deep = {p.pid for p in psutil.Process(family.pid).children(recursive=True)}

    def no_scan(*args, **kwargs):
        raise AssertionError("psutil scanned every process")

    monkeypatch.setattr(psutil.Process, "children", no_scan)
    assert set(procinfo.children_pids(family.pid)) == expected
    assert set(procinfo.children_pids(family.pid, recursive=True)) == deep
    info = procinfo.get_info(family.pid)
    assert {child["pid"] for child in info["children"]} == expected


def test_children_of_a_gone_process_is_empty():
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert procinfo.children_pids(proc.pid) == []
