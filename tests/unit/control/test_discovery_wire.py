"""The discovery datagrams (circus.wire.discovery) and circusctl's --discover output formats,
without a network: the original's exact answer, what a client accepts, and what it ignores."""

from __future__ import annotations

import json

import pytest

from circus.cli import circusctl, discover
from circus.wire.discovery import (
    DEFAULT_MULTICAST,
    MAX_DATAGRAM,
    Announcement,
    decode_answer,
    encode_answer,
    is_probe,
)

KEY = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"  # a Z85 public key (40 characters)


def test_defaults_are_the_originals():
    assert DEFAULT_MULTICAST == "udp://237.219.251.97:12027"
    assert is_probe(b'""') and is_probe(b' ""\n')
    assert not any(is_probe(d) for d in (b"", b'"x"', b"{}", b'""""', b"null"))


def test_answer_is_the_originals_plus_curve():
    data = encode_answer("tcp://127.0.0.1:5555", False)
    assert data == b'{"endpoint": "tcp://127.0.0.1:5555", "curve": false}'
    assert json.loads(encode_answer("tcp://0.0.0.0:5555", True, KEY)) == {
        "endpoint": "tcp://0.0.0.0:5555",
        "curve": True,
        "curve_public_key": KEY,
    }
    with pytest.raises(ValueError, match="over 1024 bytes"):
        encode_answer("ipc:///" + "x" * MAX_DATAGRAM, False)


def test_an_original_answer_and_wildcard_hosts():
    """0.19 sends {"endpoint": ...} only (zmq's jsonapi: bytes, ", " and ": " separators)."""
    assert decode_answer(b'{"endpoint": "tcp://127.0.0.1:5555"}', "127.0.0.1") == Announcement(
        "tcp://127.0.0.1:5555", "127.0.0.1", None
    )
    for wildcard in ("0.0.0.0", "*"):
        answer = decode_answer(encode_answer(f"tcp://{wildcard}:5555", True, KEY), "10.0.0.7")
        assert answer == Announcement("tcp://10.0.0.7:5555", "10.0.0.7", True, KEY)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[" * 5000,
        b'""',
        b"[]",
        b'{"endpoint": 5}',
        b'{"endpoint": "http://x"}',
        b'{"endpoint": "tcp://a:1", "curve": "yes"}',
        b'{"endpoint": "tcp://a:1"}' + b" " * MAX_DATAGRAM,
    ],
)
def test_anything_else_is_not_an_answer(data):
    assert decode_answer(data, "127.0.0.1") is None


def test_a_bad_announced_key_is_dropped_not_trusted():
    answer = decode_answer(b'{"endpoint": "tcp://a:1", "curve": true, "curve_public_key": 7}', "a")
    assert answer is not None and answer.curve_public_key is None


FOUND = [
    Announcement("ipc:///run/circus/circus.sock", "127.0.0.1", False),
    Announcement("tcp://10.0.0.11:5555", "10.0.0.11", True, KEY),
    Announcement("tcp://127.0.0.1:5555", "127.0.0.1", None),
]


def test_list_format():
    lines = discover.as_list(FOUND).splitlines()
    assert lines[0].split() == ["ipc:///run/circus/circus.sock", "no", "CURVE", "(loopback),",
                                "from", "127.0.0.1"]  # fmt: skip
    assert "CURVE, from 10.0.0.11, server key " + KEY in lines[1]
    assert "original circusd (CURVE not announced)" in lines[2]


def test_hosts_format_loads_as_a_hosts_file(tmp_path):
    from circus.cli.hosts_file import load_hosts

    path = tmp_path / "fleet.ini"
    path.write_text(discover.as_hosts(FOUND))
    hosts = load_hosts(str(path))
    assert [h.endpoint for h in hosts] == [a.endpoint for a in FOUND]
    assert [h.name for h in hosts] == ["run_circus_circus.sock", "10.0.0.11:5555", "127.0.0.1:5555"]
    assert f"; announced server key: {KEY}" in path.read_text()  # CURVE keys: left to fill


def test_endpoints_format():
    assert discover.as_endpoints(FOUND[1:]) == (
        "--endpoint tcp://10.0.0.11:5555 --endpoint tcp://127.0.0.1:5555"
    )


def test_discover_with_a_command_is_a_usage_error(capsys):
    assert circusctl.main(["--discover", "status"]) == circusctl.EXIT_USAGE
    assert "--discover only lists circusds" in capsys.readouterr().err


def test_unknown_interface_is_a_usage_error(capsys):
    code = circusctl.main(["--discover", "--discover-interface", "nosuch0", "--timeout", "0.1"])
    assert code == circusctl.EXIT_USAGE
    assert "no network interface named 'nosuch0'" in capsys.readouterr().err


def test_an_announcement_is_immutable_and_equal_whatever_its_seconds():
    answer = Announcement("tcp://10.0.0.7:5555", "10.0.0.7", True, KEY)
    later = answer.at(0.25)
    assert later.seconds == 0.25 and answer.seconds == 0.0
    assert later == answer and hash(later) == hash(answer) and len({answer, later}) == 1
    assert later != Announcement("tcp://10.0.0.7:5555", "10.0.0.7", False, KEY)
    assert not answer.original and Announcement("ipc:///a", "127.0.0.1", None).original
    with pytest.raises(AttributeError, match="immutable"):
        answer.curve = False
    assert repr(later) == (
        "Announcement(endpoint='tcp://10.0.0.7:5555', sender='10.0.0.7', curve=True, "
        f"curve_public_key={KEY!r}, seconds=0.25)"
    )


def test_help_lists_the_discovery_options(capsys):
    assert circusctl.main(["--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--discover ", "--discover-interface", "--discover-format", "--multicast"):
        assert option in out


def test_no_interface_to_probe_on_is_an_error():
    from circus.wire.discovery import discover_sync

    with pytest.raises(OSError, match="no network interface to probe on"):
        discover_sync(wait=0.1, interfaces=[])
