"""OutputTail: the bounded end of a watcher's output kept for ``tail``."""

from __future__ import annotations

from circus.output_tail import OutputTail


def test_chunks_are_numbered_and_returned_from_since():
    tail = OutputTail(limit=100)
    for i in range(3):
        tail.add(10 + i, "stdout", 1.0 + i, f"line {i}\n".encode())
    reply = tail.since()
    assert [c["seq"] for c in reply["chunks"]] == [0, 1, 2]
    assert reply["chunks"][1] == {
        "seq": 1,
        "pid": 11,
        "stream": "stdout",
        "time": 2.0,
        "data": "line 1\n",
    }
    assert reply["next"] == 3 and reply["missed"] is False
    assert tail.since(3) == {"chunks": [], "next": 3, "missed": False}
    assert [c["seq"] for c in tail.since(2)["chunks"]] == [2]


def test_oldest_chunks_dropped_beyond_the_limit_and_missed_reported():
    tail = OutputTail(limit=10)
    for i in range(5):
        tail.add(1, "stderr", float(i), b"abcd")  # 4 bytes each: 2 fit
    reply = tail.since(0)
    assert [c["seq"] for c in reply["chunks"]] == [3, 4]
    assert reply["missed"] is True
    assert tail.since(3)["missed"] is False


def test_a_huge_chunk_is_kept_cut_to_its_end():
    tail = OutputTail(limit=8)
    tail.add(1, "stdout", 0.0, b"0123456789ABCDEF")
    (chunk,) = tail.since()["chunks"]
    assert chunk["data"] == "89ABCDEF"


def test_reply_bounded_by_max_bytes_and_invalid_utf8_replaced():
    tail = OutputTail(limit=1000)
    for _ in range(10):
        tail.add(1, "stdout", 0.0, b"\xff" * 50)
    reply = tail.since(None, max_bytes=120)
    assert len(reply["chunks"]) == 2 and reply["next"] == 2
    assert reply["chunks"][0]["data"] == "\ufffd" * 50
    assert tail.since(reply["next"], max_bytes=120)["chunks"][0]["seq"] == 2
