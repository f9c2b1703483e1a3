"""The control message codec: request decoding, reply shapes, error mapping."""

from __future__ import annotations

import json

import pytest

from circus.control.codec import (
    decode_request,
    encode,
    error_from_exception,
    error_reply,
    ok_reply,
)
from circus.errors import (
    AlreadyExistError,
    ArgumentError,
    BadResultError,
    Errno,
    InvalidJSONError,
    MessageError,
    UnknownCommandError,
)


def test_decode_full_request():
    req = decode_request(
        b' {"id": "a1", "command": "Status", "properties": {"name": "w"}, "msg_type": "cast"} \n'
    )
    assert (req.id, req.command, req.properties, req.cast) == ("a1", "Status", {"name": "w"}, True)


def test_decode_defaults_properties_and_not_cast():
    req = decode_request('{"command": "list"}')
    assert req.properties == {} and req.cast is False and req.id is None
    assert decode_request('{"command": "list", "properties": null}').properties == {}


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"", "empty message"),
        (b"   \n", "empty message"),
        (b"{not json", "json invalid"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "must be a JSON object, got an array"),
        (b'"status"', "got a string"),
        (b"42", "got a number"),
    ],
)
def test_decode_invalid_json(body, fragment):
    with pytest.raises(InvalidJSONError) as info:
        decode_request(body)
    assert fragment in str(info.value)
    assert info.value.errno == Errno.INVALID_JSON


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"id": 7}, "'command' is missing"),
        ({"id": 7, "command": 3}, "'command' must be a string"),
        ({"id": 7, "command": "list", "properties": [1]}, "'properties' must be an object"),
    ],
)
def test_decode_bad_shape_keeps_id(body, fragment):
    with pytest.raises(MessageError) as info:
        decode_request(json.dumps(body))
    assert fragment in str(info.value)
    assert info.value.request_id == 7
    assert info.value.errno == Errno.MESSAGE_ERROR


def test_ok_reply_shape_and_key_order():
    reply = ok_reply({"numwatchers": 2}, "x")
    assert list(reply) == ["status", "time", "numwatchers", "id"]
    assert reply["status"] == "ok" and isinstance(reply["time"], float) and reply["id"] == "x"


def test_ok_reply_status_field_overwrites_ok():
    assert ok_reply({"status": "active"}, 1)["status"] == "active"


def test_ok_reply_list_is_wrapped_and_none_is_bare():
    assert ok_reply([1, 2], 1)["results"] == [1, 2]
    assert set(ok_reply(None, 1)) == {"status", "time", "id"}


def test_ok_reply_rejects_other_results():
    with pytest.raises(BadResultError) as info:
        ok_reply(42, 1)
    assert info.value.errno == Errno.BAD_MSG_DATA_ERROR


def test_error_reply_shape_and_key_order():
    reply = error_reply("boom", Errno.MESSAGE_ERROR, None, "i")
    assert list(reply) == ["status", "reason", "tb", "time", "errno", "id"]
    assert reply["errno"] == 3 and reply["reason"] == "boom"


@pytest.mark.parametrize(
    "exc, errno",
    [
        (MessageError("program x not found"), 3),
        (UnknownCommandError("unknown command: 'x'"), 2),
        (InvalidJSONError("json invalid"), 1),
        (ArgumentError("cannot specify childpid without pid"), 5),
        (AlreadyExistError("'w' already exist"), 5),
        (FileNotFoundError(2, "No such file or directory", "/nope"), 4),
    ],
)
def test_error_mapping_of_known_errors(exc, errno):
    reply = error_from_exception(exc, "id1")
    assert reply["errno"] == errno and reply["tb"] is None and reply["id"] == "id1"
    assert reply["reason"] == str(exc)


def test_unexpected_exception_names_command_and_carries_traceback():
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError as exc:
        reply = error_from_exception(exc, 1, "stats")
    assert reply["errno"] == Errno.COMMAND_ERROR
    assert reply["reason"] == "command 'stats' failed: ZeroDivisionError: division by zero"
    assert "Traceback" in reply["tb"]


def test_encode_handles_sets_and_tuples():
    data = json.loads(encode({"a": (1, 2), "b": {3}}))
    assert data == {"a": [1, 2], "b": [3]}
