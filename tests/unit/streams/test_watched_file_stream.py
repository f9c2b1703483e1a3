"""WatchedFileStream: follows external rotation (move, delete) by a stat per chunk."""

from __future__ import annotations

import os

import pytest
from stream_support import msg

from circus.streams import WatchedFileStream


@pytest.fixture
def log(tmp_path):
    return tmp_path / "app.log"


@pytest.fixture
def stream(log):
    stream = WatchedFileStream(str(log))
    yield stream
    stream.close()


def test_writes_raw_bytes(log, stream):
    stream(msg(b"a\x00\xff"))
    assert log.read_bytes() == b"a\x00\xff"


def test_moved_file_is_reopened(log, stream):
    stream(msg(b"before\n"))
    os.rename(log, str(log) + ".1")
    stream(msg(b"after\n"))
    assert (log.parent / "app.log.1").read_bytes() == b"before\n"
    assert log.read_bytes() == b"after\n"


def test_deleted_file_is_recreated(log, stream):
    stream(msg(b"gone\n"))
    log.unlink()
    stream(msg(b"back\n"))
    assert log.read_bytes() == b"back\n"


def test_replaced_file_is_followed(log, stream):
    stream(msg(b"old\n"))
    os.rename(log, str(log) + ".1")
    log.write_bytes(b"created by logrotate\n")
    stream(msg(b"new\n"))
    assert log.read_bytes() == b"created by logrotate\nnew\n"


def test_unchanged_file_keeps_its_descriptor(log, stream):
    stream(msg(b"a"))
    fds = sorted(os.listdir("/proc/self/fd"))
    stream(msg(b"b"))
    assert sorted(os.listdir("/proc/self/fd")) == fds
    assert log.read_bytes() == b"ab"


def test_old_descriptor_is_closed_after_reopen(log, stream):
    stream(msg(b"a"))
    count = len(os.listdir("/proc/self/fd"))
    log.unlink()
    stream(msg(b"b"))
    assert len(os.listdir("/proc/self/fd")) == count


def test_time_prefix_restarts_in_the_new_file(log, utc_tz):
    stream = WatchedFileStream(str(log), time_format="%H")
    try:
        stream(msg(b"half"))
        os.rename(log, str(log) + ".1")
        stream(msg(b" rest\n"))
    finally:
        stream.close()
    assert (log.parent / "app.log.1").read_bytes() == b"22 [42] | half"
    assert log.read_bytes() == b"22 [42] |  rest\n"


def test_one_stat_per_chunk_not_per_line(log, stream, monkeypatch):
    calls = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *a, **k: calls.append(a) or real_stat(*a, **k))
    stream(msg(b"x\n" * 1000))
    assert len(calls) == 1


def test_directory_removed_raises_oserror(tmp_path):
    directory = tmp_path / "logs"
    directory.mkdir()
    stream = WatchedFileStream(str(directory / "a.log"))
    try:
        (directory / "a.log").unlink()
        directory.rmdir()
        with pytest.raises(OSError) as info:
            stream(msg(b"x"))
        assert info.value.filename == str(directory / "a.log")
        directory.mkdir()
        stream(msg(b"y"))  # works again once the directory is back
        assert (directory / "a.log").read_bytes() == b"y"
    finally:
        stream.close()
