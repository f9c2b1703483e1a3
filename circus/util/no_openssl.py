"""OpenSSL kept out of circusd (and of circushttpd without TLS): :func:`import_asyncio`
(asyncio without :mod:`ssl` until something uses TLS, and without :mod:`inspect` until
something asks it), :func:`import_deferring_ssl` (tornado's modules without :mod:`ssl`) and
:func:`sha256` (without :mod:`hashlib`'s OpenSSL).

asyncio imports :mod:`ssl` when it is imported (``base_events``, ``selector_events`` and
``sslproto`` each do ``import ssl``), and ``ssl`` loads OpenSSL: about 4.6 MB of circusd's
resident memory (libssl and libcrypto mapped and initialised, the ``ssl`` module), for TLS that
circusd itself never uses (its channels are ZeroMQ and unix sockets).

So circusd imports asyncio with ``import ssl`` failing (each of those modules then sets its
``ssl`` global to None), and then puts a :class:`DeferredSsl` in those globals: the first
attribute asked of it imports the real module, puts it back in place of the stand-in (and the
``sslproto.SSLAgainErrors`` that asyncio computes at import when ssl is there), and answers.
A hook or plugin running in circusd that uses TLS through asyncio (``ssl=True`` included) gets
it as usual, at the price of loading OpenSSL then. One attribute is answered without importing:
``SSLSocket``, which asyncio reads only for ``isinstance(sock, ssl.SSLSocket)`` in its
``sock_*`` methods (circus uses them on unix sockets): while :mod:`ssl` has not been imported,
no such socket can exist, so a class that nothing is an instance of answers truthfully.

circushttpd serves plain HTTP unless ``--certfile`` is given, but tornado's modules do
``import ssl`` (and ``from ssl import SSLError``) with no fallback: :func:`import_deferring_ssl`
imports them with the stand-in in ``sys.modules["ssl"]``, which answers the class names they
read at import (:data:`PLACEHOLDER_NAMES`: an exception to catch, annotations) with
placeholder classes, for the same reason. :func:`load_ssl` (circushttpd calls it when TLS is
configured; the stand-in calls it at the first other attribute asked) replaces the stand-in and
every placeholder in every module's globals by the real ones. Together that is ~6 ms of CPU
at every circushttpd start.

asyncio imports :mod:`inspect` (``coroutines``, ``format_helpers``, ``tasks``), which imports
:mod:`ast` and :mod:`dis`: 1.1 MB of circusd's memory, for functions asyncio calls only in
debug mode and on rare paths (``asyncio.iscoroutinefunction``, an ``ensure_future`` of an
awaitable that is not a coroutine). So those modules get a :class:`DeferredInspect` that
imports the real module at the first attribute asked of it (and puts it in their globals),
but answers ``iscoroutinefunction`` of a plain function (``add_signal_handler`` asks it),
``isfunction`` and ``unwrap`` of a function that wraps nothing (the repr of a task) itself, and
circus checks results with :func:`isawaitable`, which needs :mod:`inspect` only for
a generator.

:mod:`hashlib` loads OpenSSL too (``_hashlib``): :func:`sha256` is CPython's own
implementation, the one hashlib itself falls back to, with the same digests.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Awaitable
from typing import Any, TypeGuard

#: The asyncio modules that hold ``ssl`` as a global (CPython 3.11-3.13).
ASYNCIO_SSL_USERS = ("asyncio.base_events", "asyncio.selector_events", "asyncio.sslproto")

#: The names a module may take from the stand-in while :mod:`ssl` is not imported (tornado's
#: modules do, at import: ``from ssl import SSLError``, and ``ssl.SSLContext`` /
#: ``ssl.SSLSocket`` in their functions' annotations): each is answered with a class that
#: nothing is an instance of (no TLS object, no TLS error can exist before ssl is imported).
PLACEHOLDER_NAMES = ("SSLContext", "SSLError", "SSLObject", "SSLSocket")
_placeholders: dict[str, type] = {}


def _placeholder(name: str) -> type:
    """The stand-in class of ``ssl.<name>`` (always the same one, so :func:`load_ssl` finds
    and replaces every copy of it)."""
    if name not in _placeholders:
        bases: tuple[type, ...] = (OSError,) if name.endswith("Error") else ()
        doc = f"Stands for ssl.{name} while ssl is not imported: nothing is an instance of it."
        _placeholders[name] = type(name, bases, {"__doc__": doc, "__module__": __name__})
    return _placeholders[name]


def ssl_loaded() -> bool:
    """Whether the real :mod:`ssl` has been imported (not only this module's stand-in)."""
    module = sys.modules.get("ssl")
    return module is not None and not isinstance(module, DeferredSsl)


class DeferredSsl(types.ModuleType):
    """Stands for the :mod:`ssl` module in asyncio's (and tornado's) globals until it is
    really needed."""

    def __init__(self) -> None:
        super().__init__("ssl", "stands for the ssl module until it is used (circus)")

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):  # __path__, __spec__...: asked by the import system
            raise AttributeError(name)
        if name in PLACEHOLDER_NAMES and not ssl_loaded():
            return _placeholder(name)
        return getattr(load_ssl(), name)


