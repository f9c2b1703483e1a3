"""``@record`` and ``@frozen_record``: small value classes without :mod:`dataclasses`.

What papa-kernel and circusd need of :mod:`dataclasses` (an ``__init__`` from the annotated
fields with their defaults, equality, a repr, frozen instances, :func:`replace`, :func:`fields`,
``field(default_factory=..., compare=False, repr=False)``) at a fraction of its cost:
dataclasses imports inspect, ast, dis and tokenize (1.1 MB of the kernel's resident memory),
and compiles generated source for every method of every class (~1 ms of CPU per class at each
start, ~10 ms for circusd's configuration model). Here the methods are closures over the
field list, made without compiling anything. The type checker sees the fields through
``dataclass_transform``, as it would a dataclass.

A plain default is shared by every instance, so it must be immutable (use
``field(default_factory=...)`` otherwise). Fields are the class's own annotations (no
inheritance of fields).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter

from papa_kernel.typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_options: object) -> Callable[[object], object]:
        return lambda decorated: decorated


MISSING: Any = object()  # no default (as dataclasses.MISSING)


class Field:
    """A field of a record, as :func:`fields` lists them (the :class:`dataclasses.Field`
    attributes the code uses: ``name``, ``default``, ``default_factory``, ``compare``)."""

    __slots__ = ("compare", "default", "default_factory", "name", "repr")

    def __init__(
        self,
        default: Any = MISSING,
        default_factory: Any = MISSING,
        compare: bool = True,
        repr: bool = True,
    ) -> None:
        self.name = ""
        self.default, self.default_factory = default, default_factory
        self.compare, self.repr = compare, repr

    def __repr__(self) -> str:
        return f"Field({self.name!r})"


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] = MISSING,
    compare: bool = True,
    repr: bool = True,
) -> Any:
    """A field with a default made per instance, or left out of equality or of the repr
    (as :func:`dataclasses.field`)."""
    return Field(default, default_factory, compare, repr)


def fields(record_or_class: object) -> tuple[Field, ...]:
    """The fields of a record class or instance, in order (as :func:`dataclasses.fields`)."""
    cls = record_or_class if isinstance(record_or_class, type) else type(record_or_class)
    return cls.__record_fields__  # type: ignore[attr-defined,no-any-return]


def is_record(value: object) -> bool:
    """True for an instance (not the class) of a record class."""
    return hasattr(type(value), "__record_fields__") and not isinstance(value, type)


def _make_fields(cls: type) -> tuple[Field, ...]:
    # not inspect.get_annotations: inspect is what this module spares the kernel
    made = []
    for name in cls.__dict__.get("__annotations__", {}):  # noqa: RUF063
        value = cls.__dict__.get(name, MISSING)
        spec = value if isinstance(value, Field) else Field(default=value)
        spec.name = name
        if spec.default is MISSING:
            if name in cls.__dict__:
                delattr(cls, name)  # a field(default_factory=...) is not a class attribute
        else:
            setattr(cls, name, spec.default)
        made.append(spec)
    return tuple(made)


def _add_methods(cls: type, frozen: bool) -> None:
    specs = _make_fields(cls)
    names = tuple(spec.name for spec in specs)
    count = len(names)
    with_default = tuple(
        (spec.name, spec.default, spec.default_factory)
        for spec in specs
        if spec.default is not MISSING or spec.default_factory is not MISSING
    )
    compared = tuple(spec.name for spec in specs if spec.compare)
    # attrgetter, not the __dict__: an instance's attributes stay in CPython's inline values
    # (a dict made for __dict__ is ~60 bytes more per instance)
    pick = attrgetter(*compared) if compared else lambda _record: ()
    shown = tuple(spec.name for spec in specs if spec.repr)
    position = {name: index for index, name in enumerate(names)}
    title = cls.__qualname__
    setter = object.__setattr__

    def __init__(self: object, *args: object, **kwargs: object) -> None:
        given = len(args)
        if given > count:
            raise TypeError(f"{title}() takes {count} positional arguments")
        for name, value in zip(names, args):  # noqa: B905 (fewer args than names)
            setter(self, name, value)
        for name, value in kwargs.items():
            if position.get(name, -1) < given:
                raise TypeError(f"{title}() got an unexpected or repeated {name!r}")
            setter(self, name, value)
        if given + len(kwargs) != count:
            for name, default, factory in with_default:
                if position[name] >= given and name not in kwargs:
                    setter(self, name, default if factory is MISSING else factory())
            missing = [
                name for name in names if position[name] >= given and not hasattr(self, name)
            ]
            if missing:
                raise TypeError(f"{title}() missing arguments {missing}")

    def __eq__(self: object, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(pick(self) == pick(other))

    def __repr__(self: object) -> str:
        return f"{title}({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"

    def __hash__(self: object) -> int:
        return hash(pick(self))

    def refuse(self: object, name: str, *_value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen {title}")

    # as a dataclass: a method the class body defines is kept (an __eq__ alone implies
    # __hash__ = None in the body, which is not an explicit __hash__)
    own = dict(cls.__dict__)
    explicit_hash = own.get("__hash__") is not None or ("__hash__" in own and "__eq__" not in own)
    cls.__record_fields__ = specs  # type: ignore[attr-defined]
    cls.__match_args__ = names  # type: ignore[attr-defined,misc]
    for name, method in (("__init__", __init__), ("__eq__", __eq__), ("__repr__", __repr__)):
        if name not in own:
            setattr(cls, name, method)
    if not explicit_hash:
        cls.__hash__ = __hash__ if frozen else None  # type: ignore[assignment,method-assign]
    if frozen:
        cls.__setattr__ = refuse  # type: ignore[method-assign]
        cls.__delattr__ = refuse  # type: ignore[method-assign,assignment]


@dataclass_transform(field_specifiers=(field,))
def record(cls: type[T]) -> type[T]:
    """A mutable value class (as ``@dataclass``)."""
    _add_methods(cls, frozen=False)
    return cls


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen_record(cls: type[T]) -> type[T]:
    """An immutable, hashable value class (as ``@dataclass(frozen=True)``)."""
    _add_methods(cls, frozen=True)
    return cls


def replace(instance: T, **changes: object) -> T:
    """A copy of the record ``instance`` with ``changes`` (as ``dataclasses.replace``)."""
    values = {spec.name: getattr(instance, spec.name) for spec in fields(instance)}
    values.update(changes)
    return type(instance)(**values)


def asdict(instance: object) -> dict[str, Any]:
    """The fields of a record as a dict, records inside it (also in lists, tuples and dicts)
    turned into dicts too (as :func:`dataclasses.asdict`)."""
    return {spec.name: _plain(getattr(instance, spec.name)) for spec in fields(instance)}


def _plain(value: Any) -> Any:
    if is_record(value):
        return asdict(value)
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_plain(item) for item in value)
    if isinstance(value, dict):
        return type(value)((_plain(key), _plain(item)) for key, item in value.items())
    return value
