"""circus.wire.deadlines: the thread that calls blocking clients' watches back when idle."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from circus.wire import deadlines

pytestmark = pytest.mark.timeout(30)


class Target:
    def __init__(self, again: list[float | None]) -> None:
        self.again = again  # what each call returns
        self.called: list[float] = []
        self.done = threading.Event()

    def at_deadline(self) -> float | None:
        self.called.append(time.monotonic())
        following = self.again.pop(0)
        if following is None:
            self.done.set()
        return following


def test_a_target_is_called_at_its_deadline_and_again_when_it_asks():
    start = time.monotonic()
    target = Target([start + 0.15, None])
    deadlines.call_at(target, start + 0.05)
    assert target.done.wait(10)
    first, second = target.called
    assert first >= start + 0.05 and second >= start + 0.15


def test_an_earlier_deadline_is_not_held_up_by_a_later_one():
    start = time.monotonic()
    late, early = Target([None]), Target([None])
    deadlines.call_at(late, start + 60)
    deadlines.call_at(early, start + 0.05)
    assert early.done.wait(10)
    assert not late.called


def test_a_target_gone_is_not_called_and_a_failing_one_does_not_stop_the_thread():
    class Failing:
        def at_deadline(self) -> float | None:
            raise RuntimeError("boom")

    calls: list[int] = []

    class Gone:
        def at_deadline(self) -> float | None:
            calls.append(1)
            return None

    now = time.monotonic()
    failing = Failing()
    deadlines.call_at(failing, now + 0.05)
    deadlines.call_at(Gone(), now + 0.05)  # collected at once: only a weak reference is kept
    gc.collect()
    after = Target([None])
    deadlines.call_at(after, now + 0.1)
    assert after.done.wait(10)
    assert not calls
