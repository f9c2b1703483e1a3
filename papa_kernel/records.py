"""``@record`` and ``@frozen_record``: the kernel's small value classes, and :func:`replace`.

What the kernel needs of :mod:`dataclasses` (an ``__init__`` from the annotated fields with
their defaults, equality, a repr, frozen instances, a changed copy) without importing it:
dataclasses imports inspect, ast, dis and tokenize, 1.1 MB of the kernel's resident memory.
Defaults must be immutable (there is no ``default_factory``). The type checker sees the fields
through ``dataclass_transform``, as it would a dataclass.
"""

from __future__ import annotations

from collections.abc import Callable

from papa_kernel.typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_options: object) -> Callable[[object], object]:
        return lambda decorated: decorated


_MISSING = object()


def _fields(cls: type) -> tuple[str, ...]:
    # not inspect.get_annotations: inspect is what this module spares the kernel
    return tuple(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063


def _add_methods(cls: type, frozen: bool) -> None:
    names = _fields(cls)
    defaults = {name: cls.__dict__.get(name, _MISSING) for name in names}
    setter = object.__setattr__

    def __init__(self: object, *args: object, **kwargs: object) -> None:
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} positional arguments")
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in defaults or name in values:
                raise TypeError(f"{cls.__name__}() got an unexpected or repeated {name!r}")
            values[name] = value
        for name in names:
            value = values.get(name, defaults[name])
            if value is _MISSING:
                raise TypeError(f"{cls.__name__}() missing argument {name!r}")
            setter(self, name, value)

    def __eq__(self: object, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in names)

    def __repr__(self: object) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{cls.__name__}({shown})"

    def __hash__(self: object) -> int:
        return hash(tuple(getattr(self, name) for name in names))

    def refuse(self: object, name: str, *_value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen {cls.__name__}")

    cls.__init__ = __init__  # type: ignore[misc]
    cls.__eq__ = __eq__  # type: ignore[method-assign,assignment]
    cls.__repr__ = __repr__  # type: ignore[method-assign,assignment]
    if frozen:
        cls.__hash__ = __hash__  # type: ignore[method-assign,assignment]
        cls.__setattr__ = refuse  # type: ignore[method-assign]
        cls.__delattr__ = refuse  # type: ignore[method-assign,assignment]
    else:
        cls.__hash__ = None  # type: ignore[assignment]  # mutable and compared by value


@dataclass_transform()
def record(cls: type[T]) -> type[T]:
    """A mutable value class (as ``@dataclass``)."""
    _add_methods(cls, frozen=False)
    return cls


@dataclass_transform(frozen_default=True)
def frozen_record(cls: type[T]) -> type[T]:
    """An immutable, hashable value class (as ``@dataclass(frozen=True)``)."""
    _add_methods(cls, frozen=True)
    return cls


def replace(instance: T, **changes: object) -> T:
    """A copy of the record ``instance`` with ``changes`` (as ``dataclasses.replace``)."""
    values = {name: getattr(instance, name) for name in _fields(type(instance))}
    values.update(changes)
    return type(instance)(**values)
