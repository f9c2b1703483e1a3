"""QueueStream and NullStream."""

from __future__ import annotations

import queue

from stream_support import msg

from circus.streams import NullStream, QueueStream, Stream


def test_queue_stream_is_a_queue_of_messages():
    stream = QueueStream()
    assert isinstance(stream, queue.Queue)
    stream(msg(b"one"))
    stream(msg(b"two", name="stderr"))
    assert stream.get_nowait() == msg(b"one")
    assert stream.get_nowait() == msg(b"two", name="stderr")
    assert stream.empty()


def test_queue_stream_keeps_a_copy_of_the_message():
    stream = QueueStream()
    message = msg(b"x")
    stream(message)
    message["data"] = b"changed"
    assert stream.get_nowait()["data"] == b"x"


def test_full_queue_drops_and_counts_instead_of_blocking():
    stream = QueueStream(maxsize="2")
    for i in range(5):
        stream(msg(b"%d" % i))
    assert stream.dropped == 3
    assert [stream.get_nowait()["data"] for _ in range(2)] == [b"0", b"1"]


def test_queue_stream_close_and_reopen_keep_messages():
    stream = QueueStream()
    stream(msg(b"x"))
    stream.close()
    stream.close()
    stream.reopen()
    assert stream.get_nowait()["data"] == b"x"


def test_null_stream_discards():
    stream = NullStream()
    assert stream(msg(b"x" * 1000)) is None
    stream.close()
    stream.close()
    stream.reopen()


def test_every_builtin_honours_the_protocol(tmp_path):
    from circus.streams import (
        FancyStdoutStream,
        FileStream,
        StdoutStream,
        TimedRotatingFileStream,
        WatchedFileStream,
    )

    made = [
        FileStream(str(tmp_path / "a")),
        WatchedFileStream(str(tmp_path / "b")),
        TimedRotatingFileStream(str(tmp_path / "c")),
        StdoutStream(),
        FancyStdoutStream(),
        QueueStream(),
        NullStream(),
    ]
    for stream in made:
        assert isinstance(stream, Stream)
        stream.close()
