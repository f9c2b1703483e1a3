#!/usr/bin/env python3
"""Run the browser unable to see the machine's network configuration change (stdlib only).

Chromium watches the routing tables and addresses over a NETLINK_ROUTE socket; when an address
appears or goes anywhere on the machine it drops its pending connections, and every request in
flight fails with ``net::ERR_NETWORK_CHANGED``: a page script that fails so never runs and the
page stays empty. The test suite changes the machine's addresses all the time (tests/netns.py
adds and removes bridges and veth pairs in the root namespace, often while the browser tests
run in another xdist worker), so the browser tests failed at random. A browser that cannot open
a NETLINK_ROUTE socket logs it and assumes the network never changes, which is what the tests
need (they only talk to 127.0.0.1).

Playwright starts this file as the browser: it installs a seccomp filter that refuses
``socket(AF_NETLINK, *, NETLINK_ROUTE)`` with EACCES (inherited by every process the browser
starts; other sockets, including netlink's other protocols, are untouched), then execs the real
browser, named by ``$NETWORK_BLIND_EXEC``, with the same arguments. On a machine where the
filter cannot be installed it says so on stderr and runs the browser as it is.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys

#: machine -> (its AUDIT_ARCH_* value, the number of the socket syscall)
ARCHES = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}
AF_NETLINK = 16
NETLINK_ROUTE = 0
# <linux/filter.h>, <linux/seccomp.h>, <linux/prctl.h>
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
# offsets in struct seccomp_data: nr, arch, then args[6] (u64, the low half first)
NR, ARCH, ARG0, ARG2 = 0, 4, 16, 32
ENV = "NETWORK_BLIND_EXEC"


def program(audit_arch: int, socket_nr: int) -> list[tuple[int, int, int, int]]:
    """The BPF filter: ``(code, jump if true, jump if false, k)``; the jumps skip forward to
    the last instruction (allow) as soon as the call is not a NETLINK_ROUTE socket."""
    return [
        (BPF_LD_W_ABS, 0, 0, ARCH),
        (BPF_JEQ_K, 0, 7, audit_arch),
        (BPF_LD_W_ABS, 0, 0, NR),
        (BPF_JEQ_K, 0, 5, socket_nr),
        (BPF_LD_W_ABS, 0, 0, ARG0),
        (BPF_JEQ_K, 0, 3, AF_NETLINK),
        (BPF_LD_W_ABS, 0, 0, ARG2),
        (BPF_JEQ_K, 0, 1, NETLINK_ROUTE),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EACCES),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]


def install() -> None:
    """Refuse NETLINK_ROUTE sockets to this process and what it runs; OSError if impossible."""
    arch = ARCHES.get(platform.machine())
    if arch is None:
        raise OSError(errno.ENOSYS, f"no filter written for {platform.machine()}")
    code = b"".join(struct.pack("HBBI", *op) for op in program(*arch))
    filters = ctypes.create_string_buffer(code)
    fprog = ctypes.create_string_buffer(
        struct.pack("HxxxxxxP", len(code) // 8, ctypes.addressof(filters))
    )
    libc = ctypes.CDLL(None, use_errno=True)
    ulong = ctypes.c_ulong
    libc.prctl.argtypes = [ctypes.c_int, ulong, ctypes.c_void_p, ulong, ulong]
    for option, arg, pointer in (
        (PR_SET_NO_NEW_PRIVS, 1, None),
        (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog)),
    ):
        if libc.prctl(option, arg, pointer, 0, 0) != 0:  # unused arguments must be 0
            err = ctypes.get_errno()
            raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def main() -> None:
    real = os.environ.get(ENV)
    if not real:
        sys.exit(f"{sys.argv[0]}: set {ENV} to the browser to run")
    try:
        install()
    except OSError as exc:
        print(f"network_blind: running {real} as it is: {exc}", file=sys.stderr)
    os.execv(real, [real, *sys.argv[1:]])


if __name__ == "__main__":
    main()
