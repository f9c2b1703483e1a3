"""Flapping detection through a real circusd (issue 10): a worker that exits at once is
stopped as flapping, retried after retry_in, then given up; the state is visible in status,
stats, circusctl and events (the wire status stays the ``stopped`` the original clients know);
``start`` clears it."""

import time

import pytest
from circusctl_output import ORIGINAL_CIRCUSCTL, OURS, circusctl
from support import subscribed, wait_for

from circus.events import EventSubscriber

pytestmark = pytest.mark.timeout(60)
GAVE_UP = "flapping 2 times in a row (flapping.max_retry = 1), last: exit code 1"


def test_a_crash_loop_flaps_is_retried_gives_up_and_start_clears_it(circusd, tmp_path):
    broken = tmp_path / "broken"
    broken.touch()  # while it exists the worker exits at once with 1, else it runs
    # retry_in = 2: the paused state is looked at (a few calls in this process, well under a
    # second) before the retry; the retry is checked to come retry_in after the detection
    d = circusd(f"""
        [watcher:flappy]
        cmd = /bin/sh -c 'test -e {broken} && exit 1; exec sleep 60'
        autostart = false

        [plugin:flapping]
        use = circus.plugins.flapping.Flapping
        retry_in = 2
        max_retry = 1
    """)
    ours = OURS
    with EventSubscriber(d.pubsub, ["watcher.flappy."], timeout=20) as events:
        wait_for(lambda: subscribed(d, events, "flappy", 1), message="the subscription is live")
        d.ok("start", name="flappy")
        told = []
        for topic, body in events:
            told.append((time.time(), topic.removeprefix("watcher.flappy."), body))
            if topic == "watcher.flappy.flapping":  # paused: look at it from outside
                wait_for(lambda: d.ok("status", name="flappy")["status"] == "stopped")
                assert d.ok("status", name="flappy")["flapping"] == body
                assert d.ok("stats", name="flappy")["flapping"] == body
                note = f"(flapping: {body['reason']})"
                assert circusctl(ours, d.endpoint, "status", "flappy") == f"stopped {note}"
            if topic == "watcher.flappy.gave_up":
                break
    topics = [topic for _at, topic, _body in told if topic not in ("spawn", "reap", "kill")]
    assert topics == ["start", "flapping", "stop", "start", "gave_up"], told
    [found] = [body for _at, topic, body in told if topic == "flapping"]
    assert found["retry"] == 1 and found["max_retry"] == 1 and found["exits"] == 2
    assert found["last_exit"] == 1 and found["retry_at"] == found["time"] + 2
    assert found["reason"].endswith("(flapping.window = 1 s), retry 1 of 1 in 2 s")
    [first_reap] = [body for _at, topic, body in told if topic == "reap"][:1]
    [retried] = [at for at, topic, _body in told if topic == "start"][1:]
    assert 0 < found["time"] - first_reap["time"] < 1  # the second exit within the window
    assert 2 <= retried - found["time"] < 4  # retry_in after the detection

    wait_for(lambda: d.ok("status", name="flappy")["status"] == "stopped")
    reply = d.ok("status", name="flappy")
    assert reply["gave_up"]["rule"] == "flapping" and reply["gave_up"]["reason"] == GAVE_UP
    assert "flapping" not in reply
    assert circusctl(ours, d.endpoint, "status") == f"flappy: stopped (gave up: {GAVE_UP})"
    if ORIGINAL_CIRCUSCTL.exists():  # the original client still reads a plain state
        assert circusctl([str(ORIGINAL_CIRCUSCTL)], d.endpoint, "status", "flappy") == "stopped"
    assert d.log().count(f"flappy: giving up: {GAVE_UP}") == 1
    assert d.log().count("flappy: flapping: 2 exits within") == 1

    broken.unlink()  # fixed: a start clears it and the worker stays up
    d.ok("start", name="flappy")
    reply = wait_for(lambda: (r := d.ok("status", name="flappy"))["status"] == "active" and r)
    assert "gave_up" not in reply and "flapping" not in reply
    [pid] = d.pids("flappy")
    time.sleep(1.2)  # longer than the window: it stays up, nothing stops it
    assert d.pids("flappy") == [pid] and d.ok("status", name="flappy")["status"] == "active"
