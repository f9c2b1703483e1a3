"""Record the reference outputs of the ORIGINAL circusctl 0.19 driving the ORIGINAL circusd 0.19.

Usage (from the repository root; needs .venv-circus019, see `make compat-venvs`)::

    .venv/bin/python tests/compat/record_circusctl_reference.py

Writes tests/compat/reference/circusctl-0.19.json: for every step of circusctl_scenario.STEPS,
``[exit code, stdout, stderr]`` after normalisation. test_circusctl_compat.py compares our
daemon and our circusctl against it (and checks that a new recording still gives the same).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import circusctl_scenario as sc
import support


def record(tmp: Path) -> dict[str, list]:
    port = support.free_port()
    config = sc.write_config(tmp, port, ours=False)
    endpoint = f"ipc://{tmp}/ctl.sock"
    circusctl = str(sc.ORIGINAL_VENV / "circusctl")
    with sc.daemon([str(sc.ORIGINAL_VENV / "circusd")], config, endpoint):
        return sc.run_scenario(circusctl, endpoint, str(tmp), port)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="circus-ref-") as tmp:
        results = record(Path(tmp))
    sc.REFERENCE.parent.mkdir(exist_ok=True)
    sc.REFERENCE.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
    print(f"wrote {len(results)} steps to {sc.REFERENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
