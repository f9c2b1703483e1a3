"""How children are started: environment, directory, umask, user, rlimits, session, fds.

The first half drives the kernel; the second half calls :func:`papa_kernel.spawn.spawn`
directly, as circusd's LocalHost does.
"""

from __future__ import annotations

import os
import pwd
import resource
import select
import signal
import sys

import pytest

from papa_kernel.errors import SpawnError
from papa_kernel.spawn import CAPTURE, DEVNULL, STDOUT, SpawnRequest, spawn

# the tests that use only ``client`` share one kernel (tests/kernel/conftest.py)
pytestmark = pytest.mark.shared_kernel


def run(client, name: str, options: str, command: str) -> dict:
    client.watch(f"make process {name} watch=1 {options} {command}")
    result = client.collect({name})[name]
    assert client.batch() == "Nothing left to watch"
    return result


def test_environment_is_only_what_is_given(client):
    out = run(client, "e", r"env.FOO=bar env.EMPTY= env.SP=a\ b", "env")["out"]
    assert sorted(out.decode().split("\n")[:-1]) == ["EMPTY=", "FOO=bar", "SP=a b"]


def test_working_dir_and_umask(client, scratch):
    out = run(client, "wd", f"working_dir={scratch} umask=027", r"sh -c pwd;\ umask")["out"]
    assert out.decode().split() == [scratch, "0027"]
    kernel_side = run(client, "wd2", "", r"sh -c umask")["out"]
    assert kernel_side != b"0027\n"  # the kernel's own umask was restored


def test_relative_program_resolved_in_working_dir(client, scratch):
    script = os.path.join(scratch, "hello.sh")
    with open(script, "w") as handle:
        handle.write("#!/bin/sh\necho relative\n")
    os.chmod(script, 0o755)
    assert run(client, "rel", f"working_dir={scratch}", "./hello.sh")["out"] == b"relative\n"


def test_rlimits(client):
    result = run(
        client, "rl", "rlimit.nofile=256 rlimit.core=unlimited", r"sh -c ulimit\ -n;\ ulimit\ -c"
    )
    assert result["out"] == b"256\nunlimited\n"


def test_executable_option_keeps_argv0(client):
    out = run(client, "ex", "executable=/bin/sh", r"fancy-name -c echo\ $0")["out"]
    assert out == b"fancy-name\n"


def test_shell_option(client):
    result = run(client, "sh1", "shell=1", r"echo\ from\ shell;\ echo\ $0")
    assert result["out"] == b"from shell\n/bin/sh\n"
    client.cmd("make process sh0 shell=0 true")  # papa 1.0.6 took shell=0 as true
    assert "shell=True" not in client.cmd("l p sh0")


@pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")
def test_uid_and_gid(client):
    nobody = pwd.getpwnam("nobody")
    result = run(client, "who", "uid=nobody", r"sh -c id\ -u;\ id\ -g")
    assert result["out"].decode().split() == [str(nobody.pw_uid), str(nobody.pw_gid)]
    line = client.cmd(f"make process who2 uid={nobody.pw_uid} gid=0 sleep 30")
    assert f"uid={nobody.pw_uid} gid=0" in line


def test_child_starts_clean(client):
    script = (
        r"sh -c readlink\ /proc/self/fd/0;\ grep\ -E\ '^(SigBlk|SigIgn)'\ /proc/self/status;"
        r"\ ls\ /proc/self/fd;\ ps\ -o\ sid=,pgid=\ -p\ $$;\ echo\ $$"
    )
    lines = run(client, "clean", "", script)["out"].decode().split("\n")
    assert lines[0] == "/dev/null"
    assert lines[1].split() == ["SigBlk:", "0000000000000000"]
    ignored = int(lines[2].split()[1], 16)
    for signum in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGHUP):  # back to default
        assert not ignored & (1 << (signum - 1)), signum
    pid = lines[-2]
    fd_list = lines[3:-3]
    assert set(fd_list) <= {"0", "1", "2", "3"}  # 3 is ls's own directory fd
    assert lines[-3].split() == [pid, pid]  # its own session and process group


def test_kernel_fds_do_not_leak_into_fork_path_children(client):
    client.cmd("make socket leak")
    out = run(client, "fp", "rlimit.nofile=512", r"ls /proc/self/fd")["out"].split()
    assert set(out) <= {b"0", b"1", b"2", b"3"}


