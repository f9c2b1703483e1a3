"""A crash-looping watcher gives up visibly (issue 9 item 2): a real circusd running
``/bin/false`` says why through the API, circusctl and a ``gave_up`` event, while the wire status
stays the ``stopped`` the original clients know."""

import pytest
from circusctl_output import ORIGINAL_CIRCUSCTL, OURS, circusctl
from support import subscribed, wait_for

from circus.events import EventSubscriber

pytestmark = pytest.mark.timeout(60)
REASON = "2 failed starts in a row (max_retry = 2), last: exit code 1"


def test_bin_false_gives_up_with_the_reason_visible(circusd):
    d = circusd("""
        [watcher:bad]
        cmd = /bin/false
        max_retry = 2
        retry_in = 0.2
        autostart = false
    """)
    with EventSubscriber(d.pubsub, ["watcher.bad."], timeout=20) as events:
        wait_for(lambda: subscribed(d, events, "bad", 1), message="the subscription is live")
        d.ok("start", name="bad")
        told = []
        for topic, body in events:
            told.append((topic, body))
            if topic == "watcher.bad.stop":
                break
    topics = [topic for topic, _body in told]
    assert topics.count("watcher.bad.gave_up") == 1 and topics[-2:] == [
        "watcher.bad.gave_up",
        "watcher.bad.stop",
    ], topics
    [detail] = [body for topic, body in told if topic == "watcher.bad.gave_up"]
    assert detail["failures"] == 2 and detail["last_exit"] == 1 and detail["reason"] == REASON

    reply = d.ok("status", name="bad")
    assert reply["status"] == "stopped" and reply["gave_up"] == detail
    assert d.ok("status")["gave_up"] == {"bad": detail}
    assert d.ok("stats", name="bad")["gave_up"] == detail
    ours = OURS
    assert circusctl(ours, d.endpoint, "status", "bad") == f"stopped (gave up: {REASON})"
    assert circusctl(ours, d.endpoint, "status") == f"bad: stopped (gave up: {REASON})"
    if ORIGINAL_CIRCUSCTL.exists():  # the original client still reads a plain state
        assert circusctl([str(ORIGINAL_CIRCUSCTL)], d.endpoint, "status", "bad") == "stopped"
        assert circusctl([str(ORIGINAL_CIRCUSCTL)], d.endpoint, "status") == "bad: stopped"
    assert d.log().count(f"bad: giving up: {REASON}") == 1
