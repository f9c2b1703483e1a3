"""The :mod:`typing` names the kernel's annotations use, without importing :mod:`typing`.

Every kernel module has ``from __future__ import annotations``, so annotations are never
evaluated; only base classes are. :mod:`typing` (with the :mod:`re` it compiles patterns with)
would be 0.4 MB of the kernel's resident memory for that, so at run time a protocol is a plain
base class and a typed dict a dict; the type checker, for which ``TYPE_CHECKING`` is true,
sees the real ones.
"""

TYPE_CHECKING = False  # True for mypy (as typing.TYPE_CHECKING), False at run time
if TYPE_CHECKING:
    from typing import Any as Any
    from typing import ParamSpec as ParamSpec
    from typing import Protocol as Protocol
    from typing import TypedDict as TypedDict
    from typing import TypeVar as TypeVar
else:
    Protocol = object  # the class is then a plain base class; its methods are never called
    TypedDict = dict
