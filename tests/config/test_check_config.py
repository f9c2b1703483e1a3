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


def test_every_dotted_name_must_import(tmp_path, runtime_dir):
    """Hooks, stream classes and plugin classes are imported; each failure is reported at its
    file:line [section] key, all at once (issue 8, item 3)."""
    path = tmp_path / "names.ini"
    path.write_text(
        "[watcher:web]\n"  # 1
        "cmd = sleep 10\n"
        "hooks.after_start = nomodule.nofunc\n"  # 3
        "hooks.before_start = os.getcwd\n"  # importable: fine
        "hooks.after_stop = os.no_such_function\n"  # 5
        "stdout_stream.class = nomodule.Stream\n"  # 6
        "stderr_stream.class = FileStream\n"
        "stderr_stream.filename = /dev/null\n"
        "[watcher:other]\n"
        "cmd = sleep 10\n"
        "hooks.before_spawn = os.sep\n"  # 11: not callable
        "[plugin:mine]\n"
        "use = nomodule.Plugin\n"  # 13
    )
    result = run(str(path), env_dir=runtime_dir)
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {path}:3 [watcher:web] hooks.after_start: ")
    assert "nomodule" in lines[0]
    assert lines[1].startswith(f"error: {path}:5 [watcher:web] hooks.after_stop: ")
    assert "no_such_function" in lines[1]
    assert lines[2].startswith(f"error: {path}:6 [watcher:web] stdout_stream.class: ")
    assert lines[3].startswith(f"error: {path}:11 [watcher:other] hooks.before_spawn: ")
    assert "not callable" in lines[3]
    assert lines[4].startswith(f"error: {path}:13 [plugin:mine] use: ")
    assert lines[5] == f"{path}: 5 errors"
    assert "Traceback" not in result.stderr


def test_dotted_names_are_imported_with_the_other_checks(tmp_path, runtime_dir):
    path = tmp_path / "both.ini"
    path.write_text("[watcher:web]\ncmd = sleep 10\nnumprocesses = many\nhooks.after_start = a.b\n")
    result = run(str(path), env_dir=runtime_dir)
    assert result.returncode == 1
    assert f"{path}:3 [watcher:web] numprocesses" in result.stderr
    assert f"{path}:4 [watcher:web] hooks.after_start" in result.stderr
    assert f"{path}: 2 errors" in result.stderr


def test_a_module_beside_the_configuration_is_named_with_the_pythonpath_to_set(
    tmp_path, runtime_dir
):
    """A user puts myhooks.py next to circus.ini: circusd does not import from there (as the
    original); the error says so and what to set, instead of a bare ModuleNotFoundError."""
    (tmp_path / "myhooks.py").write_text("def refuse(*args, **kwargs):\n    return False\n")
    (tmp_path / "mystreams").mkdir()
    (tmp_path / "mystreams" / "__init__.py").write_text("class S:\n    pass\n")
    path = tmp_path / "circus.ini"
    path.write_text(
        "[watcher:web]\ncmd = sleep 10\nhooks.before_start = myhooks.refuse\n"
        "stdout_stream.class = mystreams.S\n"
        "[watcher:other]\ncmd = sleep 10\nhooks.after_start = nomodule.nofunc\n"
    )
    result = run(str(path), env_dir=runtime_dir)
    assert result.returncode == 1, result
    hint = (
        "is beside the configuration, but circusd imports from its own sys.path: set "
        f"PYTHONPATH={tmp_path} in circusd's environment"
    )
    lines = result.stderr.splitlines()
    assert f"(myhooks {hint})" in lines[0], lines[0]
    assert f"(mystreams {hint})" in lines[1], lines[1]
    assert "is beside the configuration" not in lines[2], lines[2]  # nomodule is nowhere


def test_a_user_or_group_unknown_on_this_machine_is_named_with_its_watcher(
    tmp_path, runtime_dir, capsys
):
    """Spawning would fail ("unknown user"): said at check time, as a warning (the file may be
    meant for a machine that has the user), with the watcher, the option and the value."""
    from circus.cli.check_config import main

    path = tmp_path / "users.ini"
    path.write_text(
        "[watcher:web]\ncmd = sleep 10\nuid = no-such-user-here\n\n"
        "[watcher:worker]\ncmd = sleep 10\ngid = no-such-group-here\n\n"
        "[watcher:known]\ncmd = sleep 10\nuid = root\ngid = 4242\n"
    )
    assert main([str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == "ok\n"
    assert err.splitlines() == [
        f"warning: {path}:3 [watcher:web] uid: no user 'no-such-user-here' on this machine "
        "(its processes cannot be spawned here)",
        f"warning: {path}:7 [watcher:worker] gid: no group 'no-such-group-here' on this machine "
        "(its processes cannot be spawned here)",
    ]
