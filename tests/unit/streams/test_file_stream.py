"""FileStream: raw and prefixed output, chunk boundaries, size rotation, sharing, errors."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stream_support import T0, msg

from circus.streams import FileStream, StreamOptionError

FMT = "%Y-%m-%d %H:%M:%S"


@pytest.fixture
def log(tmp_path):
    return tmp_path / "out.log"


@pytest.fixture
def streams():
    """Streams created by a test; closed after it."""
    made = []
    yield made
    for stream in made:
        stream.close()


def make(streams, *args, **kwargs):
    stream = FileStream(*args, **kwargs)
    streams.append(stream)
    return stream


# --- raw output -------------------------------------------------------------------------------


def test_raw_bytes_are_written_unchanged(log, streams):
    stream = make(streams, str(log))
    payload = bytes(range(256)) + b"no newline at end"
    stream(msg(payload[:100]))
    stream(msg(payload[100:]))
    assert log.read_bytes() == payload


def test_file_is_created_at_construction_and_appended_to(log, streams):
    log.write_bytes(b"before\n")
    stream = make(streams, log)  # a Path is fine too
    assert log.exists()
    stream(msg(b"after\n"))
    assert log.read_bytes() == b"before\nafter\n"


def test_output_is_on_disk_when_the_call_returns(log, streams):
    stream = make(streams, str(log))
    for i in range(3):
        stream(msg(b"line %d\n" % i))
        assert log.read_bytes().endswith(b"line %d\n" % i)  # no buffer to flush


def test_empty_chunks_write_nothing(log, streams):
    stream = make(streams, str(log), time_format=FMT)
    stream(msg(b""))
    assert log.read_bytes() == b""


def test_message_without_timestamp_uses_now(log, streams):
    stream = make(streams, str(log), time_format="%Y")
    stream({"data": b"x\n", "pid": 1, "name": "stdout"})
    assert log.read_bytes().startswith(str(__import__("time").localtime().tm_year).encode())


# --- time prefix ------------------------------------------------------------------------------


def test_prefix_format_is_the_original_one(log, streams, utc_tz):
    stream = make(streams, str(log), time_format=FMT)
    stream(msg(b"hello\nworld\n", pid=7))
    assert log.read_bytes() == b"2023-11-14 22:13:20 [7] | hello\n2023-11-14 22:13:20 [7] | world\n"


def test_prefix_across_chunk_boundaries(log, streams, utc_tz):
    stream = make(streams, str(log), time_format="%H:%M:%S")
    stream(msg(b"hel", ts=T0))
    stream(msg(b"lo\nwor", ts=T0 + 1))
    stream(msg(b"ld\n", ts=T0 + 2))
    stream(msg(b"\n", ts=T0 + 3))
    # a line carries the time of the chunk that started it
    assert log.read_bytes() == (b"22:13:20 [42] | hello\n22:13:21 [42] | world\n22:13:23 [42] | \n")


def test_prefix_uses_the_message_timestamp_not_the_clock(log, streams, utc_tz):
    stream = make(streams, str(log), time_format=FMT)
    stream(msg(b"replayed\n", ts=T0 - 3600 * 24 * 365))
    assert log.read_bytes() == b"2022-11-14 22:13:20 [42] | replayed\n"


def test_prefix_in_local_time(log, streams, paris_tz):
    stream = make(streams, str(log), time_format="%H:%M %Z")
    stream(msg(b"x\n"))
    assert log.read_bytes() == b"23:13 CET [42] | x\n"


def test_prefix_with_microseconds(log, streams, utc_tz):
    stream = make(streams, str(log), time_format="%S.%f")
    stream(msg(b"x\n", ts=T0 + 0.5))
    assert log.read_bytes() == b"20.500000 [42] | x\n"


def test_prefix_keeps_invalid_utf8_bytes(log, streams, utc_tz):
    stream = make(streams, str(log), time_format="%H")
    stream(msg(b"\xff\xfe\n\x80"))
    assert log.read_bytes() == b"22 [42] | \xff\xfe\n22 [42] | \x80"


def test_lines_of_different_pids_are_not_mixed(log, streams, utc_tz):
    stream = make(streams, str(log), time_format="%H")
    stream(msg(b"one", pid=1))
    stream(msg(b"two\n", pid=2))
    stream(msg(b" continued\n", pid=1))
    assert log.read_bytes() == b"22 [1] | one\n22 [2] | two\n22 [1] |  continued\n"


def test_prefix_after_restart_in_the_middle_of_a_line(log, streams, utc_tz):
    log.write_bytes(b"22 [1] | unfinished")
    stream = make(streams, str(log), time_format="%H")
    stream(msg(b"next\n", pid=1))
    assert log.read_bytes() == b"22 [1] | unfinished\n22 [1] | next\n"


def test_empty_time_format_means_no_prefix(log, streams):
    stream = make(streams, str(log), time_format="")
    stream(msg(b"x\n"))
    assert log.read_bytes() == b"x\n"


# --- sharing a file -------------------------------------------------------------------------------


def test_stdout_and_stderr_streams_share_one_file(log, streams, utc_tz):
    out = make(streams, str(log), time_format="%H")
    err = make(streams, str(log), time_format="%H")
    out(msg(b"out-start", name="stdout"))
    err(msg(b"error\n", name="stderr"))
    out(msg(b"-end\n", name="stdout"))
    assert log.read_bytes() == b"22 [42] | out-start\n22 [42] | error\n22 [42] | -end\n"


def test_shared_file_stays_open_until_the_last_stream_closes(log, streams):
    one = make(streams, str(log))
    two = make(streams, str(log))
    one.close()
    two(msg(b"still\n"))
    two.close()
    assert log.read_bytes() == b"still\n"


def test_shared_rotation_rotates_once(log, streams):
    out = make(streams, str(log), max_bytes=10, backup_count=3)
    err = make(streams, str(log), max_bytes=10, backup_count=3)
    out(msg(b"aaaaaaaa\n"))
    err(msg(b"bbbbbbbb\n"))
    out(msg(b"cccccccc\n"))
    assert log.read_bytes() == b"cccccccc\n"
    assert (log.parent / "out.log.1").read_bytes() == b"bbbbbbbb\n"
    assert (log.parent / "out.log.2").read_bytes() == b"aaaaaaaa\n"


# --- close and reopen -----------------------------------------------------------------------------


def test_close_is_idempotent_and_a_later_call_reopens(log, streams):
    stream = make(streams, str(log))
    stream(msg(b"a\n"))
    stream.close()
    stream.close()
    stream(msg(b"b\n"))
    assert log.read_bytes() == b"a\nb\n"


def test_close_releases_the_file_descriptor(log):
    before = len(os.listdir("/proc/self/fd"))
    stream = FileStream(str(log))
    assert len(os.listdir("/proc/self/fd")) == before + 1
    stream.close()
    assert len(os.listdir("/proc/self/fd")) == before


def test_reopen_follows_an_external_rotation(log, streams):
    stream = make(streams, str(log))
    stream(msg(b"old\n"))
    os.rename(log, str(log) + ".moved")
    stream(msg(b"still old\n"))  # a plain FileStream does not watch the path
    stream.reopen()
    stream(msg(b"new\n"))
    assert (log.parent / "out.log.moved").read_bytes() == b"old\nstill old\n"
    assert log.read_bytes() == b"new\n"


def test_reopen_after_close_opens(log, streams):
    stream = make(streams, str(log))
    stream.close()
    stream.reopen()
    stream(msg(b"x"))
    assert log.read_bytes() == b"x"


def test_with_block_closes(log):
    before = len(os.listdir("/proc/self/fd"))
    with FileStream(str(log)) as stream:
        stream(msg(b"x"))
    assert len(os.listdir("/proc/self/fd")) == before


# --- size rotation ----------------------------------------------------------------------------


def files(log):
    return {p.name: p.read_bytes() for p in sorted(log.parent.iterdir())}


def test_rotation_by_size_keeps_backup_count_files(log, streams):
    stream = make(streams, str(log), max_bytes=10, backup_count=2)
    for i in range(5):
        stream(msg(b"line %d\n" % i))  # 7 bytes each: one per file
    assert files(log) == {
        "out.log": b"line 4\n",
        "out.log.1": b"line 3\n",
        "out.log.2": b"line 2\n",
    }


def test_rotation_never_exceeds_max_bytes_and_splits_at_line_ends(log, streams):
    stream = make(streams, str(log), max_bytes=10, backup_count=5)
    stream(msg(b"aaa\nbbb\nccc\nddd\neee\n"))
    assert files(log) == {
        "out.log": b"eee\n",
        "out.log.1": b"ccc\nddd\n",
        "out.log.2": b"aaa\nbbb\n",
    }


def test_a_line_longer_than_max_bytes_is_cut(log, streams):
    stream = make(streams, str(log), max_bytes=4, backup_count=5)
    stream(msg(b"0123456789"))
    assert files(log) == {"out.log": b"89", "out.log.1": b"4567", "out.log.2": b"0123"}


def test_rotation_counts_the_existing_file(log, streams):
    log.write_bytes(b"12345678")
    stream = make(streams, str(log), max_bytes=10, backup_count=1)
    stream(msg(b"abc\n"))
    assert files(log) == {"out.log": b"abc\n", "out.log.1": b"12345678"}


def test_rotation_with_prefix_counts_the_prefixed_size(log, streams, utc_tz):
    stream = make(streams, str(log), time_format="%H", max_bytes=20, backup_count=1)
    stream(msg(b"a\nb\n", pid=1))  # 2 x "22 [1] | x\n" = 22 bytes
    assert files(log) == {"out.log": b"22 [1] | b\n", "out.log.1": b"22 [1] | a\n"}


def test_max_bytes_without_backup_count_does_not_rotate(log, streams, caplog):
    stream = make(streams, str(log), max_bytes=5)
    stream(msg(b"0123456789\n"))
    assert files(log) == {"out.log": b"0123456789\n"}
    assert "max_bytes has no effect" in caplog.text


def test_rotation_after_reopen_uses_the_real_size(log, streams):
    stream = make(streams, str(log), max_bytes=10, backup_count=1)
    stream(msg(b"12345\n"))
    stream.close()
    stream(msg(b"6789\n"))  # 11 bytes in total: rotates first
    assert files(log) == {"out.log": b"6789\n", "out.log.1": b"12345\n"}


def test_rotation_by_one_gigabyte_setting_is_accepted(log, streams):
    stream = make(streams, str(log), max_bytes="1073741824", backup_count="5")
    assert (stream.max_bytes, stream.backup_count) == (1073741824, 5)


# --- errors -----------------------------------------------------------------------------------


def test_missing_directory_raises_oserror_naming_the_file(tmp_path):
    with pytest.raises(OSError) as info:
        FileStream(str(tmp_path / "no" / "such.log"))
    assert info.value.filename == str(tmp_path / "no" / "such.log")


def test_write_error_raises_oserror_naming_the_file():
    stream = FileStream("/dev/full")
    try:
        with pytest.raises(OSError) as info:
            stream(msg(b"x\n"))
        assert info.value.filename == "/dev/full"
        assert "No space" in str(info.value)
    finally:
        stream.close()


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"filename": ""}, "filename"),
        ({"filename": "x", "max_bytes": -1}, "max_bytes"),
        ({"filename": "x", "backup_count": "many"}, "backup_count"),
        ({"filename": "x", "time_format": 5}, "time_format"),
    ],
)
def test_bad_values_name_the_option(kwargs, option, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StreamOptionError) as info:
        FileStream(**kwargs)
    assert info.value.option == option


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chunks=st.lists(
        st.binary(max_size=30).map(lambda b: b.replace(b"\x00", b"\n")), min_size=1, max_size=20
    ),
    max_bytes=st.integers(min_value=1, max_value=40),
)
def test_size_rotation_loses_nothing_and_respects_max_bytes(tmp_path_factory, chunks, max_bytes):
    directory = tmp_path_factory.mktemp("rot")
    log = directory / "r.log"
    # Every backup holds at least one byte, so one backup per byte is enough to lose nothing;
    # no more, as each rotation checks every backup slot (10_000 slots took up to a minute).
    backup_count = sum(len(chunk) for chunk in chunks) + 1
    stream = FileStream(str(log), max_bytes=max_bytes, backup_count=backup_count)
    try:
        for chunk in chunks:
            stream(msg(chunk))
    finally:
        stream.close()
    backups = sorted(
        (p for p in directory.iterdir() if p.name != "r.log"),
        key=lambda p: -int(p.name.rsplit(".", 1)[1]),
    )
    contents = [p.read_bytes() for p in [*backups, log]]
    assert b"".join(contents) == b"".join(chunks)
    assert all(len(content) <= max_bytes for content in contents)
    assert all(contents[:-1])  # no empty backups


def test_every_bad_value_is_named_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StreamOptionError) as info:
        FileStream("", max_bytes=-1, backup_count="many")
    assert [option for option, _reason in info.value.problems] == [
        "filename",
        "max_bytes",
        "backup_count",
    ]
