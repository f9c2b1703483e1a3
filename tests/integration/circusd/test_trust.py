"""circusd trusts no directory and no kernel another local user could have planted (issue 7.2).

Tests run as root; the hostile user is ``nobody``. Its planted runtime directory is a
temporary one (reached through ``$XDG_RUNTIME_DIR`` or explicit endpoints), never the
machine's real ``/run/circus`` or ``/tmp/circus-0``; its fake kernel is a child process that
drops to ``nobody`` before it listens.
"""

import os
import pwd
import subprocess
import sys
import textwrap

import pytest
import support

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as nobody"),
]
CIRCUSD = support.CIRCUSD
NOBODY = pwd.getpwnam("nobody").pw_uid

#: A fake papa-kernel: binds as root (so the socket can sit in root's private directory),
#: then becomes nobody *before* listen(), so SO_PEERCRED reports nobody. It greets like papa
#: and records every byte a client sends into argv[2].
FAKE_KERNEL = textwrap.dedent("""\
    import os, socket, sys
    path, record = sys.argv[1], sys.argv[2]
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    os.chmod(path, 0o666)
    out = open(record, "ab", buffering=0)
    os.setgid(%(uid)d)
    os.setuid(%(uid)d)
    server.listen(16)
    print("listening", flush=True)
    while True:
        client, _ = server.accept()
        client.settimeout(1)
        try:  # a liveness probe hangs up at once: EPIPE
            client.sendall(b'Papa is home. Type "help" for commands.\\n> ')
            while data := client.recv(4096):
                out.write(data)
        except OSError:
            pass
        client.close()
""") % {"uid": NOBODY}


def run_circusd(config, env=None, timeout=30):
    return subprocess.run([*CIRCUSD, str(config)], capture_output=True, text=True,
                          env=env, timeout=timeout, start_new_session=True)  # fmt: skip


def write_config(path, worker_cmd, circus=""):
    path.write_text(f"[circus]\n{circus}\n[watcher:w]\ncmd = {worker_cmd} sleep\n")
    return path


@pytest.mark.parametrize("how", ["nobody", "0777", "symlink"])
def test_planted_default_runtime_dir_is_refused(tmp_path, worker_cmd, no_kernel_left, how):
    """No XDG_RUNTIME_DIR trick needed by the attacker in real life (/tmp/circus-$UID is
    predictable); here the default runtime dir is $XDG_RUNTIME_DIR/circus, planted first."""
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    runtime = xdg / "circus"
    if how == "symlink":
        (tmp_path / "theirs").mkdir(mode=0o700)
        runtime.symlink_to(tmp_path / "theirs")
        os.lchown(runtime, NOBODY, NOBODY)
    else:
        runtime.mkdir(mode=0o700)
        if how == "nobody":
            os.chown(runtime, NOBODY, NOBODY)
        else:
            runtime.chmod(0o777)
    no_kernel_left.append(str(runtime / "papa.sock"))
    config = write_config(tmp_path / "c.ini", worker_cmd)
    result = run_circusd(config, env={**os.environ, "XDG_RUNTIME_DIR": str(xdg)})
    assert result.returncode == 2, result.stderr
    assert str(runtime) in result.stderr
    expected = {"nobody": f"owned by uid {NOBODY}", "0777": "writable by group or others",
                "symlink": f"is a symlink owned by uid {NOBODY}"}[how]  # fmt: skip
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (runtime / "papa.sock").exists() and not (runtime / "circus.sock").exists()


@pytest.mark.parametrize("key", ["endpoint", "pubsub_endpoint", "papa_endpoint", "pidfile"])
def test_explicit_paths_in_an_unsafe_dir_are_refused(tmp_path, worker_cmd, runtime_dir,
                                                     no_kernel_left, key):  # fmt: skip
    safe, shared = tmp_path / "safe", tmp_path / "shared"
    safe.mkdir(mode=0o700)
    shared.mkdir()
    shared.chmod(0o777)
    values = {
        "endpoint": f"ipc://{safe}/ctl.sock",
        "pubsub_endpoint": f"ipc://{safe}/pub.sock",
        "papa_endpoint": f"{safe}/papa.sock",
        "pidfile": f"{safe}/circusd.pid",
    }
    name = {"endpoint": "ctl.sock", "pubsub_endpoint": "pub.sock", "papa_endpoint": "papa.sock",
            "pidfile": "circusd.pid"}[key]  # fmt: skip
    values[key] = values[key].replace(str(safe), str(shared))
    no_kernel_left.extend([f"{safe}/papa.sock", f"{shared}/papa.sock"])
    circus = "".join(f"{k} = {v}\n" for k, v in values.items())
    result = run_circusd(write_config(tmp_path / "c.ini", worker_cmd, circus))
    assert result.returncode == 2, result.stderr
    assert f"{shared} is writable by group or others (mode 777)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (shared / name).exists()


def test_a_kernel_of_another_user_is_refused(tmp_path, worker_cmd, no_kernel_left):
    """Even in a directory that passes the checks, the process serving papa.sock must run as
    circusd's user: circusd checks SO_PEERCRED and sends it nothing."""
    private = tmp_path / "p"
    private.mkdir(mode=0o700)
    papa, record = private / "papa.sock", tmp_path / "received"
    record.write_bytes(b"")
    no_kernel_left.append(str(papa))
    fake = subprocess.Popen([sys.executable, "-c", FAKE_KERNEL, str(papa), str(record)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert fake.stdout.readline().strip() == "listening"
        circus = (f"endpoint = ipc://{private}/ctl.sock\npubsub_endpoint = ipc://{private}/"
                  f"pub.sock\npapa_endpoint = {papa}\n")  # fmt: skip
        result = run_circusd(write_config(tmp_path / "c.ini", worker_cmd, circus))
        assert result.returncode == 2, result.stderr
        assert f"runs as uid {NOBODY}" in result.stderr and str(papa) in result.stderr
        assert "Traceback" not in result.stderr
        assert record.read_bytes() == b""  # not a single command reached it
        assert fake.poll() is None
    finally:
        fake.kill()
        fake.wait(timeout=10)
        fake.stdout.close()


def test_a_kernel_of_our_own_user_is_used(circusd, worker_cmd):
    """The check lets the normal case through (circusd's own kernel, same uid)."""
    d = circusd(f"[watcher:w]\ncmd = {worker_cmd} sleep\n")
    assert len(d.pids("w")) == 1
    assert support.pid_alive(d.kernel_pid())
