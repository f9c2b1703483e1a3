"""Every command of the line protocol against a real kernel: replies, framing, errors."""

from __future__ import annotations

import os
import re

import pytest
import support
from kernel_helpers import PROMPT, processes, wait_exited

# the tests that use only ``client`` share one kernel (tests/kernel/conftest.py)
pytestmark = pytest.mark.shared_kernel


def test_greeting_and_version(client):
    assert client.greeting == b'Papa is home. Type "help" for commands.\n> '
    assert re.fullmatch(r"papa-kernel \S+ protocol 5", client.cmd("version"))
    assert client.cmd("v") == client.cmd("VERSION")


def test_help_overview_and_topics(client):
    overview = client.cmd("help")
    for word in ("make socket", "watch processes", "signal", "exit-if-idle", "version"):
        assert word in overview
    assert client.cmd("h m p").startswith("make process NAME")
    assert "follow=1" in client.cmd("help watch processes")
    assert "group=1" in client.cmd("help signal")
    assert "followed by one of" in client.cmd("help list")
    assert "No help" in client.error("help frobnicate")


def test_values(client):
    assert client.cmd("set k a  b   c") == ""
    assert client.cmd("get k") == "a b c"
    assert client.cmd(r"set k2 x\ \ y") == ""
    assert client.cmd("get k2") == "x  y"
    assert client.cmd('set k3 "quoted value"') == ""
    assert client.cmd("get k3") == '"quoted value"'
    assert client.cmd("get missing") == ""
    assert client.cmd("l v") == 'k a b c\nk2 x  y\nk3 "quoted value"'
    assert client.cmd("list values k2 nothere") == "k2 x  y"
    assert client.cmd("set k") == ""  # no value deletes
    assert client.cmd("l v k*") == 'k2 x  y\nk3 "quoted value"'
    assert "name" in client.error("set")
    assert "name" in client.error("get")
    assert "cannot remove all" in client.error("remove values")
    assert "cannot remove all" in client.error("r v *")
    assert client.cmd("r v k*") == ""
    assert client.cmd("l v") == ""


def test_command_words_abbreviate_case_insensitively(client):
    client.cmd("set a 1")
    for line in ("l v", "li val", "LIST VALUES", "L   V", "l v\r"):
        assert client.cmd(line) == "a 1", line
    assert "abbreviated" in client.error("e")
    assert "abbreviated" in client.error("exit")
    assert "Unknown command" in client.error("frobnicate")
    assert "must be followed by one of" in client.error("list")
    assert "is not one of" in client.error("l x")
    assert "is not one of" in client.error("make sockets a")  # "sockets" is not "socket"
    assert "is not one of" in client.error("watch values")


def test_empty_line_gets_a_full_prompt(client):
    client.send("\n")
    assert client.read_until(PROMPT) == PROMPT  # papa 1.0.6 sent only "> " here


def test_pipelined_commands_answer_in_order(client):
    client.send("set a 1\nget a\nl v\nfrob\nget a\n")
    replies = [client.read_until(PROMPT) for _ in range(5)]
    assert replies == [PROMPT, b"1" + PROMPT, b"a 1" + PROMPT,
                       b'Error: Unknown command "frob" (type "help" for the list)' + PROMPT,
                       b"1" + PROMPT]  # fmt: skip


def test_quit_closes_and_kernel_keeps_state(connect, client):
    client.cmd("set keep me")
    client.send("quit\n")
    assert client.read_until(b"ok\n") == b"ok\n"
    with pytest.raises(EOFError):
        client.read_until(PROMPT)
    assert connect().cmd("get keep") == "me"


def test_make_list_remove_process(client):
    line = client.cmd(r"make process p1 sh -c sleep\ 30")
    match = re.fullmatch(r"p1 pid=(\d+) running=True started=([\d.]+) args=sh -c sleep 30", line)
    assert match, line
    pid = int(match.group(1))
    assert support.pid_alive(pid)
    assert client.cmd("l p") == line
    assert client.cmd("l p p*") == line
    assert client.cmd("l p nothere") == ""  # list ignores unknown names
    info = processes(client)["p1"]
    assert info["running"] == "True" and "exit_code" not in info
    # an identical request is idempotent; a different one is refused
    assert client.cmd(r"make process p1 sh -c sleep\ 30") == line
    assert "already been created" in client.error(r"make process p1 sh -c sleep\ 31")
    client.cmd("signal KILL p1")
    info = wait_exited(client, "p1")
    assert info["running"] == "False" and info["exit_code"] == "-9"
    assert client.cmd("r p p1") == ""
    assert client.cmd("l p") == ""
    assert "nothere not found" in client.error("r p nothere")


