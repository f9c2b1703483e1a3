"""Help texts read well and the tools end quietly when their reader goes away."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from papa_kernel.pipes import EXIT_BROKEN_PIPE

pytestmark = pytest.mark.timeout(60)
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("tool", ["circusctl", "circusd", "papa-kernel"])
def test_help_into_a_closed_pipe_prints_no_traceback(tool: str) -> None:
    """`TOOL --help | head -0`: the reader is gone before the first write (deterministic)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        out = subprocess.run(
            [str(BIN / tool), "--help"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in out.stderr and "Exception ignored" not in out.stderr, out.stderr
    # argparse swallows the failed write of --help itself (exit 0); circusctl's own help
    # text reports the broken pipe as a shell tool does.
    assert out.returncode in (0, EXIT_BROKEN_PIPE)


def test_circusctl_help_keeps_a_gap_between_every_option_and_its_help(capsys, monkeypatch) -> None:
    """circusctl's main in this process (the test above runs the program's --help)."""
    from circus.cli.circusctl import main

    monkeypatch.setenv("COLUMNS", "80")  # as into a pipe, whatever terminal runs the tests
    capsys.readouterr()
    try:
        assert main(["--help"]) == 0
    except SystemExit as exc:
        assert exc.code in (None, 0)
    out = capsys.readouterr().out
    options = out.split("\noptions:\n", 1)[1].splitlines()
    starts = {re.match(r"  \S+(?: \S+)? +", line).end() for line in options if "--" in line}
    assert len(starts) == 1, f"help texts do not share one column: {options}"
    secret = next(line for line in options if "--curve-secret-key" in line)
    assert "CURVE-SECRET-KEY  CURVE:" in secret


UNUSABLE_LOG_OUTPUTS = [
    "{tmp}/missing/dir/x.log",
    "syslog://localhost:99999",
    "syslog://{tmp}/no-syslog-here",
]


@pytest.mark.parametrize("output", UNUSABLE_LOG_OUTPUTS)
def test_unusable_log_output_is_refused_naming_it(output: str, tmp_path: Path) -> None:
    """A --log-output file in a missing directory, a syslog port out of range, or a syslog
    socket that is not there (no syslog daemon: each log record printed a 40-line 'Logging
    error' traceback) is refused when the handler is made, in one line naming the value (the
    helper every tool calls; the test below runs each tool)."""
    from circus.errors import ConfigError
    from circus.util.logsetup import make_handler

    output = output.format(tmp=tmp_path)
    with pytest.raises(ConfigError) as refused:
        make_handler(output).close()
    assert f"log output {output!r}" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("tool", "output"),
    [
        ("circusd", UNUSABLE_LOG_OUTPUTS[0]),
        ("circus-plugin", UNUSABLE_LOG_OUTPUTS[1]),
        ("circusd-stats", UNUSABLE_LOG_OUTPUTS[2]),
        ("circushttpd", UNUSABLE_LOG_OUTPUTS[0]),
    ],
)  # each tool once, each kind of output at least once (a process run each)
def test_unusable_log_output_is_an_error_not_a_traceback(
    tool: str, output: str, tmp_path: Path, runtime_dir: Path
) -> None:
    """One line naming the value, a usage/config exit status, no traceback (each tool, one
    shared helper)."""
    output = output.format(tmp=tmp_path)
    config = tmp_path / "circus.ini"
    config.write_text("[watcher:w]\ncmd = sleep 60\n")
    args = {
        "circusd": [str(config)],
        "circus-plugin": ["circus.plugins.statsd.StatsdEmitter"],
    }.get(tool, [])
    out = subprocess.run(
        [str(BIN / tool), "--log-output", output, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode in (1, 2), out.stderr
    assert f"log output {output!r}" in out.stderr, out.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["circusd-stats", "--endpoint", "bogus"], "circusd-stats: cannot connect to bogus"),
        (["circus-top", "--endpoint", "bogus"], "circus-top needs a terminal"),
        (["circushttpd", "--certfile", "/nonexistent/c.pem", "--keyfile", "/nonexistent/k.pem"],
         "--certfile /nonexistent/c.pem: no such file"),
    ],
)  # fmt: skip
def test_tools_refuse_bad_input_in_one_line(argv: list[str], message: str, tmp_path) -> None:
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path))
    out = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=30, env=env, check=False,
    )  # fmt: skip
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr, out.stderr


def test_circus_top_names_a_bad_endpoint_before_taking_the_screen(tmp_path) -> None:
    """In a terminal (script(1) gives it one), the endpoint is checked before curses starts."""
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path), TERM="xterm")
    out = subprocess.run(
        ["script", "-qec", f"{BIN / 'circus-top'} --endpoint bogus", "/dev/null"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, env=env,
        check=False,
    )  # fmt: skip
    assert out.returncode != 0
    assert "--endpoint bogus: Invalid argument" in out.stdout
    assert "Traceback" not in out.stdout, out.stdout


def test_circus_top_in_a_terminal_of_unknown_size_runs_and_quits(tmp_path) -> None:
    """script(1) run without a terminal of its own gives circus-top one that reports 0 rows
    and 0 columns: it keeps curses' size (it crashed resizing curses to 0x0) and quits on q."""
    import select

    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path), TERM="xterm")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        ["script", "-qec", f"{BIN / 'circus-top'} --endpoint ipc://{tmp_path}/none.sock",
         "/dev/null"],
        stdin=read_end, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        start_new_session=True,
    )  # fmt: skip
    os.close(read_end)
    out = b""
    try:
        deadline = time.monotonic() + 20
        while b"Waiting for data" not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            chunk = os.read(proc.stdout.fileno(), 65536) if ready else b""
            if not chunk:
                break  # ended (or the deadline passed)
            out += chunk
        if b"Waiting for data" in out:
            os.write(write_end, b"q")  # typed once the screen is up (earlier, curses drops it)
        rest, _ = proc.communicate(timeout=20)
        out += rest
    finally:
        os.close(write_end)
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    text = out.decode("utf-8", "replace")
    assert "Traceback" not in text, text
    assert "Waiting for data" in text and proc.returncode == 0, text
