"""What circusctl prints, for tests that compare our circusctl's output with the original's.

``circusctl(OURS, endpoint, *args)`` runs our circusctl in this process (circus.cli.circusctl
.main, stdout and stderr captured): the output is what these tests check, not circusctl's
start-up (a Python start costs ~0.2 s of CPU). Any other executable (the original circusctl
0.19) runs as a process."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

#: our circusctl (run in-process by :func:`circusctl`)
OURS = [sys.executable, "-m", "circus.cli.circusctl"]
#: the original circusctl 0.19 (``make compat-venvs``), which may be missing
ORIGINAL_CIRCUSCTL = Path(__file__).resolve().parents[1] / ".venv-circus019" / "bin" / "circusctl"


def run(executable: list[str], endpoint: str, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of circusctl ``--endpoint endpoint *args``."""
    if executable == OURS:
        from circus.cli import circusctl as ours

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = ours.main(["--endpoint", endpoint, *args])
        return code, out.getvalue(), err.getvalue()
    result = subprocess.run([*executable, "--endpoint", endpoint, *args], capture_output=True,
                            text=True, timeout=30)  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def circusctl(executable: list[str], endpoint: str, *args: str) -> str:
    """circusctl's stdout, stripped; it must exit 0."""
    code, out, err = run(executable, endpoint, *args)
    assert code == 0, err
    return out.strip()
