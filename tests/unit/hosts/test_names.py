"""Kernel-safe process and socket names: encoding, parsing, prefixes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from circus.hosts import names


def test_plain_names_are_readable():
    assert names.process_name("web", 3) == "circus.web.3"
    assert names.socket_name("web") == "circus.web"
    assert names.watcher_prefix("web") == "circus.web."


def test_protocol_characters_are_percent_encoded():
    name = names.process_name("my web:1*%=\\é\n", 12)
    assert name == "circus.my%20web%3A1%2A%25%3D%5C%C3%A9%0A.12"
    assert names.is_wire_safe(name)
    assert names.parse_process_name(name) == ("my web:1*%=\\é\n", 12)


def test_dots_in_watcher_names_do_not_leak_into_other_prefixes():
    dotted = names.process_name("web.x", 1)
    assert not dotted.startswith(names.watcher_prefix("web"))
    assert names.parse_process_name(dotted) == ("web.x", 1)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "circus",
        "circus.web",
        "circus.web.x",
        "other.web.1",
        "circus.web.1.2",
        "circus..1",
        "circus.%zz.1",
        "circus.web.-1",
    ],
)
def test_foreign_or_malformed_names_parse_to_none(name):
    assert names.parse_process_name(name) is None


def test_socket_names_round_trip_and_reject_foreign():
    assert names.parse_socket_name(names.socket_name("a b.c")) == "a b.c"
    assert names.parse_socket_name("circus.a.b") is None
    assert names.parse_socket_name("papa.web") is None


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError, match="empty"):
        names.process_name("", 1)
    with pytest.raises(ValueError, match="wid"):
        names.process_name("web", -1)
    with pytest.raises(ValueError, match="empty"):
        names.socket_name("")


@given(st.text(min_size=1), st.integers(min_value=0, max_value=10**6))
def test_any_watcher_name_round_trips_and_is_wire_safe(watcher, wid):
    name = names.process_name(watcher, wid)
    assert names.is_wire_safe(name)
    assert names.parse_process_name(name) == (watcher, wid)
    assert name.startswith(names.watcher_prefix(watcher))
