"""Bounded JSON decoding: the depth check agrees with the real depth and never recurses."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circus.client import _decode_reply
from circus.events import decode_event
from circus.wire import boundedjson

pytestmark = pytest.mark.timeout(60)


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    return 0


tricky_text = st.text(alphabet='[]{}"\\ab', max_size=8)  # brackets, quotes, escapes in strings
documents = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=60,
)


@settings(max_examples=500, deadline=None)
@given(doc=documents, limit=st.integers(min_value=1, max_value=6), ascii_only=st.booleans())
def test_accepts_exactly_the_documents_within_the_limit(doc, limit, ascii_only):
    text = json.dumps(doc, ensure_ascii=ascii_only)
    if depth(doc) <= limit:
        assert boundedjson.loads(text, limit) == doc
    else:
        with pytest.raises(boundedjson.NestingError, match=f"deeper than {limit} levels"):
            boundedjson.loads(text, limit)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,  # unclosed
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000,
        "[1," * 100_000,
        '["x", ' + "[" * 40 + "]" * 40 + "]",
    ],
)
def test_deep_documents_are_a_value_error_not_a_recursion_error(text):
    with pytest.raises(ValueError, match="nesting deeper than 32"):
        boundedjson.loads(text)


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"a": "[" * 1000, "b": "]" * 1000 + '\\"{', "c": [[["x"]]]})
    assert boundedjson.loads(text)["c"] == [[["x"]]]


def test_invalid_shallow_json_is_left_to_the_parser():
    with pytest.raises(ValueError) as info:
        boundedjson.loads("[[1, 2")
    assert not isinstance(info.value, boundedjson.NestingError)


def test_events_and_replies_too_deep_do_not_crash_the_reader():
    deep = b"[" * 100_000 + b"]" * 100_000
    topic, payload = decode_event([b"watcher.web.spawn", deep])
    assert topic == "watcher.web.spawn" and payload == deep.decode()
    assert _decode_reply(deep) is None
    nested_ok = json.dumps({"a": [[[[[[1]]]]]]}).encode()
    assert decode_event([b"t", nested_ok])[1] == {"a": [[[[[[1]]]]]]}
    assert _decode_reply(nested_ok) == {"a": [[[[[[1]]]]]]}
