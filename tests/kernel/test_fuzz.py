"""Hypothesis: random lines and byte strings never hurt the kernel or what it hosts."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_helpers import PROMPT, processes, wait_exited

# Commands that would change the session or the hosted processes on purpose (watch mode,
# quitting, spawning, signalling, removing) are defused by prefixing their first word.
DESTRUCTIVE = ("exit-if-idle", "make", "quit", "remove", "signal", "watch")
WORDS = [
    "l", "list", "p", "processes", "s", "sockets", "v", "values", "get", "set", "help", "h",
    "version", "keep", "keep*", "*", "x=1", "follow=1", "env.A=", "$(socket.a.fileno)", "\\",
    "\\ ", "=", "==", "a=b=c", '"', '""', "\t", "\r", "é", "\x00",
]  # fmt: skip
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def defuse(line: bytes) -> bytes:
    line = line.replace(b"\n", b" ")
    first = line.strip(b" \r\t").split(b" ", 1)[0].decode("utf-8", "replace").lower()
    if first and any(word.startswith(first) for word in DESTRUCTIVE):
        return b"x" + line
    return line


def check_reply(client, line: bytes) -> None:
    client.send(defuse(line) + b"\n")
    reply = client.read_until(PROMPT)
    assert reply.endswith(PROMPT)


def check_unharmed(client, sentinel: dict) -> None:
    assert client.cmd("version").startswith("papa-kernel")
    info = processes(client, "keep")["keep"]
    assert info["pid"] == sentinel["pid"] and info["running"] == "True"


@SETTINGS
@given(line=st.text(max_size=200))
def test_random_text_lines(client, line):
    _ensure_sentinel(client)
    check_reply(client, line.encode("utf-8", "surrogatepass"))
    check_unharmed(client, _ensure_sentinel(client))


@SETTINGS
@given(line=st.binary(max_size=300))
def test_random_byte_lines(client, line):
    _ensure_sentinel(client)
    check_reply(client, line)
    check_unharmed(client, _ensure_sentinel(client))


@SETTINGS
@given(words=st.lists(st.sampled_from(WORDS) | st.text(max_size=8), min_size=1, max_size=8))
def test_random_word_soup(client, words):
    _ensure_sentinel(client)
    check_reply(client, " ".join(words).encode("utf-8", "surrogatepass"))
    check_unharmed(client, _ensure_sentinel(client))


def _ensure_sentinel(client) -> dict:
    """A long-running process that every example must leave untouched."""
    if not hasattr(client, "sentinel"):
        client.cmd("make process keep sleep 60")
        client.sentinel = processes(client, "keep")["keep"]
    return client.sentinel


# Every numeric option of every command, with numbers of any size and sign, unit suffixes and
# non-ASCII digits: each line gets ``ok`` or a clear ``Error:``, never an internal error.
NUMERIC_LINES = [
    "make socket fz{n} backlog={v}",
    "make socket fz{n} port={v}",
    "make socket fz{n} path={dir}/fz{n}.sock umask={v}",
    "make process fz{n} bufsize={v} true",
    "make process fz{n} umask={v} true",
    "make process fz{n} uid={v} true",
    "make process fz{n} gid={v} true",
    "make process fz{n} rlimit.nofile={v} true",
    "make process fz{n} rlimit.core={v} true",
    "make process fz{n} rlimit.as={v} true",
    "signal {v} nosuch*",
]
numbers = (
    st.integers().map(str)
    | st.integers(min_value=-(2**70), max_value=2**70).map(lambda i: f"{i}{'kmg'[i % 3]}")
    | st.sampled_from(["²", "١٢", "0x10", "1_0", "+5", " 5", "1e3", "-0", "9" * 50, "", "00"])
)


@SETTINGS
@given(template=st.sampled_from(NUMERIC_LINES), value=numbers)
def test_numeric_option_values(kernel, client, template, value):
    _ensure_sentinel(client)
    line = template.format(n=0, v=value, dir=os.path.dirname(kernel.path))
    client.send(line.encode() + b"\n")
    reply = client.read_until(PROMPT).decode()
    assert "internal error" not in reply, (line, reply)
    client.cmd("remove sockets fz*")
    if "fz0" in client.cmd("list processes fz*"):
        wait_exited(client, "fz0")
        client.cmd("remove processes fz*")
    check_unharmed(client, _ensure_sentinel(client))
