"""The circusd command line: options, daemon mode, pid file, logging, config errors."""

import contextlib
import json
import os
import subprocess
import sys
import uuid

import pytest
import support
from support import pid_alive, wait_for

pytestmark = pytest.mark.timeout(60)
CIRCUSD = support.CIRCUSD


def run(*args, cwd=None, timeout=30):
    return subprocess.run(
        [*CIRCUSD, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def here(capsys, *args) -> subprocess.CompletedProcess:
    """circusd's main in this process, for what it answers before it starts anything (its
    options, --check-config): the answer is tested, not the start-up."""
    from circus.cli import circusd

    try:
        code = circusd.main(list(args))
    except SystemExit as exc:  # argparse's --version and --help
        code = exc.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["circusd", *args], code, out, err)


def test_version(capsys):
    result = here(capsys, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("circusd ")


def test_no_configuration_prints_the_usage_line_and_exits_1(capsys):
    # it printed only "a configuration file is required": no usage line, unlike a wrong option
    result = here(capsys)
    assert result.returncode == 1 and result.stdout == ""
    usage, error = result.stderr.splitlines()[0], result.stderr.splitlines()[-1]
    assert usage.startswith("usage: circusd [-h]"), result.stderr
    assert "[CONFIG]" in result.stderr.split("circusd: error")[0], result.stderr
    assert error == "circusd: error: a configuration file is required (CONFIG)", result.stderr


def test_check_config_ok_and_errors(tmp_path, worker_cmd, capsys):
    good = tmp_path / "good.ini"
    good.write_text(f"[watcher:a]\ncmd = {worker_cmd} sleep\n")
    result = here(capsys, "--check-config", str(good))
    assert result.returncode == 0 and "ok" in result.stdout
    bad = tmp_path / "bad.ini"
    bad.write_text("[watcher:a]\ncmd = x\nnumprocesses = many\ngraceful_timeout = soon\n")
    result = here(capsys, "--check-config", str(bad))
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "bad.ini:3 [watcher:a] numprocesses" in output
    assert "graceful_timeout" in output


def _processes_marked(mark: str) -> list[int]:
    """Pids of the processes whose environment holds CIRCUS_TEST_MARK=mark."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/environ", "rb") as handle:
                if f"CIRCUS_TEST_MARK={mark}".encode() in handle.read().split(b"\0"):
                    found.append(int(entry))
    return found


def test_invalid_config_exits_1_and_leaves_no_kernel_interpreter_behind(tmp_path):
    """An invalid configuration: exit 1, the file and the missing key named. circusd starts
    papa-kernel's interpreter before it reads the configuration (the two start-ups overlap);
    when the configuration is refused, that interpreter is let go and reaped before circusd
    exits."""
    mark = uuid.uuid4().hex
    bad = tmp_path / "bad.ini"
    bad.write_text("[watcher:a]\nnumprocesses = 2\n")
    result = subprocess.run(
        [*CIRCUSD, str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "CIRCUS_TEST_MARK": mark},
    )
    assert result.returncode == 1
    assert "cmd" in result.stderr and "bad.ini" in result.stderr
    assert _processes_marked(mark) == []


def test_the_kernel_gets_the_configured_umask(tmp_path, runtime_dir, worker_cmd):
    """The kernel's interpreter is started before the configuration is read; it still runs
    with the ``[circus] umask`` (its workers inherit it)."""
    d = support.Circusd(tmp_path / "d", f"[watcher:a]\ncmd = {worker_cmd} sleep\n", "umask = 027")
    try:
        d.start()
        kernel = d.kernel_pid()
        assert kernel is not None
        with open(f"/proc/{kernel}/status") as handle:
            assert "Umask:\t0027\n" in handle.read()
    finally:
        d.cleanup()


def test_unimportable_names_refuse_the_start_before_anything_is_launched(
    tmp_path, runtime_dir, worker_cmd
):
    """circusd imports every hook and stream class before it launches the kernel or a worker,
    and reports every failure at once, at file:line [section] key (issue 8, item 3)."""
    d = support.Circusd(
        tmp_path / "d",
        f"""
        [watcher:a]
        cmd = {worker_cmd} sleep
        hooks.after_start = nomodule.nofunc
        stdout_stream.class = nomodule.Stream
    """,
    )
    try:
        result = run(d.config_path, cwd=d.workdir)
        assert result.returncode == 1, result
        assert f"{d.config_path}:9 [watcher:a] hooks.after_start: " in result.stderr
        assert f"{d.config_path}:10 [watcher:a] stdout_stream.class: " in result.stderr
        assert "Traceback" not in result.stderr
        assert d.kernel_pid() is None and not os.path.exists(d.papa)  # no kernel left behind
    finally:
        d.cleanup()


def test_missing_config_file(tmp_path):
    result = run(str(tmp_path / "nope.ini"))
    assert result.returncode == 1
    assert "nope.ini" in result.stderr


def test_daemon_pidfile_and_log_file(tmp_path, runtime_dir, worker_cmd):
    d = support.Circusd(
        tmp_path / "d",
        f"""
        [watcher:w]
        cmd = {worker_cmd} sleep
    """,
    )
    pidfile, logfile = tmp_path / "circusd.pid", tmp_path / "circusd.log"
    try:
        result = run(
            d.config_path,
            "--daemon",
            "--pidfile",
            str(pidfile),
            "--log-output",
            str(logfile),
            cwd=d.workdir,
        )
        assert result.returncode == 0  # the launcher returns at once
        pid = int(
            wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), message="pid file")
        )
        assert pid_alive(pid)
        assert os.getsid(pid) != os.getsid(0)  # detached into its own session
        wait_for(
            lambda: len(d.try_call("list", name="w").get("pids", [])) == 1, message="daemon serving"
        )
        wait_for(lambda: "ready" in logfile.read_text(), message="log file written")
        second = run(d.config_path, "--pidfile", str(pidfile), cwd=d.workdir)
        assert second.returncode != 0
        assert "already" in second.stderr
        d.ok("quit", stop_workers=True)
        wait_for(lambda: not pid_alive(pid), message="daemon exited")
        wait_for(lambda: not pidfile.exists(), message="pid file removed")
    finally:
        d.cleanup()
        if pidfile.exists():
            support.kill_pids([int(pidfile.read_text())])


def _daemon_that_cannot_start_says_why(d: support.Circusd, tmp_path, pidfile, expected: str):
    """--daemon detaches before circusd starts: a start that failed afterwards was only in the
    log, and the launcher exited 0 (as if the daemon were serving). Now it exits 2 saying why,
    and the log says it too; no kernel is left."""
    logfile = tmp_path / "circusd.log"
    result = run(d.config_path, "--daemon", "--pidfile", str(pidfile), "--log-output",
                 str(logfile), cwd=d.workdir)  # fmt: skip
    assert result.returncode == 2, (result, logfile.read_text())
    assert f"circusd: {expected}" in result.stderr, result.stderr
    assert expected in logfile.read_text()
    wait_for(lambda: not support.kernels_at(d.papa), timeout=5, message="no kernel left")


def test_daemon_that_cannot_start_says_why_with_exit_2(tmp_path, runtime_dir, worker_cmd):
    """A live pid in the pid file (another circusd, it says); an endpoint already served is
    test_second_circusd_on_the_same_endpoint_is_refused's."""
    d = support.Circusd(tmp_path / "d", f"[watcher:w]\ncmd = {worker_cmd} sleep\n")
    pidfile = tmp_path / "circusd.pid"
    pidfile.write_text(f"{os.getpid()}\n")
    try:
        expected = f"pid file {pidfile} holds the live pid {os.getpid()}"
        _daemon_that_cannot_start_says_why(d, tmp_path, pidfile, expected)
    finally:
        d.cleanup()


def test_logger_config_json(tmp_path, runtime_dir, worker_cmd):
    logfile = tmp_path / "custom.log"
    config = tmp_path / "logging.json"
    config.write_text(
        json.dumps(
            {
                "version": 1,
                "formatters": {"f": {"format": "CUSTOM %(levelname)s %(message)s"}},
                "handlers": {
                    "h": {
                        "class": "logging.FileHandler",
                        "filename": str(logfile),
                        "formatter": "f",
                    }
                },
                "root": {"level": "INFO", "handlers": ["h"]},
            }
        )
    )
    d = support.Circusd(
        tmp_path / "d",
        f"""
        [watcher:w]
        cmd = {worker_cmd} sleep
    """,
    )
    try:
        d.start("--logger-config", str(config))
        wait_for(
            lambda: logfile.exists() and "CUSTOM INFO" in logfile.read_text(),
            message="custom log format",
        )
    finally:
        d.cleanup()


def test_bad_log_level_is_a_clear_error(tmp_path, worker_cmd):
    config = tmp_path / "c.ini"
    config.write_text(f"[watcher:a]\ncmd = {worker_cmd} sleep\n")
    result = run(str(config), "--log-level", "chatty")
    assert result.returncode == 1
    assert "chatty" in result.stderr


def test_second_circusd_on_the_same_endpoint_is_refused(circusd, worker_cmd, tmp_path):
    """In the foreground (its config, then one with a kernel socket of its own: the kernel
    launched early for it does not stay), and with --daemon; one first circusd serving the
    endpoint, untouched."""
    body = f"[watcher:w]\ncmd = {worker_cmd} sleep\n"
    first = circusd(body)
    result = run(first.config_path, cwd=first.workdir)
    assert result.returncode == 2
    assert "already" in result.stderr

    d = support.Circusd(tmp_path / "second", body)  # its own kernel socket, first's endpoint
    d.endpoint = first.endpoint
    d.write_config(body)
    try:
        result = run(d.config_path, cwd=d.workdir)
        assert result.returncode == 2 and "already" in result.stderr, result.stderr
        wait_for(lambda: not support.kernels_at(d.papa), timeout=5, message="kernel exits")
        expected = f"another circusd is already serving {first.endpoint}"
        _daemon_that_cannot_start_says_why(d, tmp_path, tmp_path / "circusd.pid", expected)
    finally:
        d.cleanup()
    assert len(first.pids("w")) == 1  # the first one is untouched


def test_help_says_where_the_default_endpoints_are_and_how_to_keep_them_private(capsys):
    """As root the default endpoints are the shared /run/circus: --help says so and shows
    how to run a private instance (issue 8.8)."""
    result = here(capsys, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse rewraps the epilog
    for expected in ("$XDG_RUNTIME_DIR/circus", "/run/circus as root", "/tmp/circus-$UID",
                     "XDG_RUNTIME_DIR=", "endpoint =", "papa_endpoint =",
                     "circusctl --endpoint"):  # fmt: skip
        assert expected in text, expected


def test_private_instances_by_runtime_dir(tmp_path, worker_cmd, monkeypatch, capsys):
    """What --help and the README show: two circusd with default endpoints and their own
    XDG_RUNTIME_DIR run side by side; circusctl with the same variable reaches each (a
    circusctl process for the first; the others in this process, with the variable set: the
    default endpoints are computed at each call)."""
    from circus.cli import circusctl

    config = tmp_path / "c.ini"
    config.write_text(f"[watcher:w]\ncmd = {worker_cmd} sleep\n")
    started = []

    def here(env, *args: str) -> tuple[int, str]:
        monkeypatch.setenv("XDG_RUNTIME_DIR", env["XDG_RUNTIME_DIR"])
        capsys.readouterr()
        return circusctl.main(list(args)), capsys.readouterr().out

    try:
        for name in ("one", "two"):
            env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / name)}
            proc = subprocess.Popen(
                [*CIRCUSD, str(config)],
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started.append((proc, env, str(tmp_path / name / "circus" / "papa.sock")))
        for proc, env, _papa in started:
            # the control socket first: a status per poll costs more
            control = os.path.join(env["XDG_RUNTIME_DIR"], "circus", "circus.sock")
            wait_for(lambda control=control: os.path.exists(control), timeout=20,
                     message=f"{control} bound")  # fmt: skip
            wait_for(lambda env=env: here(env, "status") == (0, "w: active\n"), timeout=20,
                     message="both instances answer")  # fmt: skip
            assert proc.poll() is None
        result = subprocess.run([sys.executable, "-m", "circus.cli.circusctl", "status", "w"],
                                env=started[0][1], capture_output=True, text=True,
                                timeout=20)  # fmt: skip
        assert (result.returncode, result.stdout) == (0, "active\n"), result.stderr
    finally:
        for proc, env, papa in started:
            with contextlib.suppress(Exception):
                here(env, "quit", "--stop-workers")
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            support.kill_kernels_at(papa)
