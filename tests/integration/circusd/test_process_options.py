"""What a worker gets from its watcher's options, on both hosts: env, cwd, user, limits,
umask, shell, stdio, and ordering of commands."""

import os
import pwd
import sys
import threading

import pytest
from support import wait_for

pytestmark = pytest.mark.timeout(90)

PROBE = (
    "import json, os, resource, sys; "
    "u = os.umask(0); "
    "print(json.dumps({'env': dict(os.environ), 'cwd': os.getcwd(), 'uid': os.getuid(), "
    "'gid': os.getgid(), 'umask': u, 'argv': sys.argv[1:], "
    "'nofile': resource.getrlimit(resource.RLIMIT_NOFILE), 'stdin': os.read(0, 10).decode(), "
    "'path': sys.path}), flush=True); "
    "import time; time.sleep(3600)"
)


def probe(tmp_path, name, options, use_papa, python=sys.executable):
    out = tmp_path / f"{name}.json"
    body = (
        f"""
        [watcher:{name}]
        cmd = {python} -c "{PROBE}"
        use_papa = {use_papa}
        stdout_stream.class = FileStream
        stdout_stream.filename = {out}
    """
        + options
    )
    return body, out


def read_json(path):
    import json

    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return json.loads(text) if text.endswith("\n") else None


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_environment_and_working_dir(circusd, tmp_path, use_papa, monkeypatch):
    monkeypatch.setenv("FROM_CIRCUSD", "inherited")
    workdir = tmp_path / "wd"
    workdir.mkdir()
    body, out = probe(
        tmp_path,
        "p",
        f"""
        copy_env = true
        working_dir = {workdir}
        args = --wid=$(circus.wid) --name=$(circus.name)

        [env:p]
        GREETING = hello $FROM_CIRCUSD
        EMPTY =
    """,
        use_papa,
    )
    circusd(body)
    data = wait_for(lambda: read_json(out), message="probe output")
    assert data["env"]["FROM_CIRCUSD"] == "inherited"
    assert data["env"]["GREETING"] == "hello inherited"
    assert data["env"]["EMPTY"] == ""
    assert data["cwd"] == str(workdir)
    assert data["argv"] == ["--wid=1", "--name=p"]
    assert data["stdin"] == ""  # /dev/null


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_empty_and_backslash_arguments_reach_the_worker(circusd, tmp_path, use_papa):
    body, out = probe(tmp_path, "p", """
        args = --save "" 'c:\\' "trailing "
    """, use_papa)  # fmt: skip
    circusd(body)
    data = wait_for(lambda: read_json(out), message="probe output")
    assert data["argv"] == ["--save", "", "c:\\", "trailing "]


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_no_copy_env_gives_a_clean_environment(circusd, tmp_path, use_papa, monkeypatch):
    monkeypatch.setenv("SECRET_OF_CIRCUSD", "x")
    body, out = probe(tmp_path, "p", "", use_papa)
    circusd(body)
    data = wait_for(lambda: read_json(out), message="probe output")
    assert "SECRET_OF_CIRCUSD" not in data["env"]


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_copy_path_and_virtualenv(circusd, tmp_path, use_papa):
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    body, out = probe(
        tmp_path,
        "p",
        f"""
        copy_env = true
        copy_path = true
        virtualenv = {venv}
    """,
        use_papa,
    )
    circusd(body)
    data = wait_for(lambda: read_json(out), message="probe output")
    assert str(site) in data["path"]
    assert data["env"]["VIRTUAL_ENV"] == str(venv)
    assert data["env"]["PATH"].startswith(str(venv / "bin"))
    assert any("circus" in p or "site-packages" in p for p in data["env"]["PYTHONPATH"].split(":"))


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.access("/usr/bin/python3", os.X_OK),
    reason="needs root to change user, and a python 'nobody' can run",
)
@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_uid_gid_umask_rlimit(circusd, tmp_path, use_papa):
    nobody = pwd.getpwnam("nobody")
    tmp_path.chmod(0o755)
    body, out = probe(
        tmp_path,
        "p",
        """
        uid = nobody
        working_dir = /tmp
        rlimit_nofile = 123
    """,
        use_papa,
        python="/usr/bin/python3",
    )
    d = circusd(body, circus_extra="umask = 027\n")
    data = wait_for(lambda: read_json(out), message="probe output")
    assert data["uid"] == nobody.pw_uid
    assert data["gid"] == nobody.pw_gid
    assert data["umask"] == 0o027
    assert data["nofile"] == [123, 123]
    assert d.pids("p")


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_unknown_user_is_a_spawn_error_naming_it(circusd, worker_cmd, use_papa):
    d = circusd(f"""
        [watcher:u]
        cmd = {worker_cmd} sleep
        uid = no-such-user-here
        max_retry = 0
        use_papa = {use_papa}
    """)
    wait_for(lambda: d.ok("status", name="u")["status"] == "stopped", message="gave up")
    assert "no-such-user-here" in d.log()


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_shell_and_closed_stdout(circusd, tmp_path, use_papa):
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    circusd(f"""
        [watcher:sh]
        cmd = echo piped | tr a-z A-Z; echo to-err >&2; sleep 3600
        shell = true
        close_child_stdout = true
        use_papa = {use_papa}
        stdout_stream.class = FileStream
        stdout_stream.filename = {out}
        stderr_stream.class = FileStream
        stderr_stream.filename = {err}
    """)
    wait_for(lambda: err.exists() and err.read_text() == "to-err\n", message="stderr")
    assert not out.exists() or out.read_text() == ""


def test_conflicting_commands_run_one_after_the_other(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:w]
        cmd = {worker_cmd} stubborn
        graceful_timeout = 1
        numprocesses = 2
    """)
    wait_for(lambda: d.log().count("stubborn ") >= 2, message="workers ready")
    replies = {}

    def send(command, **props):
        replies[command] = d.call(command, timeout=30, **props)

    stopper = threading.Thread(target=send, args=("stop",), kwargs={"name": "w", "waiting": True})
    stopper.start()
    wait_for(lambda: d.ok("status", name="w")["status"] == "stopping", message="stopping")
    send("incr", name="w", waiting=True)
    stopper.join(timeout=30)
    assert replies["stop"]["status"] == "ok"
    assert replies["incr"]["status"] == "ok"  # waited for the stop instead of failing
    assert d.ok("status", name="w")["status"] == "stopped"
    assert d.ok("numprocesses", name="w")["numprocesses"] == 0
