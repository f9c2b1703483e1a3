"""Hypothesis: random lines and byte strings never hurt the kernel or what it hosts."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_helpers import PROMPT, processes

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
