"""Helpers for the stream tests (imported as ``stream_support``; this directory is on sys.path)."""

from __future__ import annotations

import os
import selectors
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ORIGINAL_PYTHON = REPO / ".venv-circus019" / "bin" / "python"

#: 2023-11-14 22:13:20 UTC; tests drive time through message timestamps, never the clock.
T0 = 1700000000.0


def msg(data: bytes, pid: int = 42, name: str = "stdout", ts: float = T0) -> dict:
    """A stream message as the watcher builds it."""
    return {"data": data, "pid": pid, "name": name, "timestamp": ts}


def run_python(code: str, *, python: str = sys.executable, timeout: float = 30, **kwargs):
    """Run ``code`` in a fresh interpreter (TZ=UTC) that imports circus from this checkout."""
    env = dict(os.environ, PYTHONPATH=str(REPO), TZ="UTC")
    env.update(kwargs.pop("env", {}))
    return subprocess.run([python, "-c", code], env=env, timeout=timeout, check=False, **kwargs)


# The warm interpreter of :class:`WarmPython`: it receives a code snippet and the write ends of
# the caller's stdout and stderr pipes (SCM_RIGHTS), forks a child that runs the snippet on them
# as ``python -c`` would, and answers with the child's exit status.
_WARM_SERVER = r"""
import os, socket, struct, sys, traceback
channel = socket.socket(fileno=int(sys.argv[1]))
for module in sys.argv[2:]:
    __import__(module)
while True:
    message, fds, _flags, _address = socket.recv_fds(channel, 1 << 20, 2)
    if not message:
        break
    pid = os.fork()
    if pid == 0:
        channel.close()
        null = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((null, 0), (fds[0], 1), (fds[1], 2)):
            os.dup2(fd, target)
            os.close(fd)
        code = 0
        try:
            exec(compile(message.decode(), "<string>", "exec"), {"__name__": "__main__"})
        except SystemExit as exc:  # as the interpreter ends on it
            if isinstance(exc.code, int) or exc.code is None:
                code = (exc.code or 0) & 0xFF
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException as exc:  # the traceback starts at the snippet, as python -c's
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
            code = 1
        for stream in (sys.stdout, sys.stderr):  # os._exit skips the interpreter's flush
            try:
                stream.flush()
            except Exception:
                code = 120  # as an interpreter whose last flush failed
        os._exit(code)
    for fd in fds:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    channel.sendall(struct.pack("i", os.waitstatus_to_exitcode(status)))
"""


class WarmPython:
    """Runs code snippets as ``run_python`` does (TZ=UTC, circus from this checkout), each in
    its own process with stdout and stderr on pipes that this process reads, without a Python
    start-up each: a warm interpreter that imported ``modules`` forks a child per snippet.

    Not the same as a fresh interpreter: ``modules`` are already imported (their import-time
    state is the parent's) and the environment is the warm one's (use ``run_python`` for
    another environment). Close it after use."""

    def __init__(self, modules: tuple[str, ...] = ()) -> None:
        self._channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ, PYTHONPATH=str(REPO), TZ="UTC")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WARM_SERVER, str(theirs.fileno()), *modules],
            env=env,
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        theirs.close()

    def run(self, code: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run ``code`` in a forked child; its stdout and stderr as bytes, its exit status."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            socket.send_fds(self._channel, [code.encode()], [out_w, err_w])
        finally:
            os.close(out_w)
            os.close(err_w)
        chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for fd in chunks:
                selector.register(fd, selectors.EVENT_READ)
            while selector.get_map():
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"the snippet did not end within {timeout} s"
                for key, _ in selector.select(remaining):
                    data = os.read(key.fd, 1 << 16)
                    if data:
                        chunks[key.fd].append(data)
                    else:
                        selector.unregister(key.fd)
                        os.close(key.fd)
        self._channel.settimeout(max(deadline - time.monotonic(), 0.1))
        (status,) = struct.unpack("i", self._channel.recv(4))
        return subprocess.CompletedProcess(
            ["<warm python>", code], status, b"".join(chunks[out_r]), b"".join(chunks[err_r])
        )

    def close(self) -> None:
        self._channel.close()  # the warm interpreter reads end of file and exits
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
