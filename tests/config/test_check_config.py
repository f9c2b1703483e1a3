"""circusd --check-config FILE, run as `python -m circus.cli.check_config FILE`."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str, env_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "circus.cli.check_config", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={"XDG_RUNTIME_DIR": str(env_dir), "PATH": "/usr/bin:/bin"},
    )


def test_ok(tmp_path, runtime_dir):
    path = tmp_path / "ok.ini"
    path.write_text("[watcher:web]\ncmd = sleep 10\nnumprocess = 2\n")
    result = run(str(path), env_dir=runtime_dir)
    assert result.returncode == 0
    assert result.stdout == "ok\n"
    assert "warning:" in result.stderr and "did you mean 'numprocesses'?" in result.stderr
    quiet = run("-q", str(path), env_dir=runtime_dir)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "ok\n", "")


def test_errors(tmp_path, runtime_dir):
    path = tmp_path / "bad.ini"
    path.write_text("[watcher:web]\ncmd = sleep 10\nnumprocesses = many\nstop_signal = NOPE\n")
    result = run(str(path), env_dir=runtime_dir)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert (
        lines[0] == f"error: {path}:3 [watcher:web] numprocesses: expected an integer, got 'many'"
    )
    assert lines[1].startswith(f"error: {path}:4 [watcher:web] stop_signal:")
    assert lines[2] == f"{path}: 2 errors"
    assert "Traceback" not in result.stderr


def test_missing_file(tmp_path, runtime_dir):
    result = run(str(tmp_path / "missing.ini"), env_dir=runtime_dir)
    assert result.returncode == 1 and "does not exist" in result.stderr


def test_main_is_callable_in_process(tmp_path, runtime_dir, capsys):
    from circus.cli.check_config import main

    path = tmp_path / "ok.ini"
    path.write_text("[watcher:web]\ncmd = x\n")
    assert main([str(path)]) == 0
    assert capsys.readouterr().out == "ok\n"
