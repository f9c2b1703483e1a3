"""A watcher's spawn memo: one argv and one fingerprint for every wid when the argv does not
depend on the wid (10,000 workers: built once, not 10,000 times), per wid when it does."""

from __future__ import annotations

import pytest

from circus import spawning
from circus.config import config_from_dict
from circus.errors import SpawnError


def memo_for(watcher: dict) -> tuple[spawning.SpawnMemo, object, spawning.SpawnContext]:
    config = config_from_dict({"watchers": [{"name": "w", **watcher}]}, environ={})
    return spawning.SpawnMemo(), config.watchers[0], spawning.SpawnContext.of(config, "/srv")


def test_an_argv_without_the_wid_is_built_once_and_every_wid_shares_one_fingerprint():
    memo, wconf, ctx = memo_for({"cmd": "prog --port 8080", "args": "-v"})
    fingerprints = {id(memo.current_fingerprint(wconf, ctx, wid)) for wid in (1, 2, 500)}
    assert len(fingerprints) == 1
    common = memo.common_fingerprint(wconf, ctx)
    assert common is memo.current_fingerprint(wconf, ctx, 7)
    spec = memo.spec(wconf, ctx, 9)
    assert spec.name == "circus.w.9" and spec.argv == ("prog", "--port", "8080", "-v")
    assert memo.spec(wconf, ctx, 3).argv is spec.argv  # the same tuple, built once
    assert memo.fingerprint(wconf, ctx, spec) is common
    assert spec == spawning.spawn_spec(wconf, ctx, 9)  # what the pure function says


@pytest.mark.parametrize(
    "watcher",
    [
        {"cmd": "prog --id $(circus.wid)"},
        {"cmd": "prog", "args": "--id ((circus.wid))"},
        {"cmd": "prog --id $WID"},  # the pre-0.8 spelling
        {"cmd": "prog", "args": ["--id", "$(CIRCUS.WID)"]},
    ],
)
def test_an_argv_with_the_wid_gets_its_own_argv_and_fingerprint_per_wid(watcher):
    memo, wconf, ctx = memo_for(watcher)
    assert memo.common_fingerprint(wconf, ctx) is None
    assert memo.spec(wconf, ctx, 4).argv == ("prog", "--id", "4")
    assert memo.spec(wconf, ctx, 5).argv == ("prog", "--id", "5")
    first, second = memo.current_fingerprint(wconf, ctx, 4), memo.current_fingerprint(wconf, ctx, 5)
    assert first is not None and second is not None and first["argv"] != second["argv"]
    assert memo.spec(wconf, ctx, 4) == spawning.spawn_spec(wconf, ctx, 4)


def test_a_new_configuration_gets_a_new_common_fingerprint():
    memo, wconf, ctx = memo_for({"cmd": "prog --a"})
    before = memo.common_fingerprint(wconf, ctx)
    _, changed, _ = memo_for({"cmd": "prog --b"})
    after = memo.common_fingerprint(changed, ctx)
    assert before is not None and after is not None and before["argv"] != after["argv"]
    assert memo.spec(changed, ctx, 1).argv == ("prog", "--b")


def test_an_argv_that_cannot_be_built_is_a_spawn_error_for_every_wid():
    # a substituted value that breaks the quoting: only known at spawn time
    memo, wconf, ctx = memo_for({"cmd": "prog $(circus.env.quote)", "env": {"QUOTE": "'x"}})
    assert memo.common_fingerprint(wconf, ctx) is None
    for wid in (1, 2):
        assert memo.current_fingerprint(wconf, ctx, wid) is None
        with pytest.raises(SpawnError, match="cannot split"):
            memo.spec(wconf, ctx, wid)
