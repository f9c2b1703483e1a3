"""Hypothesis' scan of the loaded modules for constants, once per worker that runs a property
test, and only over the modules it can take constants from.

Hypothesis draws now and then (~5 % of draws) a constant found in the source of the project's
own modules (not the standard library's, site-packages' or test files'). Its pytest plugin
scans every loaded module for them at the end of collection, in every pytest process that has
collected a property test: with xdist, every worker collects every test file, so all 8 workers
paid it (~0.1-0.2 s of CPU each: resolving the real path of the ~1000 loaded modules, then
reading the ~210 project modules' constants from its cache), including the workers that never
run a property test. Here:

- at collection, the plugin's scan is skipped (it sees no module loaded since its last scan);
- at the setup of the first property test that a process runs, the scan runs over every
  module loaded by then (what the plugin scanned, plus what earlier tests imported), outside
  the test's deadline as the plugin meant it to be;
- before that scan, the modules hypothesis would judge not to be the project's own are marked
  as seen, with cheap string checks instead of a path resolution each: no ``__file__``, a
  file under the standard library or site-packages directories hypothesis itself uses (as
  given: a symlink from there into the project would be missed), or a test file (the same
  checks as hypothesis').

The constants found are the same (1439 in a full collection, with or without this).

Hypothesis caches each module's constants in .hypothesis/constants/ by the hash of its source.
A clean clone (CI) has no such cache: there the scan parsed the ~220 project modules (~0.8 s of
CPU) in every worker at once. :func:`warm_cache` fills it before the workers start (in the
controller's child that also builds hypothesis' Unicode tables, tests/conftest.py), so every
worker reads it (~0.07 s).

It uses
hypothesis' internals (``providers._get_local_constants``, ``_seen_modules``,
``_sys_modules_len``, which its own plugin calls); if they move, this does nothing and the
plugin scans as before.

Loaded by tests/conftest.py (``pytest_plugins``).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

_scanned = False


def _providers() -> ModuleType | None:
    """hypothesis' providers module, if hypothesis is loaded and it is the one this knows."""
    if "hypothesis" not in sys.modules:
        return None
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a hypothesis that reorganised its internals
        return None
    known = (
        callable(getattr(providers, "_get_local_constants", None))
        and isinstance(getattr(providers, "_seen_modules", None), set)
        and hasattr(providers, "_sys_modules_len")
    )
    return providers if known else None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]):
    """Around hypothesis' own hook: its scan finds no module it has not seen."""
    providers = _providers()
    if providers is None or providers._sys_modules_len is not None:
        return (yield)
    providers._sys_modules_len = len(sys.modules)
    try:
        return (yield)
    finally:
        providers._sys_modules_len = None  # its next call scans every loaded module


def pytest_runtest_setup(item: pytest.Item) -> None:
    global _scanned
    if _scanned or item.get_closest_marker("hypothesis") is None:
        return
    _scanned = True
    providers = _providers()
    if providers is None:
        return
    _mark_foreign_modules_seen(providers._seen_modules)
    providers._get_local_constants()


def _mark_foreign_modules_seen(seen: set[int]) -> None:
    """Add to hypothesis' ``seen`` set the modules it would not take constants from."""
    try:
        from hypothesis.internal.scrutineer import SITE_PACKAGES_DIRS, STDLIB_DIRS

        foreign = tuple(str(path) + os.sep for path in (*STDLIB_DIRS, *SITE_PACKAGES_DIRS))
    except ImportError:  # pragma: no cover - a hypothesis that reorganised its internals
        foreign = ()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file is None or file.startswith(foreign) or _is_test_file(file):
            seen.add(id(module))


def _is_test_file(file: str) -> bool:
    """hypothesis' own test: it takes no constants from test files."""
    path = Path(file)
    return (
        "test" in path.parts
        or "tests" in path.parts
        or path.stem.startswith("test_")
        or path.stem.endswith("_test")
    )


def warm_cache(packages: list[str]) -> None:
    """Put in hypothesis' constants cache every module of these package directories that it
    does not hold yet (by their source's hash, as hypothesis names the files), without
    importing them: hypothesis only reads a module's source file. If hypothesis names its cache
    files otherwise, every module goes through its own cache check (~0.07 s)."""
    try:
        from hypothesis.configuration import storage_directory
        from hypothesis.internal.constants_ast import constants_from_module

        cached = Path(storage_directory("constants", intent_to_write=False).path)
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - other internals
        return
    for package in packages:
        for path in sorted(Path(package).rglob("*.py")):
            if (cached / hashlib.sha1(path.read_bytes()).hexdigest()[:16]).exists():
                continue
            module = ModuleType(path.stem)
            module.__file__ = str(path)
            constants_from_module(module)
