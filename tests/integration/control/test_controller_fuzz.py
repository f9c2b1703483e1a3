"""Random input to the control socket: every request gets a reply, the controller survives."""

from __future__ import annotations

import json

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.timeout(120)

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Commands that only read state: random properties cannot change what other examples see.
READ_ONLY = [
    "status",
    "list",
    "stats",
    "get",
    "options",
    "numprocesses",
    "numwatchers",
    "globaloptions",
    "listsockets",
    "dstats",
    "listen",
    "Status",
    "LIST",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
requests = st.fixed_dictionaries(
    {"command": st.sampled_from(READ_ONLY) | st.text(max_size=12) | json_values},
    optional={
        "id": json_values,
        "properties": json_values
        | st.dictionaries(
            st.sampled_from(["name", "keys", "process", "option", "extended", "waiting"]),
            json_values,
        ),
    },
)


@pytest.fixture
def dealer(ipc_server):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(ipc_server.endpoint)
    yield sock
    sock.close(0)
    ctx.term()


def exchange(sock, body: bytes) -> dict:
    sock.send(body)
    assert sock.poll(5000), f"no reply to {body[:200]!r}"
    reply = json.loads(sock.recv())
    assert reply["status"] in ("ok", "error", "active", "stopped", "starting", "stopping")
    if reply["status"] == "error":
        assert isinstance(reply["reason"], str) and reply["reason"]
        assert reply["errno"] in range(7)
    return reply


def still_alive(sock) -> None:
    assert exchange(sock, b'{"id": "probe", "command": "numwatchers"}')["numwatchers"] == 2


@FUZZ
@given(body=st.binary(max_size=300))
def test_random_bytes(dealer, body):
    exchange(dealer, body)
    still_alive(dealer)


@FUZZ
@given(request=requests)
def test_random_json_requests(dealer, request):
    reply = exchange(dealer, json.dumps(request).encode())
    assert reply["id"] == request.get("id")  # echoed whatever went wrong
    still_alive(dealer)


@FUZZ
@given(frames=st.lists(st.binary(max_size=60), min_size=2, max_size=5))
def test_random_multi_frame_messages(dealer, frames):
    dealer.send_multipart(frames)
    assert dealer.poll(5000), f"no reply to {frames!r}"
    *envelope, body = dealer.recv_multipart()
    assert envelope == ([b""] if len(frames) == 2 and frames[0] == b"" else [])  # REQ-shaped
    reply = json.loads(body)
    assert reply["status"] == "error" and reply["errno"] == 3 and "frames" in reply["reason"]
    still_alive(dealer)


brackets = st.text(alphabet="[]{}", min_size=1, max_size=50).map(lambda s: s * 200)


@FUZZ
@given(
    nesting=brackets | st.integers(min_value=1, max_value=5000).map(lambda n: "[" * n + "]" * n),
    request_id=st.text(alphabet="abcdef0123456789", min_size=1, max_size=32),
)
def test_random_nesting_gets_a_reply_with_the_id(dealer, nesting, request_id):
    body = f'{{"command": "list", "properties": {{"x": {nesting}}}, "id": "{request_id}"}}'
    reply = exchange(dealer, body.encode())
    assert reply["id"] == request_id
    still_alive(dealer)
