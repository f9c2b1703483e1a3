"""What circusctl prints, for tests that compare our circusctl's output with the original's.

``circusctl(OURS, endpoint, *args)`` runs our circusctl in this process (circus.cli.circusctl
.main, stdout and stderr captured): the output is what these tests check, not circusctl's
start-up (a Python start costs ~0.2 s of CPU). The original circusctl 0.19 runs as a process
of its own, forked from one warm interpreter of it (:func:`original`; ~20 ms of CPU a run
instead of ~190 for a fresh one); any other executable runs as a fresh process."""

from __future__ import annotations

import atexit
import contextlib
import io
import subprocess
import sys
from pathlib import Path

from cli_forker import ForkingCli

#: our circusctl (run in-process by :func:`circusctl`)
OURS = [sys.executable, "-m", "circus.cli.circusctl"]
#: the original circusctl 0.19 (``make compat-venvs``), which may be missing
ORIGINAL_CIRCUSCTL = Path(__file__).resolve().parents[1] / ".venv-circus019" / "bin" / "circusctl"


_original: ForkingCli | None = None


def original() -> ForkingCli:
    """The original circusctl 0.19 (which must exist), warm: each :meth:`ForkingCli.run` is a
    process of its own, with its argv, outputs and exit code, forked from one interpreter that
    imported it (shared by the tests of this process, ended at exit; it ends by itself if this
    process dies: its request pipe closes). Its runs see the environment of its first use, so
    a run needing another environment starts the original afresh (``subprocess``)."""
    global _original
    if _original is None:
        atexit.register(_close_original)
    # a new one if it ended (killed by a test's subreaper, or closed by a run's time-out; not
    # closed again here: its pid, reaped, may be another process's by now)
    if _original is None or _original.proc.poll() is not None:
        # each run builds its argparse parser, whose first help formatter imports shutil
        # (with bz2 and lzma): ~3 ms of each run's ~20, done once here
        _original = ForkingCli(str(ORIGINAL_CIRCUSCTL.parent / "python"), "circus.circusctl",
                               argv0=str(ORIGINAL_CIRCUSCTL), script=True,
                               warm=("argparse:ArgumentParser",))  # fmt: skip
    return _original


def _close_original() -> None:
    if _original is not None and _original.proc.poll() is None:
        _original.close()


def run(executable: list[str], endpoint: str, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of circusctl ``--endpoint endpoint *args``."""
    if executable == OURS:
        from circus.cli import circusctl as ours

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = ours.main(["--endpoint", endpoint, *args])
        return code, out.getvalue(), err.getvalue()
    if executable == [str(ORIGINAL_CIRCUSCTL)]:
        result = original().run(["--endpoint", endpoint, *args], timeout=30)
    else:
        result = subprocess.run([*executable, "--endpoint", endpoint, *args],
                                capture_output=True, text=True, timeout=30)  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def circusctl(executable: list[str], endpoint: str, *args: str) -> str:
    """circusctl's stdout, stripped; it must exit 0."""
    code, out, err = run(executable, endpoint, *args)
    assert code == 0, err
    return out.strip()
