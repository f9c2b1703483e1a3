"""Bounds of every numeric option and of socket paths: a clear ``Error:``, never an internal error.

The kernel must also refuse a ``make socket`` path that it serves itself (its control socket,
however the path is spelt), otherwise ``remove sockets`` would unlink it and leave the kernel
alive but unreachable.
"""

from __future__ import annotations

import os
import pwd
import resource

import kernel_helpers
import pytest
from kernel_helpers import processes

# the tests that use only ``client`` share one kernel (tests/kernel/conftest.py)
pytestmark = [pytest.mark.timeout(60), pytest.mark.shared_kernel]

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "line, fragment",
    [
        (f"make socket s backlog={HUGE}", 'Option "backlog" must be between 0 and 2147483647'),
        ("make socket s backlog=2147483648", 'Option "backlog" must be between 0 and 2147483647'),
        ("make socket s backlog=-1", 'Option "backlog" must be between 0 and 2147483647'),
        ("make socket s backlog=²", 'Option "backlog" must be an integer'),
        ("make socket s port=65536", 'Option "port" must be between 0 and 65535'),
        (f"make socket s port={HUGE}", 'Option "port" must be between 0 and 65535'),
        ("make socket s path=/tmp/x.sock umask=512", 'Option "umask" must be between 0 and 511'),
        ("make process p bufsize=²k true", 'Option "bufsize" must be a size'),
        (f"make process p bufsize={HUGE}g true", 'Option "bufsize" must be at most 1g'),
        ("make process p bufsize=1025m true", 'Option "bufsize" must be at most 1g'),
        (f"make process p rlimit.nofile={HUGE} true", 'Option "rlimit.nofile" must be between 0'),
        ("make process p rlimit.nofile=-2 true", 'Option "rlimit.nofile" must be an integer'),
        ("make process p rlimit.nofile=² true", 'Option "rlimit.nofile" must be an integer'),
        (f"make process p uid={HUGE} true", 'Option "uid" must be between 0 and 4294967294'),
        ("make process p uid=4294967295 true", 'Option "uid" must be between 0 and 4294967294'),
        ("make process p uid=² true", 'Unknown user "²"'),
        (f"make process p gid={HUGE} true", 'Option "gid" must be between 0 and 4294967294'),
        ("make process p gid=² true", 'Unknown group "²"'),
        (
            "make process p umask=77777777777777777777 true",
            'Option "umask" must be between 000 and 777',
        ),
        ("signal ² nosuch*", 'Unknown signal "²"'),
        (f"signal {HUGE} nosuch*", f'Unknown signal number "{HUGE}"'),
    ],
)
def test_numeric_options_are_range_checked(client, line, fragment):
    error = client.error(line)
    assert fragment in error, error
    assert "internal error" not in error
    assert client.cmd("list processes") == "" and client.cmd("list sockets") == ""


def test_an_absurd_number_is_not_echoed_in_full(client):
    error = client.error("make socket s backlog=" + "9" * 4000)
    assert 'Option "backlog"' in error and len(error) < 300


@pytest.fixture
def unprivileged_kernel(kdir):
    """A kernel that is not root (root may raise hard limits): run as ``nobody`` if we are root."""
    wrapper: tuple[str, ...] = ()
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(kdir, nobody.pw_uid, nobody.pw_gid)
        wrapper = ("setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                   "--clear-groups")  # fmt: skip
    started = kernel_helpers.start_kernel(kdir, wrapper=wrapper)
    try:
        yield started
    finally:
        started.stop()


def test_rlimit_above_the_hard_limit_is_refused_before_forking(unprivileged_kernel):
    client = unprivileged_kernel.client()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    error = client.error(f"make process p rlimit.nofile={hard + 1} true")
    assert f'"rlimit.nofile={hard + 1}" is above the hard limit {hard}' in error, error
    error = client.error("make process p rlimit.nofile=unlimited true")
    assert f"above the hard limit {hard}" in error, error
    assert client.cmd("list processes") == ""


def test_limits_at_the_edges_are_accepted(client, scratch):
    assert "backlog=2147483647" in client.cmd("make socket a backlog=2147483647")
    assert "backlog=0" in client.cmd("make socket b backlog=0")
    path = os.path.join(scratch, "c.sock")
    assert "umask=511" in client.cmd(f"make socket c path={path} umask=511")
    client.cmd("make process p bufsize=1g rlimit.core=0 umask=777 true")
    assert processes(client, "p")["p"]["pid"]


def _own_socket_spellings(kernel, kdir):
    os.symlink(kdir, os.path.join(kdir, "link"))
    name = os.path.basename(kernel.path)
    os.symlink(kernel.path, os.path.join(kdir, "alias.sock"))
    return [
        kernel.path,
        os.path.join(kdir, ".", name),
        os.path.join(kdir, "link", name),
        os.path.join(kdir, "link", "..", os.path.basename(kdir), name),
        os.path.join(kdir, "alias.sock"),
    ]


def test_the_kernels_own_socket_path_is_refused(kernel, client, kdir):
    for path in _own_socket_spellings(kernel, kdir):
        error = client.error(f"make socket s5 path={path}")
        assert "the kernel's own control socket" in error and kernel.path in error, error
    assert client.cmd("list sockets") == ""
    assert client.cmd("remove sockets *") == ""
    fresh = kernel.client(timeout=5)  # still reachable
    assert fresh.cmd("version").startswith("papa-kernel")


def test_a_path_held_by_another_socket_of_the_kernel_is_refused(client, scratch):
    path = os.path.join(scratch, "app.sock")
    client.cmd(f"make socket app path={path}")
    os.symlink(scratch, os.path.join(scratch, "link"))
    for spelling in (
        os.path.join(scratch, "link", "app.sock"),
        os.path.join(scratch, ".", "app.sock"),
    ):
        assert "already been created" in client.error(f"make socket other path={spelling}")
    assert os.path.exists(path)
    assert client.cmd("list sockets").startswith("app ")
