"""The Command base class: typed properties, validation, execution, circusctl glue.

A command is one class per module. Defining a subclass of :class:`Command` that sets its own
``name`` registers it (into :data:`REGISTRY`), as the original's metaclass did: circus' own
commands and third-party ones (written as the manual shows, imported through ``[circus]
commands``) register the same way, and a name defined twice is an error at import.
Its docstring is its wire spec and its circusctl help (first line = short description).

Commands written for the original are accepted as the manual shows them: ``properties`` may
list required property names as strings, ``options`` may give circusctl flags as the
original's ``(short, name, default, help)`` tuples, ``execute`` may be a plain function, and
``validate`` may change the dict in place and return None.

Execution model (replaces the original's tornado Futures and global "synchronized" lock):
:meth:`Command.execute` is a coroutine run on the arbiter's loop. Everything that can refuse a
command (the watcher exists, the pid belongs to it, the options are valid, the configuration file
loads...) is checked before the reply, ``waiting`` or not: the arbiter's long operations check
and take the change when they are called and return an awaitable for the rest
(:mod:`circus.control.api`). That rest goes through :meth:`Command.finish`: with ``waiting``
true the reply waits for it and carries its result; without it the reply is sent at once and it
goes on in the background. It cannot be refused; what happens to processes then (a spawn that
fails, a hook that refuses) is policy, reported in the log and by events. The arbiter serialises
conflicting operations itself, so there is no "arbiter is already running X command" error any
more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar

from circus.control import options as opt
from circus.control.api import ArbiterAPI, WatcherAPI
from circus.errors import ArgumentError, MessageError
from circus.util.tasks import TaskSet
from papa_kernel.records import frozen_record

if TYPE_CHECKING:  # commands run on circusd's loop; circusctl imports them without asyncio
    import asyncio

# Kinds of property values and their converters (value from JSON -> value for execute).
_KINDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "str": ("a string", lambda v: _require(isinstance(v, str), v, "a string")),
    "int": ("an integer", opt.to_int),
    "number": ("a number", opt.to_number),
    "bool": ("a boolean", opt.to_bool),
    "signal": ("a signal name or number", opt.to_signum),
    "object": ("an object", lambda v: _require(isinstance(v, Mapping), v, "an object")),
    "strlist": ("a list of strings", lambda v: _strlist(v)),
    "any": ("any value", lambda v: v),
}


def _require(ok: bool, value: Any, what: str) -> Any:
    if not ok:
        raise ValueError(f"expected {what}, got {value!r}")
    return value


def _strlist(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError(f"expected a list of strings, got {value!r}")


@frozen_record
class Prop:
    """One property of a command message."""

    name: str
    kind: str = "str"
    required: bool = False
    default: Any = None
    help: str = ""

    def convert(self, command: str, value: Any) -> Any:
        try:
            return _KINDS[self.kind][1](value)
        except ValueError as exc:
            if self.kind == "signal":  # the original's reason, with the detail added
                raise MessageError(f"signal invalid: {exc}") from None
            raise MessageError(
                f"message invalid {self.name!r} (command {command!r}): {exc}"
            ) from None


@frozen_record
class Flag:
    """A circusctl ``--option`` of a command: a boolean switch or an option taking a value."""

    name: str  # long option without dashes, also the key passed to message()
    help: str
    takes_value: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None


WAITING = Prop("waiting", "bool", default=False, help="reply only when the operation has finished")
WAITING_FLAG = Flag("waiting", "wait for the operation to finish before replying")
MATCH = Prop("match", "str", default="glob", help="name matching: simple, glob or regex")
MATCH_FLAG = Flag(
    "match",
    "watcher name matching method (simple, glob or regex)",
    takes_value=True,
    default="glob",
    choices=("simple", "glob", "regex"),
)


#: Owns the operations left running when no control channel does (a command executed outside
#: one, e.g. by a test).
_UNOWNED = TaskSet("background commands")
#: Who owns the operations commands leave running in the background: the controller executing
#: the command sets its own TaskSet (cancelled when circusd quits or the controller stops).
background_owner: ContextVar[TaskSet] = ContextVar("background_owner", default=_UNOWNED)


def run_in_background(awaitable: Awaitable[Any], what: str) -> asyncio.Task[Any]:
    """Run a command's operation without a client waiting for it, as a task of the
    :data:`background_owner` (which keeps it referenced, logs its failure and cancels it on
    quit)."""
    return background_owner.get().spawn(_awaited(awaitable), what)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


#: Every command class by (lower-case) name, filled by :meth:`Command.__init_subclass__`.
REGISTRY: dict[str, type[Command]] = {}
#: The modules of circus's own commands (:mod:`circus.control.commands`).
_BUILT_IN = __name__.rpartition(".")[0] + "."


def _register(cls: type[Command]) -> None:
    name = cls.name.lower()
    known = REGISTRY.get(name)
    if known is not None and known is not cls:
        raise ValueError(
            f"command {name!r} of {cls.__module__}.{cls.__qualname__} is already defined by "
            f"{known.__module__}.{known.__qualname__}"
        )
    REGISTRY[name] = cls


def _flag_from_option(option: Any) -> Flag:
    """The original's ``('', 'name', default, 'help')`` circusctl option as a :class:`Flag`."""
    _short, name, default, help_text = option
    return Flag(name, help_text, takes_value=not isinstance(default, bool), default=default)


