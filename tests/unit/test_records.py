"""papa_kernel.records as circusd's value classes use it: what they take from dataclasses
(``field(default_factory=..., compare=False, repr=False)``, :func:`fields`, :func:`replace`,
:func:`asdict`) behaves as the dataclass equivalent did."""

import dataclasses

import pytest

from papa_kernel import records
from papa_kernel.records import field, frozen_record, record

pytestmark = pytest.mark.timeout(10)


def made() -> list[int]:
    return [1]


@frozen_record
class Item:
    name: str
    tags: tuple[str, ...] = ()
    extra: list[int] = field(default_factory=made)
    origin: str = field(default="?", compare=False)
    secret: str = field(default="", repr=False)


@dataclasses.dataclass(frozen=True)
class ItemDataclass:
    name: str
    tags: tuple[str, ...] = ()
    extra: list[int] = dataclasses.field(default_factory=made)
    origin: str = dataclasses.field(default="?", compare=False)
    secret: str = dataclasses.field(default="", repr=False)


@pytest.mark.parametrize("cls", [Item, ItemDataclass])
def test_a_record_behaves_as_the_dataclass(cls):
    one, two = cls("a"), cls(name="a", origin="elsewhere")
    assert one.extra == [1] and one.extra is not two.extra  # made per instance
    assert one == two  # origin is not compared
    assert hash(cls("a", extra=())) == hash(cls("a", extra=(), origin="elsewhere"))
    assert one != cls("a", ("t",)) and one != cls("b")
    assert repr(cls("a", secret="s")) == f"{cls.__name__}(name='a', tags=(), extra=[1], origin='?')"
    with pytest.raises(AttributeError):
        one.name = "b"
    for bad in (lambda: cls(), lambda: cls("a", name="b"), lambda: cls("a", bogus=1),
                lambda: cls(*"abcdef")):  # fmt: skip
        with pytest.raises(TypeError):
            bad()


def test_fields_replace_and_asdict_are_those_of_dataclasses():
    assert [f.name for f in records.fields(Item)] == [
        f.name for f in dataclasses.fields(ItemDataclass)
    ]
    assert [f.compare for f in records.fields(Item("a"))] == [True, True, True, False, True]
    extra = records.fields(Item)[2]
    assert extra.default is records.MISSING and extra.default_factory() == [1]
    assert "extra" not in Item.__dict__ and Item.tags == ()  # as a dataclass's class attributes
    changed = records.replace(Item("a", origin="x"), tags=("t",))
    assert (changed.name, changed.tags, changed.origin) == ("a", ("t",), "x")
    nested = Item("a", tags=(Item("b"),))  # type: ignore[arg-type]
    assert records.asdict(nested) == dataclasses.asdict(
        ItemDataclass("a", tags=(ItemDataclass("b"),))  # type: ignore[arg-type]
    )
    assert records.is_record(nested) and not records.is_record(Item) and not records.is_record(1)


@record
class Counter:
    count: int = 0
    seen: dict[str, int] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:  # kept, as a dataclass keeps it
        return isinstance(other, Counter) and other.count == self.count


def test_a_mutable_record_keeps_the_methods_its_class_defines():
    counter = Counter()
    counter.count += 1
    assert counter == Counter(1, {"other": 2}) and counter.seen == {}
    with pytest.raises(TypeError):
        hash(counter)  # mutable and compared by value: unhashable, as a dataclass


def test_a_record_costs_no_more_memory_than_the_dataclass():
    """Attributes set one by one stay in CPython's inline values, as a dataclass's: circusd
    keeps one record per worker (RecordedWorker), papa-kernel several. Made through
    ``__dict__`` (or compared through it), each instance carried a dict: ~60 bytes more."""
    import tracemalloc

    @frozen_record
    class Worker:
        name: str
        pid: int
        started: float

    @dataclasses.dataclass(frozen=True)
    class WorkerDataclass:
        name: str
        pid: int
        started: float

    sizes = {}
    for cls in (Worker, WorkerDataclass):
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        made = [cls("w", pid, 1.0) for pid in range(1000)]
        assert made[0] == cls("w", 0, 1.0) and hash(made[1]) == hash(cls("w", 1, 1.0))
        repr(made[2])
        sizes[cls] = (tracemalloc.get_traced_memory()[0] - before) / 1000
        tracemalloc.stop()
    assert sizes[Worker] <= sizes[WorkerDataclass] + 4, sizes
