"""Run a Python command-line tool many times without paying its start-up each time.

A test that drives ``circusctl`` fifty times spends most of its time starting Python and
importing the tool (~0.2 s of CPU per run, several seconds on a loaded machine). ``ForkingCli``
starts the tool's interpreter once, imports the tool there, and forks that warm process for
every run: each run is still a separate process with its own argv, its stdout and stderr on
their own files, its stdin from a file (or /dev/null), and the exit code the tool's own entry
script would give (``sys.exit(main())``: None is 0, a string is printed to stderr and is 1, an
uncaught exception is a traceback and 1). What is NOT the same as a fresh process: the tool's
modules are imported before the run (a tool reading the environment at import time would see
the server's environment, so runs take no ``env``; use ``subprocess`` for those).

Imported as ``cli_forker`` (tests/ is on sys.path).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import tempfile
from collections.abc import Sequence

# The server, run by the tool's own Python: requests and replies are JSON lines on two pipes.
_SERVER = r"""
import importlib, json, os, sys, traceback
requests_fd, replies_fd, path0, module, func, argv0 = sys.argv[1:7]
sys.path[0] = path0  # as `python -m` (the cwd) or `python script` (its directory) would set
main = getattr(importlib.import_module(module), func)
for warm in sys.argv[7:]:  # "module:callable" run once before forking (caches, registries)
    name, _, attr = warm.partition(":")
    getattr(importlib.import_module(name), attr)()
requests, replies = os.fdopen(int(requests_fd), "r"), os.fdopen(int(replies_fd), "w")
# What the server imported is kept out of the collector's sight: a run's collections then do
# not touch (and copy) every inherited page. The run's own objects are collected as usual.
import gc
gc.freeze()

def exit_code(value):
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1

for line in requests:
    request = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            requests.close()
            replies.close()
            null = os.open(request.get("stdin") or os.devnull, os.O_RDONLY)
            out = os.open(request["stdout"], os.O_WRONLY | os.O_TRUNC)
            err = os.open(request["stderr"], os.O_WRONLY | os.O_TRUNC)
            for fd, target in ((null, 0), (out, 1), (err, 2)):
                os.dup2(fd, target)
                os.close(fd)
            sys.argv = [argv0, *request["args"]]
            try:
                code = exit_code(main())
            except SystemExit as exc:
                code = exit_code(exc.code)
            except BaseException:
                traceback.print_exc()
                code = 1
        finally:
            for stream in (sys.stdout, sys.stderr):  # os._exit skips the interpreter's flush
                try:
                    stream.flush()
                except Exception:
                    pass
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    replies.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
    replies.flush()
"""


class ForkingCli:
    """A warm ``python`` with ``module`` imported; :meth:`run` forks it to run
    ``module.func()`` with ``sys.argv = [argv0, *args]``. Close it (or use ``with``)."""

    def __init__(
        self,
        python: str,
        module: str,
        func: str = "main",
        argv0: str | None = None,
        warm: Sequence[str] = (),
        cwd: str | os.PathLike | None = None,
        script: bool = False,
    ) -> None:
        """``script``: the tool is an entry script (``sys.path[0]`` is its directory, ``argv0``),
        else it is run like ``python -m module`` (``sys.path[0]`` is the working directory)."""
        argv0 = argv0 or module
        path0 = os.path.dirname(argv0) if script else os.path.abspath(cwd or os.getcwd())
        self._requests_r, self._requests_w = os.pipe()
        self._replies_r, self._replies_w = os.pipe()
        self._tmp = tempfile.TemporaryDirectory(prefix="cli-forker-")
        fds = [str(self._requests_r), str(self._replies_w)]
        with open(os.path.join(self._tmp.name, "server.err"), "w") as server_err:
            self.proc = subprocess.Popen(
                [python, "-c", _SERVER, *fds, path0, module, func, argv0, *warm],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=server_err,
                pass_fds=(self._requests_r, self._replies_w),
                cwd=cwd,
                start_new_session=True,
            )
        os.close(self._requests_r)
        os.close(self._replies_w)
        self._requests = os.fdopen(self._requests_w, "w")
        self._replies = os.fdopen(self._replies_r, "r")
        self._runs = 0
        self.module = module

    def run(
        self, args: Sequence[str], timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess:
        """Run the tool once with ``args``; like ``subprocess.run(capture_output=True,
        text=True, input=stdin)`` (stdin: a file holding ``stdin``, else /dev/null). Raises
        ``subprocess.TimeoutExpired`` (and ends the server) on timeout."""
        self._runs += 1
        out = os.path.join(self._tmp.name, f"{self._runs}.out")
        err = os.path.join(self._tmp.name, f"{self._runs}.err")
        for path in (out, err):
            open(path, "w").close()
        request = {"args": list(args), "stdout": out, "stderr": err}
        if stdin is not None:
            request["stdin"] = os.path.join(self._tmp.name, f"{self._runs}.in")
            with open(request["stdin"], "w") as given:
                given.write(stdin)
        self._requests.write(json.dumps(request))
        self._requests.write("\n")
        self._requests.flush()
        ready, _, _ = select.select([self._replies], [], [], timeout)
        line = self._replies.readline() if ready else ""
        if not line:
            error = self._server_error()
            self.close()
            if ready:
                raise RuntimeError(f"the {self.module} server died:\n{error}")
            raise subprocess.TimeoutExpired(list(args), timeout, error)
        code = json.loads(line)["code"]
        with open(out) as o, open(err) as e:
            return subprocess.CompletedProcess(list(args), code, o.read(), e.read())

    def _server_error(self) -> str:
        with contextlib.suppress(OSError), open(os.path.join(self._tmp.name, "server.err")) as f:
            return f.read()
        return ""

    def close(self) -> None:
        """End the server and any run still going (its process group)."""
        with contextlib.suppress(OSError):
            self._requests.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        with contextlib.suppress(OSError):
            self._replies.close()
        self._tmp.cleanup()

    def __enter__(self) -> ForkingCli:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
