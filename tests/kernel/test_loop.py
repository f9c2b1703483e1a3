"""The kernel loop's bulk fds: served after the others, within a budget, in rotating order."""

from __future__ import annotations

import fcntl
import os
import selectors

import pytest

from papa_kernel.loop import BULK_BYTES_PER_ROUND, Loop

PIECE = BULK_BYTES_PER_ROUND // 4  # so a round has room for four reads of a pipe


@pytest.fixture
def loop():
    loop = Loop()
    pipes: list[tuple[int, int]] = []
    loop.pipes = pipes  # type: ignore[attr-defined]
    yield loop
    loop.close()
    for read_end, write_end in pipes:
        os.close(read_end)
        os.close(write_end)


def filled_pipe(loop: Loop, nbytes: int) -> int:
    """A pipe holding ``nbytes`` (its read end, non-blocking)."""
    read_end, write_end = os.pipe()
    loop.pipes.append((read_end, write_end))  # type: ignore[attr-defined]
    os.set_blocking(read_end, False)
    try:
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, max(nbytes, 4096))
    except OSError:
        pytest.skip("cannot size a pipe here")
    view = memoryview(b"x" * nbytes)
    while view:
        view = view[os.write(write_end, view) :]
    return read_end


def one_round(loop: Loop) -> None:
    loop.stopping = False
    loop.call_soon(loop.stop)  # runs in this round: the loop leaves after it
    loop.run()


def test_bulk_fds_come_after_the_others_and_share_a_budget(loop):
    served: list[str] = []

    def bulk_reader(name: str, fd: int):
        def handler(_mask: int) -> None:
            data = os.read(fd, PIECE)
            loop.bulk_budget -= len(data)
            served.append(name)

        return handler

    for number in range(8):
        fd = filled_pipe(loop, PIECE)
        loop.register(fd, selectors.EVENT_READ, bulk_reader(f"pipe{number}", fd), bulk=True)
    command = filled_pipe(loop, 1)

    def on_command(_mask: int) -> None:
        os.read(command, 1)
        served.append("command")
        loop.call_soon(lambda: served.append("reply sent"))

    loop.register(command, selectors.EVENT_READ, on_command)
    one_round(loop)
    # the command first, its deferred reply before any bulk read, then one budget of reads
    assert served[:2] == ["command", "reply sent"]
    assert len(served) == 2 + 4
    one_round(loop)  # the next round serves the others (rotation), none twice
    pipes = served[2:]
    assert len(pipes) == 8 and len(set(pipes)) == 8


def test_an_fd_registered_again_as_a_plain_fd_is_no_longer_bulk(loop):
    """fd numbers are reused: a pipe closed and a connection accepted on the same number."""
    fd = filled_pipe(loop, 16)
    calls: list[str] = []
    loop.register(fd, selectors.EVENT_READ, lambda _m: calls.append("bulk"), bulk=True)
    loop.unregister(fd)
    loop.register(fd, selectors.EVENT_READ, lambda _m: calls.append("plain"))
    one_round(loop)
    assert calls == ["plain"]


def test_masks_are_the_selectors_masks_for_what_an_fd_watches(loop):
    """The loop polls epoll itself (no selectors keys); handlers get selectors' masks: what
    is ready among what the fd watches, a hang-up or an error making it ready for both."""
    read_end, write_end = os.pipe()
    loop.pipes.append((read_end, write_end))  # type: ignore[attr-defined]
    masks: dict[str, list[int]] = {"r": [], "w": []}
    loop.register(read_end, selectors.EVENT_READ, masks["r"].append)
    loop.register(write_end, selectors.EVENT_READ | selectors.EVENT_WRITE, masks["w"].append)
    one_round(loop)
    assert masks == {"r": [], "w": [selectors.EVENT_WRITE]}  # an empty pipe: writable only
    os.write(write_end, b"x")
    loop.modify(write_end, selectors.EVENT_READ, masks["w"].append)  # no longer writable
    one_round(loop)
    assert masks == {"r": [selectors.EVENT_READ], "w": [selectors.EVENT_WRITE]}
    loop.unregister(write_end)
    os.close(write_end)  # hang-up: the reader is ready to read (EOF)
    loop.pipes[-1] = (read_end, os.open(os.devnull, os.O_WRONLY))  # type: ignore[attr-defined]
    os.read(read_end, 1)
    one_round(loop)
    assert masks["r"] == [selectors.EVENT_READ, selectors.EVENT_READ]
    assert loop.is_registered(read_end) and not loop.is_registered(write_end)


def test_registering_errors_change_nothing(loop):
    read_end = filled_pipe(loop, 16)
    loop.register(read_end, selectors.EVENT_READ, lambda _m: None)
    with pytest.raises(KeyError):
        loop.register(read_end, selectors.EVENT_READ, lambda _m: None)
    with pytest.raises(KeyError):
        loop.modify(read_end + 1000, selectors.EVENT_READ, lambda _m: None)
    with pytest.raises(ValueError):
        loop.modify(read_end, 0, lambda _m: None)
    with pytest.raises(ValueError):
        loop.register(read_end + 1000, 4, lambda _m: None)
    assert not loop.is_registered(read_end + 1000)
    closed_r, closed_w = os.pipe()
    os.close(closed_r)
    os.close(closed_w)
    with pytest.raises(OSError):
        loop.register(closed_r, selectors.EVENT_READ, lambda _m: None)
    assert not loop.is_registered(closed_r)
    loop.unregister(read_end)
    loop.unregister(read_end)  # twice, or never registered: nothing happens
    loop.unregister(closed_r)


def test_a_handler_unregistered_by_another_in_the_same_round_still_runs(loop):
    """As with selectors: the handlers of a round are those registered when the poll
    returned (a handler closing another fd of the same round does not skip it)."""
    first, second = filled_pipe(loop, 16), filled_pipe(loop, 16)
    calls: list[int] = []

    def handler(fd: int):
        def on_ready(_mask: int) -> None:
            calls.append(fd)
            loop.unregister(first if fd == second else second)

        return on_ready

    loop.register(first, selectors.EVENT_READ, handler(first))
    loop.register(second, selectors.EVENT_READ, handler(second))
    one_round(loop)
    assert sorted(calls) == [first, second]
