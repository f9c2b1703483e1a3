"""StdoutStream and FancyStdoutStream, observed from a real child interpreter."""

from __future__ import annotations

import subprocess
import textwrap

import pytest
from stream_support import ORIGINAL_PYTHON, T0, WarmPython, run_python

from circus.streams import FancyStdoutStream, StreamOptionError

PRELUDE = f"""
import os, sys
from circus.streams import StdoutStream, FancyStdoutStream
T0 = {T0!r}
def m(data, pid=42, name="stdout", ts=T0):
    return {{"data": data, "pid": pid, "name": name, "timestamp": ts}}
"""


# A snippet runs in a child forked from a warm interpreter that imported circus.streams (its
# stdout and stderr still pipes that this process reads): a fresh interpreter cost ~70 ms of CPU
# each. A snippet that needs another environment starts a fresh one.
_warm: list[WarmPython] = []


@pytest.fixture(scope="module", autouse=True)
def _close_the_warm_python():
    yield
    while _warm:
        _warm.pop().close()


def child(code: str, **kwargs) -> subprocess.CompletedProcess:
    code = PRELUDE + textwrap.dedent(code)
    if kwargs:
        return run_python(code, capture_output=True, **kwargs)
    if not _warm:
        _warm.append(WarmPython(("circus.streams",)))
    return _warm[0].run(code)


# --- StdoutStream -------------------------------------------------------------------------------


def test_stdout_and_stderr_messages_go_to_the_matching_descriptor():
    result = child("""
        s = StdoutStream()
        s(m(b"out \\xff\\x00 1\\n"))
        s(m(b"err 1\\n", name="stderr"))
        s(m(b"par"))
        s(m(b"tial\\n"))
        s(m(b""))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"out \xff\x00 1\npartial\n"
    assert result.stderr == b"err 1\n"


def test_closed_stdout_never_raises():
    result = child("""
        os.close(1)
        s = StdoutStream()
        s(m(b"lost\\n"))
        s(m(b"lost too\\n"))
        sys.stderr.write(f"dropped={s.dropped}")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b"dropped=14"


def test_broken_pipe_never_raises():
    result = child("""
        r, w = os.pipe()
        os.dup2(w, 1)
        os.close(r)
        s = StdoutStream()
        s(m(b"nobody reads\\n"))
        sys.stderr.write(f"dropped={s.dropped}")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b"dropped=13"


def test_full_nonblocking_stdout_drops_after_a_bounded_wait():
    result = child("""
        import fcntl, time
        import circus.streams.stdout as mod
        mod.MAX_BLOCKED_WAIT = 0.2
        r, w = os.pipe()
        fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
        os.dup2(w, 1)
        fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_NONBLOCK)
        size = fcntl.fcntl(1, 1032)  # F_GETPIPE_SZ
        s = StdoutStream()
        started = time.monotonic()
        s(m(b"x" * (size + 1000)))
        elapsed = time.monotonic() - started
        drained = len(os.read(r, size + 10))
        s(m(b"y"))  # room again: written
        sys.stderr.write(f"{s.dropped} {elapsed < 2} {drained} {os.read(r, 10)}")
    """)
    assert result.returncode == 0, result.stderr
    dropped, fast, drained, rest = result.stderr.split()
    assert (dropped, fast, rest) == (b"1000", b"True", b"b'y'")
    assert int(drained) > 0


def test_default_stream_throughput_is_not_a_per_byte_loop():
    result = child("""
        s = StdoutStream()
        chunk = b"z" * 65535 + b"\\n"
        for _ in range(160):  # 10 MiB
            s(m(chunk))
    """)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) == 160 * 65536


# --- FancyStdoutStream ----------------------------------------------------------------------------


def test_fancy_format():
    result = child("""
        f = FancyStdoutStream(color="red")
        f(m(b"hello\\nworld\\n", pid=7))
        f(m(b"from stderr\\n", pid=7, name="stderr"))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        b"\033[0;31;40m2023-11-14 22:13:20 [7] | hello\033[0m\n"
        b"\033[0;31;40m2023-11-14 22:13:20 [7] | world\033[0m\n"
        b"\033[0;31;40m2023-11-14 22:13:20 [7] | from stderr\033[0m\n"
    )
    assert result.stderr == b""


