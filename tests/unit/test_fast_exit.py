"""The tools end without the interpreter's teardown (circus.util.fast_exit), and lose nothing:
their output, even larger than a pipe holds, is complete, the atexit handlers run, the exit
status is theirs. Called with ``argv`` (in a test's own process), ``main`` returns instead."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from circus import __version__
from circus.util.fast_exit import ends_process
from papa_kernel.pipes import EXIT_BROKEN_PIPE

pytestmark = pytest.mark.timeout(60)

#: Prints "teardown" on stderr if the interpreter tears itself down (clearing ``__main__``
#: drops the last reference to the mark), which a fast exit does not.
TEARDOWN_MARK = textwrap.dedent("""\
    import os, sys

    class Mark:
        def __del__(self, write=os.write):
            write(2, b"teardown\\n")

    mark = Mark()
""")

BIG = 200_000  # characters: three times what a Linux pipe holds
#: stdout block-buffered, as a tool's is into a pipe (this project's shells set
#: PYTHONUNBUFFERED, which would leave nothing for the exit to flush)
BUFFERED = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}


def run_python(code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", TEARDOWN_MARK + textwrap.dedent(code), *argv],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=BUFFERED,
    )


def test_the_mark_shows_a_normal_exit():
    """The check the tests below rely on: a normal exit prints the mark."""
    assert run_python("print('hello')").stderr == "teardown\n"


def test_exit_now_flushes_big_output_runs_atexit_and_keeps_the_status():
    out = run_python(f"""
        import atexit
        from circus.util.fast_exit import exit_now

        atexit.register(lambda: print("atexit ran"))  # buffered too: flushed after it runs
        print("x" * {BIG})
        exit_now(3)
    """)
    assert out.returncode == 3
    assert out.stdout == "x" * BIG + "\natexit ran\n"
    assert "teardown" not in out.stderr


def test_exit_now_into_a_closed_pipe_is_the_broken_pipe_status():
    """stdout's reader went away: the status says so (as quiet_on_broken_pipe's), no
    traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        out = subprocess.run(
            [sys.executable, "-c",
             "from circus.util.fast_exit import exit_now\nprint('x' * 10, end='')\nexit_now(0)"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=30, check=False,
            env=BUFFERED,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert out.returncode == EXIT_BROKEN_PIPE, out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("module", "argv", "status", "stdout"),
    [
        ("circus.cli.circusctl", ["--help"], 0, "usage: circusctl [options] command [args]\n"),
        ("circus.cli.circusctl", ["nosuch"], 2, ""),
        ("circus.cli.plugin", ["--version"], 0, f"{__version__}\n"),
        ("circus.cli.plugin", ["--config", "nocolon", "x.Y"], 2, ""),
        ("circus.cli.circusd_stats", ["--log-output", "/nonexistent/dir/x.log"], 1, ""),
        ("circus.cli.check_config", ["/nonexistent.ini"], 1, ""),
        ("circus.cli.convert", ["/dev/null"], 0, "; Converted by circus-convert from /dev/null."),
        ("circus.cli.circushttpd", ["--host", "0.0.0.0"], 1, ""),  # refused: unsafe bind
    ],
)
def test_a_tool_run_as_the_program_ends_fast_with_its_output(module, argv, status, stdout):
    """``main()`` without argv (the console script's call) ends the process: status and
    output as in the test's own process (``main(argv)``), no teardown."""
    out = run_python(
        f"import sys\nfrom {module} import main\nsys.argv[1:] = {argv!r}\nmain()\n"
        "print('main returned')"
    )
    assert out.returncode == status, out.stderr
    assert out.stdout.startswith(stdout) and "main returned" not in out.stdout
    assert "teardown" not in out.stderr, out.stderr


def test_ends_process_returns_when_given_argv():
    @ends_process
    def main(argv):
        return len(argv)

    assert main(["a", "b"]) == 2
