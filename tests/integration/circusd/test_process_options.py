"""What a worker gets from its watcher's options, on both hosts: env, cwd, user, limits,
umask, shell, stdio, and ordering of commands.

The tests share one circusd (shared_daemon.py): each starts its watchers of the module's
config (``autostart = false``), which the fixture stops after it."""

import os
import pwd
import sys
import threading

import pytest
from shared_daemon import shared_circusd
from support import WORKER_CMD, wait_for

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


PAPA = ["true", "false"]
AS_NOBODY = os.geteuid() == 0 and os.access("/usr/bin/python3", os.X_OK)


def probe(out, name, options, use_papa, python=sys.executable):
    """A watcher (autostart = false) running PROBE, whose output goes to ``out``/name.json
    (``-S``: PROBE needs only the standard library; see support.WORKER_CMD)."""
    return (
        f"""
        [watcher:{name}]
        cmd = {python} -S -c "{PROBE}"
        use_papa = {use_papa}
        autostart = false
        stdout_stream.class = FileStream
        stdout_stream.filename = {out}/{name}.json
    """
        + options
    )


def config(out, workdir, venv) -> str:
    body = ""
    for papa in PAPA:
        body += probe(out, f"env-{papa}", f"""
        copy_env = true
        working_dir = {workdir}
        args = --wid=$(circus.wid) --name=$(circus.name)

        [env:env-{papa}]
        GREETING = hello $FROM_CIRCUSD
        EMPTY =
        """, papa)  # fmt: skip
        body += probe(out, f"args-{papa}", """
        args = --save "" 'c:\\' "trailing "
        """, papa)  # fmt: skip
        body += probe(out, f"clean-{papa}", "", papa)
        body += probe(out, f"venv-{papa}", f"""
        copy_env = true
        copy_path = true
        virtualenv = {venv}
        """, papa)  # fmt: skip
        if AS_NOBODY:
            body += probe(out, f"nobody-{papa}", """
        uid = nobody
        working_dir = /tmp
        rlimit_nofile = 123
            """, papa, python="/usr/bin/python3")  # fmt: skip
        body += f"""
        [watcher:unknown-{papa}]
        cmd = {WORKER_CMD} sleep
        uid = no-such-user-here
        max_retry = 0
        use_papa = {papa}
        autostart = false

        [watcher:sh-{papa}]
        cmd = echo piped | tr a-z A-Z; echo to-err >&2; sleep 3600
        shell = true
        close_child_stdout = true
        use_papa = {papa}
        autostart = false
        stdout_stream.class = FileStream
        stdout_stream.filename = {out}/sh-{papa}.out
        stderr_stream.class = FileStream
        stderr_stream.filename = {out}/sh-{papa}.err
        """
    return (
        body
        + f"""
        [watcher:w]
        cmd = {WORKER_CMD} stubborn
        graceful_timeout = 1
        numprocesses = 2
        autostart = false
    """
    )


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("options")
    workdir.chmod(0o755)
    out, wd, venv = workdir / "out", workdir / "wd", workdir / "venv"
    out.mkdir()
    wd.mkdir()
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    env = {"FROM_CIRCUSD": "inherited", "SECRET_OF_CIRCUSD": "x"}
    with shared_circusd(workdir, config(out, wd, venv), "umask = 027\n", env=env) as shared:
        shared.out, shared.wd, shared.venv, shared.site = out, wd, venv, site
        yield shared


@pytest.fixture
def shared(module_daemon):
    """The module's circusd, as it started (checked before the test, put back after)."""
    with module_daemon.test():
        yield module_daemon


def run_probe(shared, name):
    """Start watcher ``name`` and return what its probe printed."""
    out = shared.out / f"{name}.json"
    out.unlink(missing_ok=True)
    shared.daemon.ok("start", name=name, waiting=True)
    return wait_for(lambda: read_json(out), message="probe output")


def read_json(path):
    import json

    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return json.loads(text) if text.endswith("\n") else None


@pytest.mark.parametrize("use_papa", PAPA)
def test_environment_and_working_dir(shared, use_papa):
    data = run_probe(shared, f"env-{use_papa}")
    assert data["env"]["FROM_CIRCUSD"] == "inherited"
    assert data["env"]["GREETING"] == "hello inherited"
    assert data["env"]["EMPTY"] == ""
    assert data["cwd"] == str(shared.wd)
    assert data["argv"] == ["--wid=1", f"--name=env-{use_papa}"]
    assert data["stdin"] == ""  # /dev/null


@pytest.mark.parametrize("use_papa", PAPA)
def test_empty_and_backslash_arguments_reach_the_worker(shared, use_papa):
    data = run_probe(shared, f"args-{use_papa}")
    assert data["argv"] == ["--save", "", "c:\\", "trailing "]


@pytest.mark.parametrize("use_papa", PAPA)
def test_no_copy_env_gives_a_clean_environment(shared, use_papa):
    data = run_probe(shared, f"clean-{use_papa}")
    assert "SECRET_OF_CIRCUSD" not in data["env"]


@pytest.mark.parametrize("use_papa", PAPA)
def test_copy_path_and_virtualenv(shared, use_papa):
    data = run_probe(shared, f"venv-{use_papa}")
    assert str(shared.site) in data["path"]
    assert data["env"]["VIRTUAL_ENV"] == str(shared.venv)
    assert data["env"]["PATH"].startswith(str(shared.venv / "bin"))
    assert any("circus" in p or "site-packages" in p for p in data["env"]["PYTHONPATH"].split(":"))


@pytest.mark.skipif(
    not AS_NOBODY, reason="needs root to change user, and a python 'nobody' can run"
)
@pytest.mark.parametrize("use_papa", PAPA)
def test_uid_gid_umask_rlimit(shared, use_papa):
    nobody = pwd.getpwnam("nobody")
    data = run_probe(shared, f"nobody-{use_papa}")
    assert data["uid"] == nobody.pw_uid
    assert data["gid"] == nobody.pw_gid
    assert data["umask"] == 0o027
    assert data["nofile"] == [123, 123]
    assert shared.daemon.pids(f"nobody-{use_papa}")


@pytest.mark.parametrize("use_papa", PAPA)
def test_unknown_user_is_a_spawn_error_naming_it(shared, use_papa):
    d, name = shared.daemon, f"unknown-{use_papa}"
    d.call("start", name=name, waiting=True)
    wait_for(
        lambda: d.ok("status", name=name)["status"] == "stopped" and "giving up" in shared.log(),
        message="gave up",
    )
    assert "no-such-user-here" in shared.log()


@pytest.mark.parametrize("use_papa", PAPA)
def test_shell_and_closed_stdout(shared, use_papa):
    out, err = shared.out / f"sh-{use_papa}.out", shared.out / f"sh-{use_papa}.err"
    shared.daemon.ok("start", name=f"sh-{use_papa}", waiting=True)
    wait_for(lambda: err.exists() and err.read_text() == "to-err\n", message="stderr")
    assert not out.exists() or out.read_text() == ""


def test_conflicting_commands_run_one_after_the_other(shared):
    d = shared.daemon
    d.ok("start", name="w", waiting=True)
    wait_for(lambda: shared.log().count("stubborn ") >= 2, message="workers ready")
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
