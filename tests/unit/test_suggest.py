"""One "did you mean" matcher (circus.util.suggest) for circusctl's commands, configuration keys
and names, and stream options: there were three copies of the difflib call."""

from __future__ import annotations

import pathlib

from circus.util.suggest import close_matches, nearest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_nearest_is_case_insensitive_and_keeps_the_known_spelling():
    assert nearest("NumProcesses", ["numprocesses", "cmd"]) == "numprocesses"
    assert nearest("Web", ["web", "worker"]) == "web"
    assert nearest("numproceses", ["numprocesses", "cmd"]) == "numprocesses"
    assert nearest("zzz", ["numprocesses", "cmd"]) is None
    assert nearest("MaxBytes", ["max_bytes", "backup_count"]) == "max_bytes"


def test_close_matches_gives_the_best_few():
    commands = ["stats", "status", "start", "stop", "dstats"]
    assert close_matches("stauts", commands, 2) == ["stats", "status"]
    assert close_matches("frobnicate", commands, 2) == []


def test_difflib_is_called_in_one_place():
    users = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "circus").rglob("*.py")
        if "get_close_matches" in path.read_text()
    )
    assert users == ["circus/util/suggest.py"]
