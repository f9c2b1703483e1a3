"""Fds the kernel inherits from whoever started it never reach its workers."""

import os
import subprocess

import kernel_helpers
import pytest

pytestmark = pytest.mark.timeout(30)


def test_fds_inherited_from_the_launcher_do_not_leak_into_workers(kdir):
    path = os.path.join(kdir, "k.sock")
    leaked_r, leaked_w = os.pipe()
    os.set_inheritable(leaked_w, True)
    proc = subprocess.Popen(
        [*kernel_helpers.KERNEL, "--socket", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        pass_fds=(leaked_w,),
    )
    os.close(leaked_w)
    kernel = kernel_helpers.KernelProcess(proc=proc, path=path, tcp=None)
    try:
        assert proc.stdout.readline().startswith(kernel_helpers.READY_PREFIX)
        client = kernel.client()
        client.cmd("make process fds sh -c ls\\ /proc/self/fd")
        client.watch("watch processes fds")
        records = client.collect({"fds"})
        fds = sorted(int(fd) for fd in records["fds"]["out"].split())
        assert leaked_w not in fds
        assert max(fds) <= 3  # 0-2 plus the fd ls uses to read the directory
    finally:
        os.close(leaked_r)
        kernel.stop()


@pytest.mark.parametrize("level, logged", [("info", False), ("debug", True)])
def test_sealing_inherited_fds_is_logged_at_debug_only(kdir, tmp_path, level, logged):
    """make's jobserver fds are inherited by every build: not worth an INFO line per start."""
    path = os.path.join(kdir, "k.sock")
    leaked_r, leaked_w = os.pipe()
    os.set_inheritable(leaked_w, True)
    log_path = tmp_path / "kernel.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [*kernel_helpers.KERNEL, "--socket", path, "--log-level", level],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
            pass_fds=(leaked_w,),
        )
    os.close(leaked_w)
    kernel = kernel_helpers.KernelProcess(proc=proc, path=path, tcp=None)
    try:
        assert proc.stdout.readline().startswith(kernel_helpers.READY_PREFIX)
    finally:
        os.close(leaked_r)
        kernel.stop()
    assert ("close-on-exec" in log_path.read_text()) is logged