def test_exec_error_in_fork_path(client, scratch):
    assert "/nonexistent/prog" in client.error("make process x rlimit.nofile=64 /nonexistent/prog")
    missing = os.path.join(scratch, "missing")
    message = client.error(f"make process y rlimit.nofile=64 working_dir={missing} sh")
    assert f'working_dir "{missing}"' in message
    assert client.cmd("l p") == ""


# -- the spawn() function used directly ---------------------------------------------------
def read_all(fd: int) -> bytes:
    data = b""
    while True:
        select.select([fd], [], [], 10)
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if not chunk:
            return data
        data += chunk


def wait_pidfd(spawned) -> int:
    select.select([spawned.pidfd], [], [], 10)
    _pid, status = os.waitpid(spawned.pid, 0)
    os.close(spawned.pidfd)
    return os.waitstatus_to_exitcode(status)


def test_spawn_api_captures_and_reports_exit():
    spawned = spawn(SpawnRequest(argv=("sh", "-c", "echo out; echo err >&2; exit 5")))
    assert spawned.pidfd is not None
    assert read_all(spawned.stdout) == b"out\n"
    assert read_all(spawned.stderr) == b"err\n"
    os.close(spawned.stdout)
    os.close(spawned.stderr)
    assert wait_pidfd(spawned) == 5


def test_spawn_api_modes_and_fork_path():
    request = SpawnRequest(
        argv=("sh", "-c", "ulimit -n; echo e >&2"),
        rlimits={resource.RLIMIT_NOFILE: 100},
        stdout=CAPTURE,
        stderr=STDOUT,
    )
    spawned = spawn(request)
    assert spawned.stderr is None
    assert read_all(spawned.stdout) == b"100\ne\n"
    os.close(spawned.stdout)
    assert wait_pidfd(spawned) == 0
    quiet = spawn(SpawnRequest(argv=("true",), stdout=DEVNULL, stderr=DEVNULL), use_pidfd=False)
    assert quiet.stdout is None and quiet.stderr is None and quiet.pidfd is None
    assert os.waitpid(quiet.pid, 0)[1] == 0


def test_spawn_api_errors_leave_nothing_behind():
    warm = spawn(SpawnRequest(argv=("true",), stdout=DEVNULL, stderr=DEVNULL), use_pidfd=False)
    os.waitpid(warm.pid, 0)  # (spawn keeps one /dev/null fd open for all children)
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(SpawnError, match="nonexistent"):
        spawn(SpawnRequest(argv=("/nonexistent",)))
    with pytest.raises(SpawnError, match="working_dir"):
        spawn(SpawnRequest(argv=("true",), working_dir="/nonexistent-dir"))
    with pytest.raises(SpawnError, match="working_dir"):
        spawn(
            SpawnRequest(
                argv=("true",), working_dir="/nonexistent-dir", rlimits={resource.RLIMIT_CORE: 0}
            )
        )
    with pytest.raises(SpawnError, match="embedded null"):
        spawn(SpawnRequest(argv=("true", "a\0b")))
    with pytest.raises(SpawnError, match="no program"):
        spawn(SpawnRequest(argv=()))
    assert set(os.listdir("/proc/self/fd")) == before
    assert os.getcwd() == os.path.abspath(".")


PASS_FD_SCRIPT = "import os, sys; os.write(int(sys.argv[1]), b'through\\n')"


def test_spawn_api_pass_fds_and_signal_defaults():
    read_end, write_end = os.pipe()
    try:
        spawned = spawn(
            SpawnRequest(
                argv=(sys.executable, "-c", PASS_FD_SCRIPT, str(write_end)),
                pass_fds=(write_end,),
                stdout=DEVNULL,
                stderr=DEVNULL,
            )
        )
        assert os.get_inheritable(write_end) is False  # restored after the spawn
        assert wait_pidfd(spawned) == 0
        os.close(write_end)
        write_end = -1
        assert read_all(read_end) == b"through\n"
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    # the kernel ignores SIGPIPE (Python does); the child must not inherit that
    killed = spawn(SpawnRequest(argv=("sh", "-c", "kill -PIPE $$"), stdout=DEVNULL, stderr=DEVNULL))
    assert wait_pidfd(killed) == -signal.SIGPIPE


@pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")
def test_numeric_uid_without_passwd_entry_drops_supplementary_groups(client):
    result = run(client, "ghost", "uid=54321 gid=54321", r"sh -c id\ -u;\ id\ -G")
    assert result["out"].decode().split() == ["54321", "54321"]
