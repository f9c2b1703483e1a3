"""Fixtures shared by every test suite."""

from __future__ import annotations

import compileall
import contextlib
import gc
import marshal
import os
import re
import signal
import sys
import types

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path.insert(0, TESTS)  # makes tests/support.py importable as `support`

# --cpu-report=N: where the CPU goes (tests/cpu_report.py); how xdist spreads the files over its
# workers, longest first (tests/schedule.py); hypothesis' scan for constants only in the workers
# that run a property test (tests/hypothesis_constants.py)
pytest_plugins = ["cpu_report", "schedule", "hypothesis_constants"]

# Bytecode. This project's shells set PYTHONDONTWRITEBYTECODE=1 and circus is an editable
# install, so without .pyc files every circusd, papa-kernel, tool and hook module the suite
# starts (hundreds of Python start-ups) would compile its modules from source each time, and
# every xdist worker would rewrite every test module's asserts again. The suite therefore
# byte-compiles our sources once before it starts (compileall skips files whose .pyc is up to
# date), and lets pytest cache its rewritten test modules; both go to the gitignored
# __pycache__ directories, as bench/run.py does for the benchmarks. The children keep
# PYTHONDONTWRITEBYTECODE: they only read these files. Measured back to back on
# tests/integration/circusd/test_lifecycle.py: 13.1 and 13.0 s of CPU without, 10.4 and 9.2 s
# with.
sys.dont_write_bytecode = False
_NOT_COMPILED = re.compile(r"/(test_[^/]*|conftest)\.py$")  # pytest rewrites and caches those


# Garbage collection. Collecting the suite makes ~140 000 objects that live as long as the
# process (modules, functions, items, fixture definitions); every full collection walked them
# all again: ~300 collections while collecting (0.15 s a process), the end-of-session ones
# (pytest's unraisable-exception check, 0.1 s each) and, while the tests run, every full
# collection a test's allocations trigger (tests/unit and tests/config: 1.18 s of GC, 0.68 s
# with them frozen). So the collector is off until the items exist, then gc.freeze() moves
# everything alive into the permanent generation, which no collection walks, and it is on again.
# Garbage made before that point (~33 000 objects in cycles, a few MB) is frozen with the rest
# rather than paying one more full collection (0.13 s) to free it.
gc.disable()


def _freeze_survivors() -> None:
    gc.freeze()
    gc.enable()


def pytest_collection_finish(session: pytest.Session) -> None:
    _freeze_survivors()


class _WholeFileMarshal(types.ModuleType):
    """``marshal`` for pytest's assertion rewriter, whose ``marshal.load(file)`` of a cached
    test module reads the file in many small reads (one per object); reading it whole and
    ``marshal.loads`` it is 5x cheaper: the ~185 cached test modules every pytest process loads
    took 66-105 ms of CPU, 13-17 ms this way. It is pytest's internal module: if it stops
    using ``marshal`` this way, the suite only gets slower."""

    def __getattr__(self, name: str):
        return getattr(marshal, name)

    @staticmethod
    def load(file):
        return marshal.loads(file.read())


def _read_rewritten_modules_whole() -> None:
    from _pytest.assertion import rewrite

    if getattr(rewrite, "marshal", None) is marshal:
        rewrite.marshal = _WholeFileMarshal("marshal")


_read_rewritten_modules_whole()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller compiled already
        return
    for package in ("circus", "papa_kernel"):
        compileall.compile_dir(os.path.join(ROOT, package), quiet=1)
    compileall.compile_dir(TESTS, quiet=1, rx=_NOT_COMPILED)


def _prepare_the_workers_caches(config: pytest.Config) -> None:
    """What every xdist worker would otherwise compute for itself in a clean clone (CI), done
    once before they start, in two processes (CI has two cores): hypothesis' Unicode tables
    in a child, the test modules' rewritten asserts here.

    hypothesis is imported here, before the fork: this process imports it anyway at the end
    (its plugin's terminal summary imports ``hypothesis.internal.observability``, which
    imports all of hypothesis, ~0.15 s of CPU), and the child needs it; imported after the
    fork, the child and then this process each paid that import."""
    with contextlib.suppress(ImportError):  # hypothesis is a test dependency
        import hypothesis  # noqa: F401
    child = os.fork()
    if child == 0:
        try:
            _warm_hypothesis_caches()
        finally:
            os._exit(0)
    try:
        _rewrite_test_modules(config)
    finally:
        os.waitpid(child, 0)


