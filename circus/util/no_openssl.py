"""OpenSSL kept out of circusd: :func:`import_asyncio` (asyncio without :mod:`ssl` until
something uses TLS) and :func:`sha256` (without :mod:`hashlib`'s OpenSSL).

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

:mod:`hashlib` loads OpenSSL too (``_hashlib``): :func:`sha256` is CPython's own
implementation, the one hashlib itself falls back to, with the same digests.
"""

from __future__ import annotations

import sys
import types
from typing import Any

#: The asyncio modules that hold ``ssl`` as a global (CPython 3.11-3.13).
ASYNCIO_SSL_USERS = ("asyncio.base_events", "asyncio.selector_events", "asyncio.sslproto")


class _NoSslSocket:
    """Stands for ``ssl.SSLSocket`` while ssl is not imported: nothing is an instance of it."""


class DeferredSsl(types.ModuleType):
    """Stands for the :mod:`ssl` module in asyncio's globals until it is really needed."""

    def __init__(self) -> None:
        super().__init__("ssl", "stands for the ssl module until it is used (circus)")

    def __getattr__(self, name: str) -> object:
        if name == "SSLSocket" and "ssl" not in sys.modules:
            return _NoSslSocket
        return getattr(load_ssl(), name)


def load_ssl() -> types.ModuleType:
    """Import the real :mod:`ssl` and put it in asyncio's globals in place of the stand-in."""
    import ssl

    for name in ASYNCIO_SSL_USERS:
        module = sys.modules.get(name)
        if module is not None and isinstance(getattr(module, "ssl", None), DeferredSsl):
            module.ssl = ssl  # type: ignore[attr-defined]
    sslproto = sys.modules.get("asyncio.sslproto")
    if sslproto is not None and not hasattr(sslproto, "SSLAgainErrors"):
        sslproto.SSLAgainErrors = (ssl.SSLWantReadError, ssl.SSLSyscallError)  # type: ignore[attr-defined]
    return ssl


def import_asyncio() -> types.ModuleType:
    """Import asyncio without loading :mod:`ssl` (see the module doc); as ``import asyncio``
    if either is imported already."""
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        import asyncio

        return asyncio
    sys.modules["ssl"] = None  # type: ignore[assignment]  # "import ssl" raises ImportError
    try:
        import asyncio
    finally:
        del sys.modules["ssl"]
    stand_in = DeferredSsl()
    for name in ASYNCIO_SSL_USERS:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "ssl", False) is None:
            module.ssl = stand_in  # type: ignore[attr-defined]
    return asyncio


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
