"""TimedRotatingFileStream: clock-aligned periods driven by message timestamps."""

from __future__ import annotations

import datetime
import os

import pytest
from stream_support import T0, msg

from circus.streams import StreamOptionError, TimedRotatingFileStream
from circus.streams.timed import Period

UTC = datetime.UTC


def at(text: str) -> float:
    """Epoch seconds of a UTC time written 'YYYY-mm-dd HH:MM:SS'."""
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


@pytest.fixture
def log(tmp_path):
    return tmp_path / "t.log"


@pytest.fixture
def streams():
    made = []
    yield made
    for stream in made:
        stream.close()


def make(streams, log, **kwargs):
    stream = TimedRotatingFileStream(str(log), **kwargs)
    streams.append(stream)
    return stream


def files(log):
    return {p.name: p.read_bytes() for p in sorted(log.parent.iterdir())}


def test_hourly_rotation_names_files_after_their_hour(log, streams):
    stream = make(streams, log, utc=True)  # rotate_when H, interval 1 by default
    stream(msg(b"a\n", ts=at("2023-11-14 22:10:00")))
    stream(msg(b"b\n", ts=at("2023-11-14 22:59:59")))
    stream(msg(b"c\n", ts=at("2023-11-14 23:00:00")))
    stream(msg(b"d\n", ts=at("2023-11-15 01:30:00")))
    assert files(log) == {
        "t.log": b"d\n",
        "t.log.2023111422": b"a\nb\n",
        "t.log.2023111423": b"c\n",
    }


@pytest.mark.parametrize(
    ("when", "interval", "first", "second", "suffix"),
    [
        ("S", 1, "2023-11-14 22:13:20", "2023-11-14 22:13:21", "20231114221320"),
        ("S", 10, "2023-11-14 22:13:29", "2023-11-14 22:13:30", "20231114221320"),
        ("M", 1, "2023-11-14 22:13:59", "2023-11-14 22:14:00", "202311142213"),
        ("M", 15, "2023-11-14 22:14:00", "2023-11-14 22:15:00", "202311142200"),
        ("H", 6, "2023-11-14 17:59:59", "2023-11-14 18:00:00", "2023111412"),
        ("D", 1, "2023-11-14 23:59:59", "2023-11-15 00:00:00", "20231114"),
        ("midnight", 1, "2023-11-14 23:59:59", "2023-11-15 00:00:00", "20231114"),
        ("W0", 1, "2023-11-19 23:59:59", "2023-11-20 00:00:00", "20231113"),  # Mondays
        ("w2", 1, "2023-11-14 23:59:59", "2023-11-15 00:00:00", "20231108"),  # Wednesdays
    ],
)
def test_rotation_boundaries(log, streams, when, interval, first, second, suffix):
    stream = make(streams, log, rotate_when=when, rotate_interval=interval, utc=True)
    stream(msg(b"first\n", ts=at(first)))
    assert files(log) == {"t.log": b"first\n"}  # not yet: same period
    stream(msg(b"second\n", ts=at(second)))
    assert files(log) == {"t.log": b"second\n", f"t.log.{suffix}": b"first\n"}


def test_weekly_period_covers_seven_days():
    period = Period("W0", 1, utc=True)
    start, end, suffix = period.bounds(at("2023-11-15 12:00:00"))  # a Wednesday
    assert (start, end, suffix) == (
        at("2023-11-13 00:00:00"),
        at("2023-11-20 00:00:00"),
        "20231113",
    )
    start, end, _ = Period("W6", 2, utc=True).bounds(at("2023-11-15 12:00:00"))
    assert end - start == 14 * 86400
    assert datetime.datetime.fromtimestamp(start, UTC).weekday() == 6


def test_local_time_periods_follow_the_local_clock(log, streams, paris_tz):
    # 22:30 UTC is 23:30 in Paris (CET, UTC+1): the local day ends at 23:00 UTC
    stream = make(streams, log, rotate_when="midnight", time_format="%H:%M")
    stream(msg(b"late\n", ts=at("2023-11-14 22:30:00")))
    stream(msg(b"next day\n", ts=at("2023-11-14 23:00:00")))
    assert files(log) == {
        "t.log": b"00:00 [42] | next day\n",
        "t.log.20231114": b"23:30 [42] | late\n",
    }


def test_local_hours_across_a_dst_change(paris_tz):
    # 2023-03-26 02:00 CET -> 03:00 CEST: the local hour 01:00-03:00 lasts one real hour
    period = Period("H", 1, utc=False)
    start, end, suffix = period.bounds(at("2023-03-26 00:30:00"))  # 01:30 CET
    assert (suffix, end - start) == ("2023032601", 3600)
    start, end, suffix = period.bounds(at("2023-03-26 01:00:00"))  # 03:00 CEST
    assert (suffix, start) == ("2023032603", at("2023-03-26 01:00:00"))


