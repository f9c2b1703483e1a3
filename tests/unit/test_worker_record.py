"""circusd's on-disk journal of kernel-hosted workers (circus.worker_record)."""

import asyncio
import os

import pytest

from circus import worker_record
from circus.worker_record import RecordedWorker, WorkerRecord, load_record

pytestmark = pytest.mark.timeout(30)


def worker(i: int) -> RecordedWorker:
    return RecordedWorker(f"circus.web.{i}", 1000 + i, 1700000000.25 + i)


def run(record: WorkerRecord, changes) -> None:
    """Apply ``changes`` (callables) on a loop, one loop turn each, then flush."""

    async def main():
        for change in changes:
            change()
            await asyncio.sleep(0)
        record.flush()

    asyncio.run(main())


def test_changes_are_journaled_and_replayed(tmp_path):
    path = str(tmp_path / "papa.sock.workers")
    record = WorkerRecord(path)
    run(
        record,
        [
            lambda: record.added(worker(1)),
            lambda: record.added(worker(2)),
            lambda: record.removed("circus.web.1"),
            lambda: record.added(worker(3)),
        ],
    )
    assert sorted(load_record(path), key=lambda w: w.name) == [worker(2), worker(3)]
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["papa.sock.workers"]  # no temporary file left
    record.close()
    assert sorted(load_record(path), key=lambda w: w.name) == [worker(2), worker(3)]


def test_one_write_per_loop_turn_and_compaction(tmp_path, monkeypatch):
    path = str(tmp_path / "papa.sock.workers")
    record = WorkerRecord(path)
    writes = []
    real_write = os.write
    monkeypatch.setattr(
        worker_record.os, "write", lambda fd, b: writes.append(b) or real_write(fd, b)
    )

    def burst():
        for i in range(100):
            record.added(worker(i))

    run(record, [burst])
    assert len(writes) == 1  # the first flush writes the whole record
    run(record, [lambda: record.removed("circus.web.5"), lambda: record.added(worker(5))])
    assert len(writes) == 3  # then one append per loop turn
    churn = [lambda: (record.removed("circus.web.7"), record.added(worker(7)))] * 400
    run(record, churn)
    with open(path, "rb") as f:
        lines = f.read().count(b"\n")
    assert lines <= 2 * 100 + worker_record.COMPACT_SLACK + 1  # compacted on the way
    assert len(load_record(path)) == 100


def test_workers_adopted_before_the_first_write_are_encoded_once(tmp_path, monkeypatch):
    """The first write is the whole record: a journal line made for each adopted worker
    before it was thrown away (10,000 workers: 61 -> 29 ms of circusd CPU at reattach)."""
    record = WorkerRecord(str(tmp_path / "papa.sock.workers"))
    encoded = []
    real_line = worker_record._line
    monkeypatch.setattr(worker_record, "_line", lambda *e: encoded.append(e) or real_line(*e))
    run(record, [lambda: [record.added(worker(i)) for i in range(50)]])
    assert len(encoded) == 50 and len(load_record(record.path)) == 50
    run(record, [lambda: record.removed("circus.web.3")])  # appended: one line
    assert len(encoded) == 51 and len(load_record(record.path)) == 49
    record.close()


def test_a_new_record_replaces_the_previous_one_at_its_first_write(tmp_path):
    path = str(tmp_path / "papa.sock.workers")
    old = WorkerRecord(path)
    run(old, [lambda: old.added(worker(1))])
    new = WorkerRecord(path)
    assert load_record(path) == [worker(1)]  # untouched until the new one writes
    run(new, [lambda: new.added(worker(2))])
    assert load_record(path) == [worker(2)]


def test_no_record_is_an_empty_one(tmp_path):
    assert load_record(str(tmp_path / "missing")) == []


@pytest.mark.parametrize(
    "plant",
    [
        lambda p: (p.write_bytes(worker_record.HEADER), p.chmod(0o666)),
        lambda p: p.symlink_to(p.parent / "elsewhere"),
        lambda p: p.write_text("not json"),
        lambda p: p.write_bytes(worker_record.HEADER + b'["?", 1]\n'),
        # read in one parse: two changes on one line must still be refused, as line by line
        lambda p: p.write_bytes(
            worker_record.HEADER + b'["+", "circus.x.1", 1, 0], ["+", "circus.x.2", 2, 0]\n'
        ),
        lambda p: p.write_bytes(b'{"circus-worker-record": 99}\n'),
        lambda p: p.mkdir(),
    ],
    ids=[
        "world-writable",
        "symlink",
        "garbage",
        "bad-line",
        "two-on-a-line",
        "other-version",
        "directory",
    ],
)
def test_an_untrusted_or_foreign_record_is_ignored(tmp_path, caplog, plant):
    (tmp_path / "elsewhere").write_bytes(worker_record.HEADER + b'["+", "circus.x.1", 1, 0]\n')
    path = tmp_path / "papa.sock.workers"
    plant(path)
    assert load_record(str(path)) == []
    assert "worker record" in caplog.text and "ignored" in caplog.text


def test_a_record_owned_by_another_user_is_ignored(tmp_path, caplog):
    if os.geteuid() != 0:
        pytest.skip("needs root to plant a file owned by someone else")
    path = tmp_path / "papa.sock.workers"
    path.write_bytes(worker_record.HEADER + b'["+", "circus.x.1", 1, 0]\n')
    path.chmod(0o600)
    os.chown(path, 65534, 65534)
    assert load_record(str(path)) == []
    assert "owned by uid 65534" in caplog.text
