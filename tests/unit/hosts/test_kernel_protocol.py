"""The kernel client's encoder and parsers, fed with the papa notes' transcript bytes over real
socketpairs (no kernel needed)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from hostkit import run
from hypothesis import given, settings
from hypothesis import strategies as st

from circus.errors import KernelError, SpawnError
from circus.hosts import kernel_protocol as kp
from circus.hosts.base import (
    DroppedOutput,
    ExitRecord,
    OutputChunk,
    OutputMode,
    SocketSpec,
    SpawnSpec,
)
from circus.hosts.kernel_client import CommandChannel, KernelConnectionLost
from circus.hosts.kernel_protocol import Endpoint
from papa_kernel import protocol as kernel_protocol
from papa_kernel.procspec import place_arguments


class Peer:
    """The far end of a socketpair whose near end is an asyncio StreamReader."""

    def __init__(self, sock: socket.socket, writer: asyncio.StreamWriter):
        self.sock = sock
        self.writer = writer  # kept: a StreamWriter closes its transport when collected

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def shutdown(self, how: int) -> None:
        self.sock.shutdown(how)

    def close(self) -> None:
        self.sock.close()
        self.writer.close()


async def reader_for(data_chunks: list[bytes]) -> tuple[asyncio.StreamReader, Peer]:
    """A StreamReader on one end of a socketpair; the chunks are written to the other end."""
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_unix_connection(sock=ours)
    for chunk in data_chunks:
        theirs.sendall(chunk)
    return reader, Peer(theirs, writer)


# --- endpoints -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ipc:///run/circus/papa.sock", Endpoint(path="/run/circus/papa.sock")),
        ("/tmp/k.sock", Endpoint(path="/tmp/k.sock")),
        ("tcp://127.0.0.1:20202", Endpoint(host="127.0.0.1", port=20202)),
        ("tcp://[::1]:7", Endpoint(host="::1", port=7)),
    ],
)
def test_endpoints(text, expected):
    assert kp.parse_endpoint(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "relative.sock",
        "ipc://relative",
        "tcp://host",
        "tcp://h:0",
        "tcp://h:99999",
        "http://x:1",
        "",
    ],
)
def test_bad_endpoints_are_named(text):
    with pytest.raises(KernelError, match="bad kernel endpoint"):
        kp.parse_endpoint(text)


# --- encoding ------------------------------------------------------------------------------------


def test_spawn_line_carries_every_option_in_protocol_form():
    spec = SpawnSpec(
        name="circus.web.1",
        argv=("python", "-c", "print('a  b')", "x"),
        executable="/usr/bin/py",
        env={"A": "x y", "EMPTY": "", "Q": '"q"', "BS": "trail\\"},
        working_dir="/srv/my app",
        uid=1000,
        gid=100,
        umask=0o22,
        rlimits={"nofile": 4096, "CORE": None},
        bufsize=65536,
        stdout=OutputMode.CAPTURE,
        stderr=OutputMode.STDOUT,
        sockets=("circus.web", "circus.x"),
        stdin_socket="circus.fcgi",
    )
    assert kp.encode_spawn(spec) == (
        "make process circus.web.1 working_dir=/srv/my\\ app uid=1000 gid=100 umask=022 "
        "bufsize=65536 stderr=stdout executable=/usr/bin/py sockets=circus.web,circus.x "
        'stdin_socket=circus.fcgi env.A=x\\ y env.EMPTY= env.Q=""q"" env.BS="trail\\" '
        "rlimit.nofile=4096 rlimit.core=unlimited "
        "python -c print('a\\ \\ b') x"
    )


def test_devnull_streams():
    spec = SpawnSpec("n", ("true",), stdout=OutputMode.DEVNULL, stderr=OutputMode.DEVNULL)
    assert kp.encode_spawn(spec) == "make process n stdout=0 stderr=0 true"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (SpawnSpec("n", ("sh", "a\nb")), "argument 1 of n contains a newline"),
        (SpawnSpec("n", ("sh", "a\rb")), "carriage return"),
        (SpawnSpec("n", ("sh", "")), "argument 1 of n is empty"),
        (SpawnSpec("n", ("sh", "c:\\", "x")), "ends with a backslash"),
        (SpawnSpec("n", ("sh", "x ")), "ends with whitespace"),
        (SpawnSpec("n", ("A=1",)), "contains '='"),
        (SpawnSpec("n", ()), "empty argv"),
        (SpawnSpec("bad name", ("sh",)), "cannot be sent to the kernel"),
        (SpawnSpec("a:b", ("sh",)), "cannot be sent to the kernel"),
        (SpawnSpec("n", ("sh",), env={"A": "1\n2"}), "environment variable A contains a newline"),
        (SpawnSpec("n", ("sh",), env={"A=B": "1"}), "environment variable name"),
        (SpawnSpec("n", ("sh",), rlimits={"no file": 1}), "unknown rlimit"),
        (SpawnSpec("n", ("sh",), sockets=("a b",)), "socket 'a b' cannot be sent"),
    ],
)
def test_unrepresentable_spawns_are_refused_clearly(spec, message):
    with pytest.raises(SpawnError, match=message):
        kp.encode_spawn(spec)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (("redis-server", "--save", ""), "make process n arg.2= redis-server --save"),
        (("sh", "c:\\", "x"), 'make process n arg.1="c:\\" sh x'),
        (("sh", "x "), 'make process n arg.1="x\\ " sh'),
        (("A=1", "B=2", "c"), "make process n arg.0=A=1 arg.1=B=2 c"),
        (("", ""), "make process n arg.0= arg.1="),
    ],
)
def test_protocol_4_sends_what_a_token_cannot_carry_as_placed_arguments(argv, line):
    assert kp.encode_spawn(SpawnSpec("n", argv), placed_args=True) == line


def test_protocol_3_still_refuses_them_and_says_which_protocol_carries_them():
    with pytest.raises(SpawnError, match=r"argument 2 of n is empty.*protocol 4 can"):
        kp.encode_spawn(SpawnSpec("n", ("redis-server", "--save", "")))


ARGUMENT = st.text(st.sampled_from(' \\"=\tax')) | st.text(
    st.characters(blacklist_characters="\n\r\0", blacklist_categories=("Cs",))
)  # the characters the grammar treats specially, often; then anything


@given(st.lists(ARGUMENT, min_size=1, max_size=6), st.dictionaries(ARGUMENT, ARGUMENT, max_size=3))
@settings(max_examples=300, deadline=None)
def test_any_argv_and_environment_survive_the_kernels_parser(argv, env):
    env = {key: value for key, value in env.items() if key and "=" not in key}
    line = kp.encode_spawn(SpawnSpec("n", tuple(argv), env=env), placed_args=True)
    words = kernel_protocol.tokenize(kernel_protocol.decode_line(line.encode()))
    assert words[:3] == ["make", "process", "n"]
    options, args = kernel_protocol.split_options(words[3:])
    assert place_arguments(options, args) == argv
    assert {k[4:]: v for k, v in options.items() if k.startswith("env.")} == env


def test_socket_lines():
    assert kp.encode_socket(SocketSpec("circus.web", port=8080, reuseport=True)) == (
        "make socket circus.web family=inet type=stream backlog=2048 port=8080 reuseport=1"
    )
    assert kp.encode_socket(SocketSpec("circus.u", path="/run/a b.sock", umask=0o22)) == (
        "make socket circus.u family=unix type=stream backlog=2048 path=/run/a\\ b.sock "
        "umask=18 replace=0"
    )
    assert kp.encode_socket(
        SocketSpec("d", family="inet6", type="dgram", host="::1", interface="lo", backlog=5)
    ) == ("make socket d family=inet6 type=dgram backlog=5 host=::1 port=0 interface=lo")


def test_values_and_patterns():
    assert kp.encode_set("circus.v", "a  b") == "set circus.v a\\ \\ b"
    assert kp.encode_set("circus.v", None) == "set circus.v"
    assert kp.pattern("circus.web.") == "circus.web.*"
    assert kp.pattern("") == "*"
    with pytest.raises(KernelError, match="newline"):
        kp.encode_set("v", "a\nb")
    with pytest.raises(KernelError):
        kp.pattern("a b")


# --- replies (lines from the papa notes' transcripts, plus the protocol-2 fields) ---------------


def test_process_lines():
    info = kp.parse_process_line(
        "demo.proc pid=5645 running=True started=1795604850.9767973 "
        "args=sh -c echo hi; sleep 1; echo bye >&2"
    )
    assert (info.name, info.pid, info.running, info.exit_code) == ("demo.proc", 5645, True, None)
    assert info.started == 1795604850.9767973
    assert info.args == "sh -c echo hi; sleep 1; echo bye >&2"
    assert info.age is None  # papa 1.0.6, or no age=1 asked: circusd falls back to started
    aged = kp.parse_process_line(
        "w.1 pid=7 running=True started=1795604850.9767973 age=12.345 args=sleep 30"
    )
    assert (aged.age, aged.args) == (12.345, "sleep 30")  # protocol 5, list processes age=1
    exited = kp.parse_process_line(
        "sh1 pid=9005 running=False started=1795605007.2855754 uid=0 shell=True exit_code=-9 "
        "dropped_out=10 args=echo args=x"
    )
    assert (exited.running, exited.exit_code, exited.args) == (False, -9, "echo args=x")
    with pytest.raises(kp.ProtocolError, match="unreadable process line"):
        kp.parse_process_line("junk")


def test_socket_lines_parse():
    tcp = kp.parse_socket_line(
        "demo.tcp family=inet type=stream backlog=5 host=127.0.0.1 port=33039 fileno=5"
    )
    assert (tcp.family, tcp.host, tcp.port, tcp.fileno, tcp.backlog) == (
        "inet",
        "127.0.0.1",
        33039,
        5,
        5,
    )
    unix = kp.parse_socket_line(
        "api.usock family=unix type=stream backlog=5 path=/tmp/demo/a b.sock umask=18 fileno=6"
    )
    assert (unix.family, unix.path, unix.fileno, unix.port) == (
        "unix",
        "/tmp/demo/a b.sock",
        6,
        None,
    )
    rp = kp.parse_socket_line(
        "rp family=inet type=stream backlog=5 host=127.0.0.1 port=41965 reuseport=1"
    )
    assert rp.fileno is None and rp.port == 41965


def test_replies_and_errors():
    assert kp.split_reply(b"\n> ") == ""
    assert kp.split_reply(b"a\nb\n> ") == "a\nb"
    with pytest.raises(KernelError, match=r"^nothere not found$"):
        kp.split_reply(b"Error: nothere not found\n> ")
    assert kp.parse_values('k a b c\nk2 "quoted value"') == {"k": "a b c", "k2": '"quoted value"'}


def test_an_unknown_name_is_classified_once_as_kernel_not_found():
    """The kernel's NotFoundError (papa 1.0.6 wire: a message, no code) becomes KernelNotFound
    in split_reply, the one place; callers catch the class, never match the text."""
    from papa_kernel.errors import NotFoundError

    known = (NotFoundError("Process circus.w.1 not found"), NotFoundError("Socket s not found"))
    for error in known:
        with pytest.raises(kp.KernelNotFound, match=str(error)):
            kp.split_reply(f"Error: {error}\n> ".encode())
    with pytest.raises(KernelError) as other:  # a spawn error that merely contains the words
        kp.split_reply(b'Error: Bad command - "nope" not found on PATH /bin\n> ')
    assert not isinstance(other.value, kp.KernelNotFound)


# --- watch batches over a real socket ------------------------------------------------------------

TRANSCRIPT_BATCHES = [  # 12.1, 12.5 (binary), 12.3 (two closed records) of the papa notes
    b"out:demo.proc:1795604850.9795794:3\nhi\n\n] ",
    b"err:demo.proc:1795604851.980921:4\nbye\n\nclosed:demo.proc:1795604851.9810424:0\n] ",
    b"out:bin:1795604916.2535546:3\n\xff\xfe\n\nclosed:bin:1795604916.2537248:0\n] ",
    b"closed:sig:1795604897.237391:-9\nclosed:ex3:1795604897.2338073:3\n] ",
    b"dropped:w.1:1.5:err:4096\nout:w.1:2.0:6\n] \n> \n\n] ",  # payload that looks like framing
]


def test_batches_from_transcripts_parse_binary_safe():
    async def main():
        reader, peer = await reader_for(TRANSCRIPT_BATCHES)
        batches = [kp.to_host_events(await kp.read_batch(reader)) for _ in TRANSCRIPT_BATCHES]
        peer.close()
        assert batches[0] == [OutputChunk("demo.proc", "stdout", 1795604850.9795794, b"hi\n")]
        assert batches[1] == [
            OutputChunk("demo.proc", "stderr", 1795604851.980921, b"bye\n"),
            ExitRecord("demo.proc", 1795604851.9810424, 0),
        ]
        assert batches[2][0].data == b"\xff\xfe\n"
        assert [e.exit_code for e in batches[3]] == [-9, 3]
        assert batches[4] == [
            DroppedOutput("w.1", "stderr", 1.5, 4096),
            OutputChunk("w.1", "stdout", 2.0, b"] \n> \n"),
        ]

    run(main())


def test_batches_split_into_single_bytes_still_parse():
    data = b"".join(TRANSCRIPT_BATCHES)

    async def main():
        reader, peer = await reader_for([])

        async def trickle():
            for index in range(len(data)):
                peer.sendall(data[index : index + 1])
                await asyncio.sleep(0)

        feeder = asyncio.ensure_future(trickle())
        records = [await kp.read_batch(reader) for _ in TRANSCRIPT_BATCHES]
        await feeder
        peer.close()
        assert sum(len(r) for r in records) == 9

    run(main())


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"Nothing left to watch\n> ", kp.WatchEnded),
        (b"Stopped watching\n> ", kp.WatchEnded),
        (b"bogus:x:1\n] ", kp.ProtocolError),
        (b"out:x:1.0:notanumber\nzz\n] ", kp.ProtocolError),
        (b"out:x:1.0:2\nabX] ", kp.ProtocolError),  # no newline after the payload
        (b"dropped:x:1.0:in:3\n] ", kp.ProtocolError),
        (b"out:x:1.0:10\nshort", asyncio.IncompleteReadError),  # connection closed mid-record
        (b"out:x:1.0:-1\n\n] ", kp.ProtocolError),  # readexactly(-1) raised ValueError
        (b"err:x:1.0:99999999999999\n", kp.ProtocolError),  # never buffer an absurd length
    ],
)
def test_watch_endings_and_garbage(data, error):
    async def main():
        reader, peer = await reader_for([data])
        peer.shutdown(socket.SHUT_WR)
        with pytest.raises(error):
            await kp.read_batch(reader)
        peer.close()

    run(main())


# --- the command channel against a scripted peer -------------------------------------------------


async def scripted_channel(on_lost=None, timeout: float = 5.0):
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    reader, writer = await asyncio.open_unix_connection(sock=ours)
    lost: list[KernelError] = []
    channel = CommandChannel(
        reader, writer, Endpoint(path="/fake"), on_lost or lost.append, request_timeout=timeout
    )
    return channel, theirs, lost


async def read_lines(sock: socket.socket, count: int) -> list[bytes]:
    loop = asyncio.get_running_loop()
    data = b""
    while data.count(b"\n") < count:
        data += await loop.sock_recv(sock, 65536)
    return data.split(b"\n")[:count]


def test_requests_are_pipelined_and_replies_matched_in_order():
    count = 500

    async def main():
        channel, peer, _ = await scripted_channel()
        # The peer answers nothing until it has received *every* line: without pipelining the
        # client would wait for the first reply forever (and the test would time out).
        tasks = [asyncio.ensure_future(channel.request(f"get v{i}")) for i in range(count)]
        received = await asyncio.wait_for(read_lines(peer, count), 5)
        assert received == [f"get v{i}".encode() for i in range(count)]
        replies = b"".join(
            b"Error: v3 broke\n> " if i == 3 else f"value{i}\n> ".encode() for i in range(count)
        )
        await asyncio.get_running_loop().sock_sendall(peer, replies)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(results[3], KernelError) and str(results[3]) == "v3 broke"
        assert [r for i, r in enumerate(results) if i != 3] == [
            f"value{i}" for i in range(count) if i != 3
        ]
        await channel.close()
        peer.close()

    run(main())


def test_closed_connection_fails_pending_requests_and_reports_once():
    async def main():
        channel, peer, lost = await scripted_channel()
        pending = asyncio.ensure_future(channel.request("list processes"))
        await asyncio.sleep(0.05)
        peer.close()
        with pytest.raises(KernelConnectionLost, match="closed the connection"):
            await asyncio.wait_for(pending, 5)
        with pytest.raises(KernelConnectionLost):
            await channel.request("list processes")
        assert len(lost) == 1
        await channel.close()

    run(main())


def test_silent_kernel_is_a_timeout_not_a_hang():
    async def main():
        channel, peer, lost = await scripted_channel(timeout=0.2)
        with pytest.raises(KernelConnectionLost, match=r"no reply for 0\.2s"):
            await asyncio.wait_for(channel.request("list processes"), 5)
        assert len(lost) == 1
        await channel.close()
        peer.close()

    run(main())


def test_unexpected_reply_is_a_lost_connection():
    async def main():
        channel, peer, lost = await scripted_channel()
        peer.sendall(b"surprise\n> ")
        await asyncio.sleep(0.1)
        assert lost and "garbled" in str(lost[0])
        await channel.close()
        peer.close()

    run(main())
