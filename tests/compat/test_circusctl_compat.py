"""circusctl compatibility with Circus 0.19, step by step (see circusctl_scenario.STEPS).

Three runs of the same scenario, compared with the reference recorded from the ORIGINAL circusd
driven by the ORIGINAL circusctl (reference/circusctl-0.19.json):

1. original circusd + original circusctl: the recording is reproducible (checks the
   normaliser and the recording itself);
2. OUR circusd + original circusctl: our daemon speaks the original's wire protocol; every
   difference is listed in SERVER_DIFFERENCES with the reason (docs/commands.md);
3. OUR circusd + OUR circusctl: our client prints what the original printed, except the
   documented CLIENT_DIFFERENCES.

Runs 2 and 3 need our circusd (circus.cli.circusd:main); they skip with the reason while it is
missing. Watchers and sockets use ``use_papa = false`` so no kernel is started.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # circusctl_scenario

import circusctl_scenario as sc
import support
from cli_forker import ForkingCli

pytestmark = [pytest.mark.compat, pytest.mark.timeout(240)]

ORIGINAL_CIRCUSD = sc.ORIGINAL_VENV / "circusd"
ORIGINAL_CIRCUSCTL = str(sc.ORIGINAL_VENV / "circusctl")
OUR_CIRCUSD = sc.OUR_VENV / "circusd"


# Each scenario runs circusctl ~60 times: a warm, forked circusctl (tests/cli_forker.py) is the
# same program with the same argv, outputs and exit codes, without a Python start-up per step.
def original_circusctl() -> ForkingCli:
    """The original circusctl 0.19, as its entry script runs it. Each run builds its argparse
    parser, whose first help formatter imports shutil (with bz2 and lzma): done once, before
    forking (as tests/integration/control/test_circusctl.py does)."""
    python = str(sc.ORIGINAL_VENV / "python")
    return ForkingCli(python, "circus.circusctl", argv0=ORIGINAL_CIRCUSCTL, cwd=sc.REPO,
                      script=True, warm=("argparse:ArgumentParser",))  # fmt: skip


def our_circusctl() -> ForkingCli:
    """Our circusctl, as ``python -m circus.cli.circusctl`` runs it (shutil imported before
    forking, as the original's)."""
    import circus.cli.circusctl

    return ForkingCli(sys.executable, "circus.cli.circusctl", argv0=circus.cli.circusctl.__file__,
                      cwd=sc.REPO, warm=("argparse:ArgumentParser",))  # fmt: skip


KNOWN_OPTIONS = (
    "endpoint, pubsub_endpoint, stats_endpoint, check_delay, multicast_endpoint, "
    "papa_endpoint, statsd, warmup_delay, debug, commands"
)

# Differences of OUR DAEMON's replies (seen through the original circusctl): better reasons.
SERVER_DIFFERENCES: dict[str, tuple[list, str]] = {
    "globaloptions-unknown": (
        [3, "", f"'nope' not an existing option (known: {KNOWN_OPTIONS})\n"],
        "the reason lists the known options",
    ),
    "add-again": (
        [3, "", "error: 'w2' already exist\n"],
        "the original put the raw request bytes in the reason",
    ),
    "match-bad": (
        [3, "", "error: unknown match method foo (use simple, glob or regex)\n"],
        "the reason lists the methods",
    ),
    "signal-bad": (
        [
            3,
            "",
            "error: signal invalid: expected a signal name (TERM, SIGQUIT, int...) or "
            "number 1-64, got 'FOO'\n",
        ],
        "the original crashed with AttributeError and sent the raw request",
    ),
}

# Differences of OUR CIRCUSCTL (on top of the daemon's), each a deliberate fix.
CLIENT_DIFFERENCES: dict[str, tuple[list, str]] = {
    "status-unknown": (
        [3, "", "error: program nope not found\n"],
        "the original printed a bare 'error'",
    ),
    "globaloptions-unknown": (
        [3, "", f"error: 'nope' not an existing option (known: {KNOWN_OPTIONS})\n"],
        "errors always start with 'error: '",
    ),
    "json-error": (
        [
            3,
            '{"errno": 3, "id": "<ID>", "reason": "program nope not found", "status": "error", '
            '"tb": "<TB>", "time": "<TIME>"}\n',
            "",
        ],
        "--json exits 3 on an error reply (the original exited 0)",
    ),
    "match-bad": (
        [
            2,
            "",
            "usage: circusctl [options] command [args]\ncircusctl: error: argument --match: "
            "invalid choice: 'foo' (choose from 'simple', 'glob', 'regex')\n",
        ],
        "--match is checked by circusctl: a usage error",
    ),
    "usage-unknown-command": (
        [
            2,
            "",
            "usage: circusctl [options] command [args]\ncircusctl: error: unknown command "
            "'frobnicate'; circusctl --help lists the commands\n",
        ],
        "the original said 'unrecognized arguments: frobnicate', as if the command were an extra "
        "argument; ours names it, with a 'did you mean' for a misspelt one",
    ),
    "usage-arguments": (
        [2, "", "get: invalid number of arguments\nusage: circusctl get <name> <key> [<key>...]\n"],
        "wrong arguments are a usage error (exit 2, the command's usage); the original exited 1",
    ),
}


def _reference() -> dict[str, list]:
    return json.loads(sc.REFERENCE.read_text())


def _comparable(step: str, outcome: list) -> list:
    code, out, err = outcome
    if step in sc.FIRST_LINE_ONLY:
        return [code, out.splitlines()[:1], err]
    if step in sc.EXIT_CODE_ONLY:
        return [code]
    return outcome


def _expected(step: str, reference: list, *differences: dict[str, tuple[list, str]]) -> list:
    for table in reversed(differences):
        if step in table:
            return table[step][0]
    return reference


def _run(tmp: Path, circusd: Path, circusctl, ours_daemon: bool) -> dict[str, list]:
    port = support.free_port()
    config = sc.write_config(tmp, port, ours=ours_daemon)
    endpoint = f"ipc://{tmp}/ctl.sock"
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp))  # our circusd's runtime dir
    try:
        with circusctl() as cli, sc.daemon([str(circusd)], config, endpoint, env=env):
            return sc.run_scenario(cli, endpoint, str(tmp), port)
    finally:
        sc.stop_kernel(tmp / "circus")