def test_fancy_lines_split_across_chunks_get_one_prefix():
    result = child("""
        f = FancyStdoutStream(color="green", time_format="%H:%M:%S")
        f(m(b"hel"))
        f(m(b"lo\\nnext", ts=T0 + 5))
        f(m(b"\\n", ts=T0 + 9))
    """)
    assert result.returncode == 0, result.stderr
    green, reset = b"\033[0;32;40m", b"\033[0m"
    assert result.stdout == (
        green
        + b"22:13:20 [42] | hel"
        + reset
        + green
        + b"lo"
        + reset
        + b"\n"
        + green
        + b"22:13:25 [42] | next"
        + reset
        + green
        + reset
        + b"\n"
    )


def test_fancy_other_process_ends_an_unfinished_line():
    result = child("""
        f = FancyStdoutStream(color="blue", time_format="")
        f(m(b"half", pid=1))
        f(m(b"whole\\n", pid=2))
    """)
    blue, reset = b"\033[0;34;40m", b"\033[0m"
    assert (
        result.stdout
        == blue + b"[1] | half" + reset + b"\n" + blue + b"[2] | whole" + reset + b"\n"
    )


def test_fancy_without_color_colours_by_pid():
    result = child("""
        f = FancyStdoutStream()
        for pid in (7, 8, 14):
            f(m(b"x\\n", pid=pid))
    """)
    lines = result.stdout.splitlines()
    assert [line[:10] for line in lines] == [b"\033[0;31;40m", b"\033[0;32;40m", b"\033[0;31;40m"]


def test_fancy_uses_the_message_timestamp_in_local_time():
    result = child(
        """
        f = FancyStdoutStream(color="white", time_format="%Y-%m-%d %H:%M %Z")
        f(m(b"old\\n", ts=T0 - 86400))
        """,
        env={"TZ": "Europe/Paris"},
    )
    assert b"2023-11-13 23:13 CET [42] | old" in result.stdout


def test_fancy_closed_stdout_never_raises():
    result = child("""
        os.close(1)
        FancyStdoutStream()(m(b"x\\n"))
    """)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("color", ["Red", "CYAN", " magenta ", "yellow"])
def test_fancy_colour_names_ignore_case(color):
    assert FancyStdoutStream(color=color).color == color.strip().lower()


def test_fancy_rejects_unknown_colours():
    with pytest.raises(StreamOptionError) as info:
        FancyStdoutStream(color="black")
    assert info.value.option == "color"


@pytest.mark.compat
@pytest.mark.skipif(not ORIGINAL_PYTHON.exists(), reason="circus 0.19.0 venv not installed")
def test_fancy_output_is_byte_identical_to_circus_019_for_whole_lines(tmp_path):
    code = """
from circus.stream import FancyStdoutStream
for color, fmt in (("cyan", "%Y-%m-%d %H:%M:%S"), ("yellow", "%H:%M:%S")):
    f = FancyStdoutStream(color=color, time_format=fmt)
    f({"data": b"first line\\nsecond line\\n", "pid": 1234, "name": "stdout",
       "timestamp": 1700000000.0})
    f({"data": b"an error\\n", "pid": 99, "name": "stderr", "timestamp": 1700000042.0})
"""
    env = {"PYTHONPATH": ""}
    original = run_python(
        code, python=str(ORIGINAL_PYTHON), capture_output=True, env=env, cwd=tmp_path
    )
    ours = run_python(code.replace("circus.stream", "circus.streams"), capture_output=True)
    assert original.returncode == 0, original.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == original.stdout
    assert original.stdout.count(b"\n") == 6
