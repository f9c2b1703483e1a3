"""circus.spawn_records: the fingerprint of what a worker was spawned from, and its kernel value."""

import asyncio

import pytest

from circus import spawn_records as sr
from circus.hosts.base import OutputMode, SocketSpec, SpawnSpec
from papa_kernel import records

BASE = SpawnSpec(
    name="circus.web.1",
    argv=("python", "app.py"),
    env={"A": "1", "B": "2"},
    working_dir="/srv",
)

# A different value for every SpawnSpec field but the name (a new field must be added here).
OTHER = {
    "argv": ("python", "app.py", "--v2"),
    "executable": "/usr/bin/python3",
    "env": {"A": "1", "B": "3"},
    "working_dir": "/srv/v2",
    "uid": 1000,
    "gid": 1000,
    "umask": 0o22,
    "rlimits": {"nofile": 4096},
    "stdout": OutputMode.DEVNULL,
    "stderr": OutputMode.STDOUT,
    "sockets": ("circus.web",),
    "stdin_socket": "circus.fcgi",
    "bufsize": 4096,
}


def test_every_spawn_field_but_the_name_is_covered():
    fields = {f.name for f in records.fields(SpawnSpec)} - {"name", "stop_signal"}
    assert set(OTHER) == fields
    assert set(sr.fingerprint(BASE)) == fields | {sr.SOCKET_SPECS}


def test_a_changed_stop_signal_does_not_make_a_worker_outdated():
    quits = records.replace(BASE, stop_signal=3)  # policy: the worker need not be replaced
    assert sr.changed_fields(sr.fingerprint(BASE), sr.fingerprint(quits)) == []


@pytest.mark.parametrize("field", sorted(OTHER))
def test_a_changed_field_is_named(field):
    before = sr.fingerprint(BASE)
    after = sr.fingerprint(records.replace(BASE, **{field: OTHER[field]}))
    assert sr.changed_fields(before, after) == [field]


def test_same_spec_same_fingerprint_whatever_the_order():
    reordered = records.replace(BASE, env={"B": "2", "A": "1"}, name="circus.web.2")
    assert sr.changed_fields(sr.fingerprint(BASE), sr.fingerprint(reordered)) == []


def test_socket_definitions_count():
    web = SocketSpec(name="circus.web", host="127.0.0.1", port=8000)
    moved = records.replace(web, port=8001)
    assert sr.changed_fields(sr.fingerprint(BASE, [web]), sr.fingerprint(BASE, [moved])) == [
        sr.SOCKET_SPECS
    ]


def test_a_field_missing_from_an_old_record_counts_as_its_default():
    """A newer circusd that adds a SpawnSpec field does not call every worker outdated."""
    recorded = sr.fingerprint(BASE)
    del recorded["bufsize"]
    assert sr.changed_fields(recorded, sr.fingerprint(BASE)) == []
    bigger = sr.fingerprint(records.replace(BASE, bufsize=1 << 20))
    assert sr.changed_fields(recorded, bigger) == ["bufsize"]


def test_value_round_trip_and_size():
    fp = sr.fingerprint(BASE)
    value = sr.encode(1234, fp)
    assert sr.decode(value) == (1234, fp)
    assert " " not in value and "\n" not in value and len(value) < 400
    assert sr.record_name("circus.web%2Ex.3") == "circus.spawned.web%2Ex.3"


@pytest.mark.parametrize("value", ["", "2,pid=1,argv=ab", "1,argv=ab", "1,pid=x", "1,pid=1,junk"])
def test_garbled_or_foreign_values_are_unknown(value):
    assert sr.decode(value) is None


def test_load_match_and_drop_stale():
    class Host:
        values: dict[str, str] = {}

        async def get_values(self, prefix=""):
            return {k: v for k, v in self.values.items() if k.startswith(prefix)}

        async def set_value(self, name, value):
            if value is None:
                self.values.pop(name, None)
            else:
                self.values[name] = value

    host = Host()
    fp = sr.fingerprint(BASE)
    host.values = {
        "circus.spawned.web.1": sr.encode(10, fp),
        "circus.spawned.web.2": sr.encode(11, fp),
        "circus.spawned.gone.1": sr.encode(12, fp),
        "circus.spawned.web.3": "garbage",
        "circus.other": "not ours",
    }
    records = asyncio.run(sr.load(host))
    assert sr.match(records, "circus.web.1", 10) == fp
    assert sr.match(records, "circus.web.2", 99) is None  # another process of that wid
    assert sr.match(records, "circus.web.3", 13) is None
    asyncio.run(sr.drop_stale(host, records, kept={"circus.web.1"}))
    assert host.values == {"circus.spawned.web.1": sr.encode(10, fp), "circus.other": "not ours"}


def test_memo_reuses_the_digest_of_the_same_object_only():
    memo: sr.DigestMemo = {}
    first = sr.fingerprint(BASE, memo=memo)
    assert memo["env"][0] is BASE.env
    same_env = records.replace(BASE, name="circus.web.2")  # the same env object
    assert sr.fingerprint(same_env, memo=memo) == first
    equal_copy = records.replace(BASE, env=dict(BASE.env))
    assert sr.fingerprint(equal_copy, memo=memo) == first
    changed = records.replace(BASE, env={"A": "1"})
    assert sr.changed_fields(first, sr.fingerprint(changed, memo=memo)) == ["env"]