def test_list_processes_age_1_says_how_long_each_has_run(client):
    """``age=1`` (protocol 5): a running process's line says how long it has run, on the
    kernel's monotonic clock (a client on another machine cannot compare ``started=`` with its
    own clock); without it, lines are papa 1.0.6's (an original client never asks)."""
    line = client.cmd(r"make process aged sh -c sleep\ 30")
    assert " age=" not in line and client.cmd("list processes aged") == line
    listed = client.cmd("list processes age=1 aged")
    match = re.fullmatch(
        r"aged pid=\d+ running=True started=[\d.]+ age=(\d+\.\d{3}) args=sh -c sleep 30", listed
    )
    assert match, listed
    assert 0 <= float(match[1]) < 10
    support.wait_for(  # it grows
        lambda: float(processes(client, "age=1", "aged")["aged"]["age"]) > float(match[1])
    )
    client.cmd("make process done true")
    wait_exited(client, "done")
    assert " age=" not in client.cmd("list processes age=1 done")  # only while running
    assert set(processes(client, "age=1")) >= {"aged", "done"}  # no pattern: all
    assert 'Option "age" must be 1 or 0' in client.error("list processes age=maybe")


def test_remove_processes_without_names_removes_all(client):
    for name in ("a", "b"):
        client.cmd(f"make process {name} true")
        wait_exited(client, name)
    assert client.cmd("remove processes") == ""
    assert client.cmd("l p") == ""


def test_exit_code_in_listing(client):
    client.cmd(r"make process ex3 sh -c exit\ 3")
    info = wait_exited(client, "ex3")
    assert info["exit_code"] == "3"
    client.cmd(r"make process sig sh -c kill\ -9\ $$")
    assert wait_exited(client, "sig")["exit_code"] == "-9"


def test_make_process_errors_name_the_problem(client):
    cases = {
        "make process": "requires a name",
        "make process x": "requires a program",
        "make process bad /nonexistent/exe": "/nonexistent/exe",
        "make process bad nosuchprogram-xyz": "nosuchprogram-xyz",
        "make process bad working_dir=/nonexistent sh -c true": 'working_dir "/nonexistent"',
        "make process bad working_dir=relative sh": "absolute",
        "make process bad output=1m sh": 'Unknown process option "output"',
        "make process bad rlimit.bogus=1 sh": 'Unknown rlimit "bogus"',
        "make process bad rlimit.nofile=x sh": '"rlimit.nofile" must be an integer',
        "make process bad uid=nosuchuser sh": 'Unknown user "nosuchuser"',
        "make process bad gid=nosuchgroup sh": 'Unknown group "nosuchgroup"',
        "make process bad bufsize=lots sh": '"bufsize" must be a size',
        "make process bad shell=maybe sh": '"shell" must be 1 or 0',
        "make process bad umask=999 sh": '"umask" must be an octal',
        "make process bad $(socket.nosuch.fileno)": "Socket nosuch not found",
        "make process bad sh $(socket.x)": '".fileno" or ".port"',
        "make process bad sh $(socket.x.fileno": "Unterminated",
        "make process bad sockets=nosuch sh": "Socket nosuch not found",
        "make process bad stdin_socket=nosuch sh": "Socket nosuch not found",
        "make process a:b sh": "must not contain",
        "make process bad =x sh": "no name",
        "make process bad uid= sh": '"uid" needs a value',
        "make process bad arg.3=x sh a": '"arg.3" is past the end of the arguments (3 in all',
        "make process bad arg.x=1 sh": '"arg.x" needs an argument number',
        "make process bad arg.01=1 sh": '"arg.01" needs an argument number',
        "make process bad arg.0=": '"" not found on PATH',
    }
    for line, expected in cases.items():
        assert expected in client.error(line), line
    assert client.cmd("l p") == ""  # nothing was started or recorded


def test_placed_arguments_carry_what_tokens_cannot(client):
    client.watch('make process p watch=1 arg.2= arg.4="c:\\" arg.5="\\ " printf [%s] x y')
    result = client.collect({"p"})["p"]
    assert (result["out"], result["closed"]) == (b"[][x][c:\\][ ][y]", 0)


def test_exit_if_idle(kernel, client):
    client.cmd("set x 1")
    assert client.cmd("exit-if-idle") == "not idle"
    client.cmd("set x")
    client.send("exit-if-idle\n")
    assert client.read_until(PROMPT) == b"Exiting papa!" + PROMPT
    assert kernel.proc.wait(timeout=10) == 0
    assert not os.path.exists(kernel.path)  # the socket file is removed on exit


def test_exit_if_idle_counts_exited_processes(client):
    client.cmd("make process t true")
    wait_exited(client, "t")
    assert client.cmd("exit-if-idle") == "not idle"