def _needs(path: Path, what: str) -> None:
    if not path.exists():
        pytest.skip(f"{what} is missing ({path}): run `make compat-venvs` / `make`")


def _our_circusd() -> Path:
    _needs(OUR_CIRCUSD, "our circusd entry point")
    try:
        import circus.cli.circusd  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"circus.cli.circusd:main is not importable yet: {exc}")
    return OUR_CIRCUSD


def _compare(results: dict[str, list], *differences: dict[str, tuple[list, str]]) -> None:
    reference = _reference()
    mismatches = []
    for step, _args in sc.STEPS:
        want = _comparable(step, _expected(step, reference[step], *differences))
        got = _comparable(step, results[step])
        if want != got:
            mismatches.append(f"{step}:\n  expected {want!r}\n  got      {got!r}")
    assert not mismatches, "\n".join(mismatches)


def test_reference_covers_every_step():
    assert list(_reference()) == [step for step, _ in sc.STEPS]


def test_reference_is_reproducible_with_the_original(tmp_path):
    _needs(ORIGINAL_CIRCUSD, "the original circusd 0.19")
    _compare(_run(tmp_path, ORIGINAL_CIRCUSD, original_circusctl, ours_daemon=False))


def test_original_circusctl_against_our_circusd(tmp_path):
    _needs(ORIGINAL_CIRCUSD, "the original circusctl 0.19")
    circusd = _our_circusd()
    _compare(_run(tmp_path, circusd, original_circusctl, ours_daemon=True), SERVER_DIFFERENCES)


def test_our_circusctl_against_our_circusd(tmp_path):
    circusd = _our_circusd()
    _compare(
        _run(tmp_path, circusd, our_circusctl, ours_daemon=True),
        SERVER_DIFFERENCES,
        CLIENT_DIFFERENCES,
    )