_stand_in: DeferredSsl | None = None


def _ssl_stand_in() -> DeferredSsl:
    global _stand_in
    if _stand_in is None:
        _stand_in = DeferredSsl()
    return _stand_in


def load_ssl() -> types.ModuleType:
    """Import the real :mod:`ssl` and put it (and its classes) in every module's globals in
    place of the stand-in (and of the placeholder classes taken from it)."""
    if isinstance(sys.modules.get("ssl"), DeferredSsl):  # asked while deferring imports
        del sys.modules["ssl"]
    import ssl

    real = {placeholder: getattr(ssl, name) for name, placeholder in _placeholders.items()}
    for module in list(sys.modules.values()):
        names = getattr(module, "__dict__", None)
        if not isinstance(names, dict) or module is ssl:
            continue
        for key, value in list(names.items()):
            if isinstance(value, DeferredSsl):
                names[key] = ssl
            elif isinstance(value, type) and value in real:
                names[key] = real[value]
    sslproto = sys.modules.get("asyncio.sslproto")
    if sslproto is not None and not hasattr(sslproto, "SSLAgainErrors"):
        sslproto.SSLAgainErrors = (ssl.SSLWantReadError, ssl.SSLSyscallError)  # type: ignore[attr-defined]
    return ssl


CO_COROUTINE = 0x80  # inspect.CO_COROUTINE: the code flag of an ``async def`` function
#: The asyncio modules that hold ``inspect`` as a global (CPython 3.11-3.13).
ASYNCIO_INSPECT_USERS = ("asyncio.coroutines", "asyncio.format_helpers", "asyncio.tasks")


class DeferredInspect(types.ModuleType):
    """Stands for :mod:`inspect` in asyncio's globals until an attribute of it is asked."""

    def __init__(self) -> None:
        super().__init__("inspect", "stands for the inspect module until it is used (circus)")

    def __getattr__(self, name: str) -> object:
        if name == "__path__":  # asked by every "from inspect import X": not a package
            raise AttributeError(name)
        return getattr(load_inspect(), name)

    def iscoroutinefunction(self, function: object) -> bool:
        """:func:`inspect.iscoroutinefunction` for a plain function or method (asyncio asks it
        of every ``add_signal_handler`` callback) without importing inspect; anything else
        (a partial, a marked function, another callable) is asked of the real one."""
        plain = function.__func__ if isinstance(function, types.MethodType) else function
        if isinstance(plain, types.FunctionType) and not hasattr(plain, "_is_coroutine_marker"):
            return bool(plain.__code__.co_flags & CO_COROUTINE)
        if isinstance(plain, types.BuiltinFunctionType):  # print, a bound list.append...
            return False
        return bool(load_inspect().iscoroutinefunction(function))

    # the two that asyncio's repr of a task or future calls (format_helpers)
    def isfunction(self, value: object) -> bool:
        """:func:`inspect.isfunction` (which is exactly this test)."""
        return isinstance(value, types.FunctionType)

    def unwrap(self, function: Any, *, stop: Any = None) -> Any:
        """:func:`inspect.unwrap`: ``function`` itself when it wraps nothing."""
        if not hasattr(function, "__wrapped__"):
            return function
        return load_inspect().unwrap(function, stop=stop)

    # the two that tornado imports by name (tornado.ioloop, tornado.gen; tornado.util)
    def isawaitable(self, value: object) -> bool:
        """:func:`inspect.isawaitable` (:func:`isawaitable` below)."""
        return isawaitable(value)

    def getfullargspec(self, function: Any) -> Any:
        """:func:`inspect.getfullargspec`, asked of the real module when called."""
        return load_inspect().getfullargspec(function)