class Command:
    """Base of every control command (see the module docstring)."""

    name: ClassVar[str] = ""
    properties: ClassVar[Sequence[Prop | str]] = ()
    flags: ClassVar[tuple[Flag, ...]] = ()
    usage: ClassVar[str] = ""  # circusctl syntax after the command name
    msg_type: ClassVar[str] = "dealer"  # "sub" for listen (not sent to the control socket)
    # The original's circusctl flags, ``(short, name, default, help)``; turned into ``flags``.
    options: ClassVar[Sequence[tuple[str, str, Any, str]]] = ()
    waiting_options: ClassVar[list[tuple[str, str, Any, str]]] = [
        ("waiting", "waiting", False, "Waiting the real end of the process")
    ]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "options" in cls.__dict__ and "flags" not in cls.__dict__:
            cls.flags = tuple(_flag_from_option(option) for option in cls.options)
        # Only a class naming itself: abstract bases have no name, and a subclass that inherits
        # its parent's name would be a second definition of that command.
        if cls.__dict__.get("name"):
            if not cls.__module__.startswith(_BUILT_IN):
                # circus's own first (they are imported on first use): a third-party command
                # that takes a built-in name is the one refused, at its own import
                from circus.control.commands import load_all

                load_all()
            _register(cls)

    # -- description -----------------------------------------------------------------------------

    @classmethod
    def help_text(cls) -> str:
        import inspect  # help only: circusd keeps inspect (with ast, dis: 1.1 MB) out

        return inspect.cleandoc(cls.__doc__ or cls.name)

    @classmethod
    def short(cls) -> str:
        return cls.help_text().splitlines()[0]

    # -- in circusd --------------------------------------------------------------------------------

    def validate(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """Check and convert the properties; return a new dict with defaults filled in.

        Missing required property -> MessageError ``message invalid 'name' is missing``;
        wrong type -> MessageError naming the property, what was expected and what came.
        Unknown properties are kept (and ignored), as in the original.
        """
        result = dict(props)
        for prop in self.properties:
            if isinstance(prop, str):  # the original's form: a required property's name
                prop = Prop(prop, "any", required=True)
            if prop.name not in props or props[prop.name] is None:
                if prop.required:
                    raise MessageError(
                        f"message invalid {prop.name!r} is missing (command {self.name!r})"
                    )
                if prop.default is not None:
                    result[prop.name] = prop.default
                else:
                    result.pop(prop.name, None)
                continue
            result[prop.name] = prop.convert(self.name, props[prop.name])
        return result

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        """Run the command; return ``None``, a dict of reply fields, or a list (``results``).

        A plain (not async) ``execute`` also works: it runs on the arbiter's loop, so it must
        not block (as in the original)."""
        raise NotImplementedError

    async def finish(
        self,
        props: Mapping[str, Any],
        awaitable: Awaitable[Any],
        transform: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Await ``awaitable`` if the client is waiting, else run it in the background."""
        if props.get("waiting"):
            result = await awaitable
            return transform(result) if transform else None
        run_in_background(awaitable, f"command {self.name!r}")
        return None

    @staticmethod
    def get_watcher(arbiter: ArbiterAPI, name: str) -> WatcherAPI:
        return arbiter.get_watcher(name)

    _get_watcher = get_watcher  # the original's name

    # -- in circusctl ------------------------------------------------------------------------------

    def make_message(self, **props: Any) -> dict[str, Any]:
        return {"command": self.name, "properties": props}

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        """Build the wire message from circusctl positional arguments and flags."""
        if args:
            raise ArgumentError(f"{self.name}: takes no arguments, got {' '.join(args)!r}")
        return self.make_message()

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        """Format a reply for circusctl (without ``--json``)."""
        if reply.get("status") == "ok":
            return "ok"
        return self.console_error(reply)

    @staticmethod
    def console_error(reply: Mapping[str, Any]) -> str:
        return f"error: {reply.get('reason')}"

    # -- helpers for subclasses --------------------------------------------------------------------

    def check_args(self, args: tuple[str, ...], low: int, high: int | None) -> None:
        if len(args) < low or (high is not None and len(args) > high):
            raise ArgumentError(f"{self.name}: invalid number of arguments")

    @staticmethod
    def flag_props(opts: Mapping[str, Any], *names: str) -> dict[str, Any]:
        """The given flags that were set (truthy, or non-default values)."""
        return {name: opts[name] for name in names if opts.get(name) not in (None, False)}