def _rewrite_test_modules(config: pytest.Config) -> None:
    """Rewrite the test modules' asserts once, here, into pytest's cache, before the workers
    start. In a clean clone (CI) the cache is empty, and every xdist worker rewrote every test
    module itself as it collected (parse, rewrite, compile: ~185 modules). Starting 8 workers
    that collect everything and run nothing took 7.2 s and 12 s of CPU with the cache, 19.9 s
    and 35 s without; now 10.0 s and 17 s without (~2.7 s of CPU here). A module whose cached
    pyc is current (its source's hash, as pytest checks it) is left alone. pytest's internal
    API: if it moves, the workers rewrite as before.

    The plugins pytest loaded through its rewriting hook (xdist's, pytest-timeout's,
    hypothesis' modules) go to the same cache: they are imported before this conftest turns
    bytecode writing on, so with PYTHONDONTWRITEBYTECODE (this project's shells) pytest never
    cached them, and every pytest process, the controller and each worker, rewrote those 8
    modules from source again (~25 ms of CPU each)."""
    import importlib.util
    from pathlib import Path

    try:
        from _pytest.assertion.rewrite import (
            PYC_TAIL,
            AssertionRewritingHook,
            _rewrite_test,
            _write_pyc,
            assertstate_key,
            get_cache_dir,
            try_makedirs,
        )

        state = config.stash[assertstate_key]
    except (ImportError, KeyError):  # another pytest, or --assert=plain
        return
    test_modules = [
        path
        for path in Path(TESTS).rglob("*.py")
        if "__pycache__" not in path.parts and _NOT_COMPILED.search(str(path))
    ]
    plugins = [
        Path(module.__spec__.origin)
        for module in list(sys.modules.values())
        if isinstance(
            getattr(getattr(module, "__spec__", None), "loader", None), AssertionRewritingHook
        )
        and (module.__spec__.origin or "").endswith(".py")
    ]
    stale = []
    for path in sorted(set(test_modules + plugins)):
        pyc = get_cache_dir(path) / (path.name[:-3] + PYC_TAIL)
        try:
            with open(pyc, "rb") as cached:
                header = cached.read(16)
        except OSError:
            header = b""
        # current as pytest's _read_pyc judges it (this Python's magic, the source's hash),
        # without unmarshalling the code
        source_hash = importlib.util.source_hash(path.read_bytes())[:8]
        if header[:4] != importlib.util.MAGIC_NUMBER or header[8:16] != source_hash:
            stale.append((path, pyc))
    if not stale:
        return
    for path, pyc in stale:
        try:
            source_hash, code = _rewrite_test(path, config)
        except SyntaxError:  # the worker that imports it reports it
            continue
        if try_makedirs(pyc.parent):
            _write_pyc(state, code, source_hash, pyc)


def pytest_sessionstart(session: pytest.Session) -> None:
    # before xdist's own pytest_sessionstart (trylast) starts the workers, and after
    # hypothesis' plugin has ended its initialization (it warns of storage used before)
    if not hasattr(session.config, "workerinput"):
        _prepare_the_workers_caches(session.config)
    if session.config.pluginmanager.has_plugin("dsession"):  # xdist's controller: no collection
        _freeze_survivors()


def _warm_hypothesis_caches() -> None:
    """Build hypothesis' Unicode tables and its cache of the project modules' constants
    (tests/hypothesis_constants.py) once, before the xdist workers start.

    Text strategies need a table of the characters UTF-8 can encode; hypothesis builds it on
    first use (~2.1 s of CPU) and caches it in .hypothesis/unicode_data/, which a clean clone
    (CI) does not have, so every worker that runs a text strategy built it again (up to one
    per worker: ~10 s of the suite's CPU at -n 6). The controller builds it here; the workers
    read the cache. It is hypothesis' internal API: if it moves, the suite only gets slower.
    """
    try:
        from hypothesis.internal import charmap
    except ImportError:  # pragma: no cover - hypothesis is a test dependency
        return
    import warnings

    import hypothesis_constants

    try:
        with warnings.catch_warnings():
            # hypothesis warns of storage read "during conftest initialization" (it still
            # counts the session start as that); here it is the point, done once
            warnings.simplefilter("ignore")
            charmap.charmap()
            charmap.intervals_from_codec("utf-8")
            hypothesis_constants.warm_cache(
                [os.path.join(ROOT, package) for package in ("circus", "papa_kernel")]
            )
    except AttributeError:  # pragma: no cover - a hypothesis that reorganised its internals
        pass


#: The signals an in-process loop (asyncio's, papa-kernel's) takes over with its wakeup fd.
LOOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD)


@pytest.fixture(autouse=True)
def signals_left_as_found():
    """A test leaves the worker's signal handlers and wakeup fd as it found them (a loop it made
    must be closed): the next tests of that xdist worker would inherit them (a Ctrl-C test hung
    on one; papa-kernel's footprint test left the wakeup fd and SIGCHLD on a dropped loop). A
    test that does not fails its teardown, and the state is put back."""
    handlers = {signum: signal.getsignal(signum) for signum in LOOP_SIGNALS}
    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    yield
    left_wakeup = signal.set_wakeup_fd(wakeup)
    left = {}
    for signum, handler in handlers.items():
        if signal.getsignal(signum) is not handler:
            left[signal.Signals(signum).name] = signal.getsignal(signum)
            signal.signal(signum, handler)
    assert (left_wakeup, left) == (wakeup, {}), (
        f"the test left the wakeup fd {left_wakeup} (it found {wakeup}) and these handlers: {left}"
    )


@pytest.fixture
def runtime_dir(tmp_path, monkeypatch):
    """A private runtime dir (0700) used as $XDG_RUNTIME_DIR, so no test touches the real one."""
    path = tmp_path / "run"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    return path