def load_inspect() -> types.ModuleType:
    """Import the real :mod:`inspect` and put it in asyncio's globals in place of the stand-in."""
    if isinstance(sys.modules.get("inspect"), DeferredInspect):  # asked while asyncio imports
        del sys.modules["inspect"]
    import inspect

    for name in ASYNCIO_INSPECT_USERS:
        module = sys.modules.get(name)
        if module is not None and isinstance(getattr(module, "inspect", None), DeferredInspect):
            module.inspect = inspect  # type: ignore[attr-defined]
    return inspect


def isawaitable(value: object) -> TypeGuard[Awaitable[Any]]:
    """:func:`inspect.isawaitable` without importing :mod:`inspect` but for a generator (one
    made by ``@types.coroutine`` is awaitable)."""
    if isinstance(value, types.GeneratorType):
        return load_inspect().isawaitable(value)
    return isinstance(value, Awaitable)


def import_asyncio() -> types.ModuleType:
    """Import asyncio without loading :mod:`ssl` and :mod:`inspect` (see the module doc); as
    ``import asyncio`` if it or ssl is imported already."""
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        import asyncio

        return asyncio
    deferred = "inspect" not in sys.modules
    if deferred:
        sys.modules["inspect"] = DeferredInspect()
    sys.modules["ssl"] = None  # type: ignore[assignment]  # "import ssl" raises ImportError
    try:
        import asyncio
    finally:
        del sys.modules["ssl"]
        if deferred and isinstance(sys.modules.get("inspect"), DeferredInspect):
            del sys.modules["inspect"]  # the next "import inspect" imports the real one
    stand_in = _ssl_stand_in()
    for name in ASYNCIO_SSL_USERS:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "ssl", False) is None:
            module.ssl = stand_in  # type: ignore[attr-defined]
    return asyncio


def import_deferring_ssl(*names: str) -> None:
    """Import the modules ``names`` (and what they import) with the :mod:`ssl` they import
    being the stand-in (see the module doc), for modules that ``import ssl`` without falling
    back when it fails (tornado's): they get the real module, and it is imported, only when
    something uses it. ``from ssl import X`` at import gets a placeholder class for the names
    of :data:`PLACEHOLDER_NAMES` (any other name imports ssl). asyncio is imported first with
    :func:`import_asyncio`. As a plain import if ssl is imported already."""
    import importlib

    if not ssl_loaded():
        import_asyncio()
        sys.modules["ssl"] = _ssl_stand_in()
    try:
        for name in names:
            importlib.import_module(name)
    finally:
        if isinstance(sys.modules.get("ssl"), DeferredSsl):
            del sys.modules["ssl"]  # the next "import ssl" imports the real one


def import_without_inspect(*names: str) -> None:
    """Import the modules ``names`` with a :class:`DeferredInspect` standing for
    :mod:`inspect` while they import (tornado's ``from inspect import isawaitable``,
    ``getfullargspec``): the real one is imported when something uses it. Plain imports if
    inspect is imported already."""
    import importlib

    deferred = "inspect" not in sys.modules
    if deferred:
        sys.modules["inspect"] = DeferredInspect()
    try:
        for name in names:
            importlib.import_module(name)
    finally:
        if deferred and isinstance(sys.modules.get("inspect"), DeferredInspect):
            del sys.modules["inspect"]  # the next "import inspect" imports the real one


def sha256(data: bytes) -> Any:
    """A SHA-256 hash object of ``data`` (as ``hashlib.sha256(data)``) without OpenSSL."""
    try:
        from _sha256 import sha256 as builtin  # type: ignore[import-not-found]  # CPython 3.11
    except ImportError:
        try:
            from _sha2 import sha256 as builtin  # type: ignore[import-not-found]  # 3.12 on
        except ImportError:  # another implementation: hashlib's, whatever it loads
            from hashlib import sha256 as builtin
    return builtin(data)
