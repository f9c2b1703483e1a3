"""The control channel's JSON messages: decoding requests, building and encoding replies.

Wire format (identical to Circus 0.19, see docs/commands.md):

* request: ``{"id": <any>, "command": "<name>", "properties": {...}, "msg_type": "cast"?}``;
* ok reply: ``{"status": "ok", "time": <epoch>, ...command fields..., "id": <echoed>}``. A list
  result is sent as ``{"results": [...]}``; a command field named ``status`` overwrites ``"ok"``
  (the ``status`` command relies on it, as in the original);
* error reply: ``{"status": "error", "reason": str, "tb": str|null, "time": <epoch>,
  "errno": int, "id": <echoed>}``.

This module is the one place where exceptions become ``errno`` + ``reason``
(:func:`error_from_exception`). Unlike the original, every malformed request gets an error
reply (the original silently dropped an empty body, a body without ``command`` and a body that
is not a JSON object), except a cast, which asked for no reply. Requests are bounded: at most
:data:`MAX_REQUEST_BYTES` bytes and :data:`boundedjson.MAX_DEPTH` levels of nesting.
"""

from __future__ import annotations

import json
import re
import time
import traceback
from collections.abc import Mapping
from typing import Any

from circus.errors import (
    BadResultError,
    CircusError,
    Errno,
    InvalidJSONError,
    MessageError,
)
from circus.wire import boundedjson
from papa_kernel.records import field, record

CAST = "cast"  # msg_type of a fire-and-forget request: no reply at all
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # a bigger request is refused with an error reply


@record
class Request:
    """A decoded control request."""

    command: str
    properties: dict[str, Any] = field(default_factory=dict)
    id: Any = None
    cast: bool = False


def decode_request(body: bytes | str) -> Request:
    """Parse a request body. Raises :class:`InvalidJSONError` or :class:`MessageError`.

    The ``id`` of a request that could be parsed far enough is kept on the exception as
    ``exc.request_id`` so the error reply can echo it (and ``exc.cast``: casts get no reply).
    When the body cannot be parsed (too big, too deep, not JSON), :func:`salvage_id` recovers
    the id if it is the first or the last key of the top-level object, else it is ``None``.
    """
    if len(body) > MAX_REQUEST_BYTES:
        raise tagged(
            MessageError(
                f"message invalid: request of {len(body)} bytes exceeds the limit of "
                f"{MAX_REQUEST_BYTES} bytes ({MAX_REQUEST_BYTES // 1024**2} MiB)"
            ),
            salvage_id(body),
        )
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidJSONError(f"json invalid: body is not UTF-8 ({exc.reason})") from None
    body = body.strip()
    if not body:
        raise InvalidJSONError("json invalid: empty message")
    try:
        data = boundedjson.loads(body)
    except ValueError as exc:
        raise tagged(InvalidJSONError(f"json invalid: {exc}"), salvage_id(body)) from None
    if not isinstance(data, dict):
        raise InvalidJSONError(
            f"json invalid: a request must be a JSON object, got {_json_type(data)}"
        )
    mid = data.get("id")
    cast = data.get("msg_type") == CAST
    command = data.get("command")
    if command is None:
        raise tagged(MessageError("message invalid 'command' is missing"), mid, cast)
    if not isinstance(command, str):
        raise tagged(
            MessageError(f"message invalid 'command' must be a string, got {command!r}"), mid, cast
        )
    properties = data.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise tagged(
            MessageError(
                f"message invalid 'properties' must be an object, got {_json_type(properties)}"
            ),
            mid,
            cast,
        )
    return Request(command=command, properties=properties, id=mid, cast=cast)


def tagged(exc: MessageError, mid: Any, cast: bool = False) -> MessageError:
    """``exc`` carrying the request's id and cast flag (``exc.request_id``, ``exc.cast``) for
    the error reply (see :func:`decode_request`)."""
    exc.request_id = mid
    exc.cast = cast
    return exc


# The id as the first or last key of the top-level object: ``{"id": V, ...`` or ``..., "id": V}``
# (the original client and ours put it last). V is a short string, a number, null or a boolean.
# Compiled on first use (re's cache): only a body that cannot be parsed needs them, and
# compiling them at import cost ~0.5 ms at every circusd start.
_ID_VALUE = rb'"(?:[^"\\]|\\.){0,200}"|-?\d{1,30}(?:\.\d{1,30})?|null|true|false'
_ID_FIRST = rb'\A\s*\{\s*"id"\s*:\s*(' + _ID_VALUE + rb")\s*[,}]"
_ID_LAST = rb'[{,]\s*"id"\s*:\s*(' + _ID_VALUE + rb")\s*\}\s*\Z"
_ID_WINDOW = 512  # bytes looked at, at each end of the body


def salvage_id(body: bytes | str) -> Any:
    """The request id of a body that cannot be parsed, if it can be found cheaply, else None.

    Only the first and last few hundred bytes are looked at, so this costs nothing on a huge
    body; an error reply then still reaches a client that matches replies by id.
    """
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    match = re.match(_ID_FIRST, data[:_ID_WINDOW]) or re.search(_ID_LAST, data[-_ID_WINDOW:])
    if match is None:
        return None
    try:
        return json.loads(match.group(1))
    except ValueError:
        return None


def _json_type(value: Any) -> str:
    names = {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        dict: "an object",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)


def ok_reply(result: Mapping[str, Any] | list | None = None, mid: Any = None) -> dict[str, Any]:
    """Build an ok reply from a command result (``None``, a mapping or a list)."""
    reply: dict[str, Any] = {"status": "ok", "time": time.time()}
    if isinstance(result, list):
        reply["results"] = result
    elif isinstance(result, Mapping):
        reply.update(result)  # a "status" field overwrites "ok", as in the original
    elif result is not None:
        raise BadResultError(
            f"server error: command returned {type(result).__name__}, not an object"
        )
    reply["id"] = mid
    return reply


def error_reply(
    reason: str, errno: int = Errno.NOT_SPECIFIED, tb: str | None = None, mid: Any = None
) -> dict[str, Any]:
    """Build an error reply."""
    return {
        "status": "error",
        "reason": reason,
        "tb": tb,
        "time": time.time(),
        "errno": int(errno),
        "id": mid,
    }


def error_from_exception(
    exc: BaseException, mid: Any = None, command: str | None = None
) -> dict[str, Any]:
    """The one mapping of exceptions to wire errors.

    * :class:`CircusError` subclasses carry their own ``errno`` (MessageError 3, unknown command
      2, invalid JSON 1, conflicts and argument errors 5, bad results 6); the reason is the
      exception text, without traceback (it is a user error, not a crash).
    * :class:`OSError` -> errno 4 with ``strerror`` and the file name when there is one.
    * anything else is a bug: errno 5, the reason names the command and the exception type,
      ``tb`` carries the traceback (the original put the raw request bytes in the reason).
    """
    if isinstance(exc, CircusError):
        return error_reply(str(exc), exc.errno, None, mid)
    if isinstance(exc, OSError):
        return error_reply(str(exc), Errno.OS_ERROR, None, mid)
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    where = f"command {command!r}" if command else "command"
    return error_reply(f"{where} failed: {type(exc).__name__}: {exc}", Errno.COMMAND_ERROR, tb, mid)


def encode(reply: Mapping[str, Any]) -> bytes:
    """Serialise a reply (or request) as UTF-8 JSON."""
    return json.dumps(reply, default=_json_default).encode("utf-8")


def _json_default(value: Any) -> Any:
    """Values a command may return that JSON does not know (sets, tuples, paths, enums)."""
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "__fspath__"):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)
