"""The original Circus' import paths (``circus.commands``, ``circus.exc``, ``circus.util``...).

Code written for the original imports names from modules this implementation organises
differently. Each such module here is a thin façade over the module that implements the name
(no second implementation). :func:`facade` gives a façade module its ``__getattr__``:

* ``aliases`` map an original name to ``"package.module:attribute"``, imported on first use
  (so ``circus.util``, which the core imports, pulls in nothing and makes no import cycle);
  ``"package.module:function()"`` is a value computed at each access (default endpoints
  depend on the runtime directory);
* ``missing`` map an original name that has no counterpart to the reason and what to use
  instead: importing it raises :class:`NotProvidedError` (an ImportError) saying so.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from circus.util.dotted import import_dotted


class NotProvidedError(ImportError):
    """A name of the original Circus that this implementation does not provide."""


def resolve(target: str) -> Any:
    """The object named by ``"package.module:attribute"`` (called if it ends with ``()``),
    imported by :func:`circus.util.dotted.import_dotted`."""
    computed = target.endswith("()")
    value = import_dotted(target.removesuffix("()"))
    return value() if computed else value


def facade(
    module_name: str, aliases: Mapping[str, str], missing: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a façade module (see the module docstring)."""
    module_globals = sys.modules[module_name].__dict__  # the façade, being imported

    def __getattr__(name: str) -> Any:
        if name in aliases:
            value = resolve(aliases[name])
            if not aliases[name].endswith("()"):
                module_globals[name] = value  # looked up once
            return value
        if name in missing:
            raise NotProvidedError(
                f"{module_name}.{name} (original Circus) is not provided: {missing[name]}",
                name=module_name,
            )
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*module_globals, *aliases})

    return __getattr__, __dir__
