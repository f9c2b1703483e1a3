"""What a running circusd has imported (the modules it does without cost resident memory for
months): checked from inside it, by a hook, after its start-up, control calls and a task repr.
tests/unit/test_circusd_footprint.py checks the imports alone."""

import os
import sys

import pytest

pytestmark = pytest.mark.timeout(60)

HOOK = """
import os, sys

def report(watcher, arbiter, hook_name, **kwargs):
    import asyncio  # here: this module is imported with the configuration, before asyncio

    repr(asyncio.current_task())  # asyncio's repr of a task asks inspect about its callbacks
    with open(os.environ["FOOTPRINT_OUT"], "a") as out:
        out.write(" ".join(sorted(sys.modules)) + "\\n")
    return True
"""

#: module -> why circusd does without it (MB of its RSS)
NOT_IMPORTED = {
    "inspect": "asyncio's, deferred by circus.util.no_openssl.import_asyncio (1.1 with ast, dis)",
    "ast": "imported by inspect",
    "dis": "imported by inspect",
    "dataclasses": "circusd's value classes are papa_kernel.records",
    "ssl": "TLS (circus.util.no_openssl)",
    "argparse": "a command line that is not plain: help, errors (circus.cli.circusd.parse_args)",
    "gettext": "argparse",
    # the local host's socket code: a use_papa = false socket, or a reloadconfig adding a socket
    "circus.hosts.local_sockets": "the local host, or reloadconfig's check_bindable (0.15)",
    "papa_kernel.sockets": "circus.hosts.local_sockets",
}


def test_a_running_circusd_has_not_imported_what_it_does_not_use(circusd, worker_cmd, tmp_path):
    (tmp_path / "footprint_hook.py").write_text(HOOK)
    out = tmp_path / "modules"
    d = circusd(
        f"""
        [watcher:web]
        cmd = {worker_cmd} sleep
        hooks.after_start = footprint_hook.report
        hooks.before_stop = footprint_hook.report
        """,
        start=False,
    )
    d.env = {**os.environ, "PYTHONPATH": str(tmp_path), "FOOTPRINT_OUT": str(out)}
    d.start()
    for command in ("status", "stats", "list", "dstats", "listsockets"):
        d.call(command)
    d.ok("stop", name="web", waiting=True)  # its before_stop hook: after the calls
    seen = [set(line.split()) for line in out.read_text().splitlines()]
    assert len(seen) == 2 and "circus.arbiter" in seen[1]
    assert not {name: why for name, why in NOT_IMPORTED.items() if name in seen[1]}
    assert "inspect" in sys.modules  # (this test's interpreter: pytest imports it)
    # the control commands are imported when first asked for (~0.4 MB and ~5 ms for all 27):
    # those of the calls, ``list``'s search (listen, listsockets, listwatchers) and helpers
    commands = {name.rpartition(".")[2] for name in seen[1] if ".control.commands." in name}
    assert commands == {"base", "_shared", "_startstop", "status", "stats", "listen",
                        "listsockets", "listwatchers", "dstats", "stop"}  # fmt: skip
