"""Importing what a dotted name such as ``package.module.function`` refers to.

The one implementation behind hooks (:mod:`circus.hooks`), stream classes
(:mod:`circus.streams.build`) and the start-up check of every name a configuration refers to
(:mod:`circus.config.names`): a name that passes the check is the name run time imports.
"""

from __future__ import annotations

import importlib
from typing import Any


def import_module(name: str) -> Any:
    """The module ``package.module``; :class:`ValueError` with a one-line reason if it cannot be
    imported (an error raised by the module's own code is reported, never propagated)."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # user code may raise anything at import time
        raise ValueError(f"cannot import module {name!r}: {type(exc).__name__}: {exc}") from None


def import_dotted(path: str) -> Any:
    """The object ``package.module.name`` (or ``package.module:name``) names.

    Importing runs the module's top-level code. Raises :class:`ValueError` with a one-line
    reason (not a dotted name; the module cannot be imported, and why; no such attribute); an
    error raised by the module's own code is reported, never propagated.
    """
    text = str(path).strip()
    if ":" in text:
        module_name, _, attribute = text.partition(":")
    else:
        module_name, _, attribute = text.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(f"{text!r} is not a dotted name such as 'package.module.name'")
    target: Any = import_module(module_name)
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from None
    return target


def import_callable(path: str) -> Any:
    """Like :func:`import_dotted`, and the object must be callable (a function or a class)."""
    target = import_dotted(path)
    if not callable(target):
        raise ValueError(f"{str(path).strip()!r} is not callable (a {type(target).__name__})")
    return target
