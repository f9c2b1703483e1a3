"""Runtime directories another local user could tamper with are refused (issue 7.2).

Tests run as root; the hostile user is ``nobody``: a planted directory is chowned to it, or
left group/world writable, or is a symlink. Nothing here touches the machine's real
``/tmp/circus-0`` or ``/run/circus``: every directory is a temporary one.
"""

from __future__ import annotations

import os
import pwd
import subprocess

import pytest
from kernel_helpers import KERNEL, refused_in_process

from papa_kernel import paths

NOBODY = pwd.getpwnam("nobody").pw_uid

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to plant as nobody")


def planted(parent: str, how: str) -> str:
    """A directory ``parent/circus`` prepared by a hostile user in one of three ways."""
    path = os.path.join(parent, "circus")
    if how == "symlink":
        target = os.path.join(parent, "elsewhere")
        os.mkdir(target, 0o700)
        os.symlink(target, path)
        os.lchown(path, NOBODY, NOBODY)  # planted by nobody (its target may look fine)
        return path
    os.mkdir(path, 0o700)
    if how == "nobody":
        os.chown(path, NOBODY, NOBODY)
    elif how == "0777":
        os.chmod(path, 0o777)
    elif how == "0770":
        os.chmod(path, 0o770)
    return path


EXPECTED = {
    "nobody": f"owned by uid {NOBODY}",
    "0777": "writable by group or others (mode 777)",
    "0770": "writable by group or others (mode 770)",
    "symlink": f"is a symlink owned by uid {NOBODY}",
}


@pytest.mark.parametrize("how", sorted(EXPECTED))
def test_check_private_dir_refuses_a_planted_dir(kdir, how):
    path = planted(kdir, how)
    with pytest.raises(paths.UnsafeDirectory) as caught:
        paths.ensure_private_dir(path)
    assert path in str(caught.value) and EXPECTED[how] in str(caught.value)


def test_a_missing_dir_is_created_private(kdir):
    path = os.path.join(kdir, "a", "b")
    assert paths.ensure_private_dir(path) == path
    assert os.stat(path).st_mode & 0o777 == 0o700


def test_an_ancestor_another_user_can_write_is_refused(kdir):
    hostile = os.path.join(kdir, "shared")
    os.mkdir(hostile, 0o700)
    os.chown(hostile, NOBODY, NOBODY)
    with pytest.raises(paths.UnsafeDirectory) as caught:
        paths.ensure_private_dir(os.path.join(hostile, "circus"))
    assert f"{hostile} (holding " in str(caught.value)
    assert f"owned by uid {NOBODY}" in str(caught.value)


def test_nothing_is_created_under_an_unsafe_ancestor(kdir):
    """The refusal comes before ``makedirs``: no directory of ours is left in the hostile
    one (its owner could otherwise rename or watch it)."""
    hostile = os.path.join(kdir, "shared")
    os.mkdir(hostile, 0o777)
    os.chmod(hostile, 0o777)
    with pytest.raises(paths.UnsafeDirectory, match="writable by group or others"):
        paths.ensure_private_dir(os.path.join(hostile, "circus", "deeper"))
    assert os.listdir(hostile) == []


def test_the_refusal_names_no_single_purpose(kdir):
    """The same check guards sockets, locks and pid files: the message must not say it is
    only about sockets."""
    path = planted(kdir, "0777")
    with pytest.raises(paths.UnsafeDirectory) as caught:
        paths.ensure_private_dir(path)
    assert "for sockets" not in str(caught.value)


def test_a_symlink_of_our_own_to_a_private_dir_is_fine(kdir):
    """Like /var/run -> /run: only root or we could have made it."""
    target = os.path.join(kdir, "run")
    os.mkdir(target, 0o700)
    os.symlink(target, os.path.join(kdir, "var-run"))
    paths.ensure_private_dir(os.path.join(kdir, "var-run"))


def test_a_symlink_of_our_own_to_an_unsafe_dir_is_refused(kdir):
    target = planted(kdir, "0777")
    os.symlink(target, os.path.join(kdir, "link"))
    with pytest.raises(paths.UnsafeDirectory, match="writable by group or others"):
        paths.ensure_private_dir(os.path.join(kdir, "link"))


def test_a_sticky_world_writable_ancestor_is_fine(kdir):
    sticky = os.path.join(kdir, "tmp")
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)  # like /tmp: others cannot rename what we create in it
    paths.ensure_private_dir(os.path.join(sticky, "circus-0"))


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KERNEL, *args], capture_output=True, text=True, timeout=30, env=env,
        start_new_session=True,
    )  # fmt: skip


@pytest.mark.parametrize("how", sorted(EXPECTED))
def test_kernel_refuses_an_explicit_socket_in_a_planted_dir(kdir, how, capsys):
    """circusd starts the kernel with an explicit --socket: the check must apply there too
    (the program runs for one planted directory, its main in this process for the others)."""
    directory = planted(kdir, how)
    socket_path = os.path.join(directory, "papa.sock")
    if how == "nobody":
        result = run_cli("--socket", socket_path, "--daemon")
        status, err = result.returncode, result.stderr
    else:
        status, err = refused_in_process(capsys, "--socket", socket_path, "--daemon")
    assert status == 1, err
    assert directory in err and EXPECTED[how] in err
    assert not os.path.exists(socket_path)


def test_kernel_refuses_a_planted_default_runtime_dir(kdir):
    planted(kdir, "nobody")
    result = run_cli(env={**os.environ, "XDG_RUNTIME_DIR": kdir})
    assert result.returncode == 1
    assert f"owned by uid {NOBODY}" in result.stderr


def test_kernel_refuses_a_pid_file_in_a_planted_dir(kdir):
    directory = planted(kdir, "0777")
    result = run_cli(
        "--socket", os.path.join(kdir, "k.sock"), "--pid-file", os.path.join(directory, "k.pid")
    )
    assert result.returncode == 1
    assert directory in result.stderr and "writable by group or others" in result.stderr
    assert not os.path.exists(os.path.join(kdir, "k.sock"))