def test_utc_applies_to_the_time_prefix(log, streams, paris_tz):
    stream = make(streams, log, utc=True, time_format="%H:%M")
    stream(msg(b"x\n", ts=at("2023-11-14 22:30:00")))
    assert log.read_bytes() == b"22:30 [42] | x\n"


def test_backup_count_keeps_the_newest_backups(log, streams):
    stream = make(streams, log, rotate_when="S", backup_count=2, utc=True)
    for second in range(5):
        stream(msg(b"%d\n" % second, ts=T0 + second))
    assert files(log) == {
        "t.log": b"4\n",
        "t.log.20231114221322": b"2\n",
        "t.log.20231114221323": b"3\n",
    }


def test_backup_count_zero_keeps_everything(log, streams):
    stream = make(streams, log, rotate_when="S", utc=True)
    for second in range(4):
        stream(msg(b"%d\n" % second, ts=T0 + second))
    assert len(files(log)) == 4


def test_pruning_ignores_unrelated_files(log, streams):
    (log.parent / "t.log.keep").write_bytes(b"mine")
    (log.parent / "t.log.1").write_bytes(b"size-rotated")
    stream = make(streams, log, rotate_when="S", backup_count=1, utc=True)
    for second in range(3):
        stream(msg(b"%d\n" % second, ts=T0 + second))
    assert files(log) == {
        "t.log": b"2\n",
        "t.log.1": b"size-rotated",
        "t.log.20231114221321": b"1\n",
        "t.log.keep": b"mine",
    }


def test_replayed_older_output_goes_to_the_current_file(log, streams):
    stream = make(streams, log, rotate_when="H", utc=True)
    stream(msg(b"new\n", ts=at("2023-11-14 23:10:00")))
    stream(msg(b"replayed\n", ts=at("2023-11-14 22:10:00")))
    assert files(log) == {"t.log": b"new\nreplayed\n"}


def test_replayed_output_after_a_restart_rotates_by_its_timestamps(log, streams):
    log.write_bytes(b"before the restart\n")
    written = at("2023-11-14 22:50:00")
    os.utime(log, (written, written))
    stream = make(streams, log, rotate_when="H", utc=True)
    stream(msg(b"buffered while down\n", ts=at("2023-11-14 23:05:00")))
    assert files(log) == {
        "t.log": b"buffered while down\n",
        "t.log.2023111422": b"before the restart\n",
    }


def test_an_existing_target_is_not_overwritten(log, streams):
    (log.parent / "t.log.2023111422").write_bytes(b"earlier run\n")
    stream = make(streams, log, rotate_when="H", utc=True)
    stream(msg(b"a\n", ts=at("2023-11-14 22:10:00")))
    stream(msg(b"b\n", ts=at("2023-11-14 23:10:00")))
    assert files(log) == {
        "t.log": b"b\n",
        "t.log.2023111422": b"earlier run\n",
        "t.log.2023111422.1": b"a\n",
    }


def test_reopen_keeps_the_period_of_the_same_file(log, streams):
    stream = make(streams, log, rotate_when="H", utc=True)
    stream(msg(b"a\n", ts=at("2023-11-14 22:10:00")))
    stream.reopen()
    stream(msg(b"b\n", ts=at("2023-11-14 23:10:00")))
    assert files(log) == {"t.log": b"b\n", "t.log.2023111422": b"a\n"}


def test_partial_line_continues_with_a_prefix_in_the_new_file(log, streams):
    stream = make(streams, log, rotate_when="H", utc=True, time_format="%H:%M")
    stream(msg(b"start", ts=at("2023-11-14 22:59:59")))
    stream(msg(b" end\n", ts=at("2023-11-14 23:00:01")))
    assert files(log) == {
        "t.log": b"23:00 [42] |  end\n",
        "t.log.2023111422": b"22:59 [42] | start",
    }


def test_string_options_from_ini(log, streams):
    stream = make(
        streams, log, backup_count="3", rotate_when="midnight", rotate_interval="2", utc="True"
    )
    assert (stream.backup_count, stream.rotate_when, stream.rotate_interval, stream.utc) == (
        3,
        "MIDNIGHT",
        2,
        True,
    )


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"rotate_when": "W7"}, "rotate_when"),
        ({"rotate_when": "hourly"}, "rotate_when"),
        ({"rotate_interval": 0}, "rotate_interval"),
        ({"utc": "maybe"}, "utc"),
        ({"backup_count": -2}, "backup_count"),
    ],
)
def test_bad_values_name_the_option(log, kwargs, option):
    with pytest.raises(StreamOptionError) as info:
        TimedRotatingFileStream(str(log), **kwargs)
    assert info.value.option == option
