"""StreamGuard: a failing stream refuses chunks, logs once per state change, backs off."""

from __future__ import annotations

import logging

from circus.streams.guard import FIRST_RETRY, MAX_RETRY, StreamGuard


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    def __init__(self) -> None:
        self.broken = True
        self.written: list[bytes] = []
        self.calls = 0

    def __call__(self, message) -> None:
        self.calls += 1
        if self.broken:
            raise OSError(28, "No space left on device", "/var/log/x")
        self.written.append(message["data"])


def test_refuses_backs_off_and_logs_once_per_state_change(caplog):
    caplog.set_level(logging.DEBUG, logger="circus.streams.guard")
    clock, stream = Clock(), Flaky()
    guard = StreamGuard("watcher w: stdout stream", clock)
    assert guard.write(stream, {"data": b"a"}) is False
    assert guard.retry_in() == FIRST_RETRY
    for _ in range(1000):  # a flood while waiting: no write tried, nothing logged
        assert guard.write(stream, {"data": b"b"}) is False
    assert stream.calls == 1
    delays = []
    for _ in range(8):
        clock.now = guard.retry_at
        assert guard.write(stream, {"data": b"c"}) is False
        delays.append(guard.retry_in())
    assert delays[0] == 2 * FIRST_RETRY and delays[-1] == MAX_RETRY
    stream.broken = False
    clock.now = guard.retry_at
    assert guard.write(stream, {"data": b"d"}) is True
    assert guard.write(stream, {"data": b"e"}) is True and not guard.failing
    records = [r for r in caplog.records if r.name == "circus.streams.guard"]
    assert [r.levelname for r in records] == ["ERROR", "WARNING"]
    assert "No space left on device" in records[0].getMessage() and not records[0].exc_info
    assert "9 failed tries, 1009 chunk deliveries deferred" in records[1].getMessage()


def test_a_bug_in_a_stream_class_is_logged_with_its_traceback(caplog):
    def broken(message):
        raise KeyError("oops")

    guard = StreamGuard("watcher w: stderr stream", Clock())
    assert guard.write(broken, {"data": b"x"}) is False
    [record] = [r for r in caplog.records if r.name == "circus.streams.guard"]
    assert record.exc_info and "KeyError" in record.getMessage()
