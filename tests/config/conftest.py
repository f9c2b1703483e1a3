"""Fixtures for the circus.config tests: write INI text to a temp dir and load it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from circus.config import load_config
from circus.errors import ConfigError

#: A small, fixed "circusd environment" so tests do not depend on the machine's.
ENVIRON = {"PATH": "/usr/bin:/bin", "HOME": "/home/tester", "USER": "tester", "Shell": "/bin/sh"}


class Loader:
    """``load(text)`` -> CircusConfig; ``problems(text)`` -> the ConfigError's problems.

    Parsing only: the hooks and classes the tests name are made up, so they are not imported
    (test_names.py covers the import of dotted names)."""

    def __init__(self, directory: Path):
        self.directory = directory

    def write(self, text: str, name: str = "circus.ini") -> Path:
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def __call__(self, text: str, environ: dict | None = None, name: str = "circus.ini"):
        path = self.write(text, name)
        return load_config(
            path,
            environ=ENVIRON if environ is None else environ,
            log_warnings=False,
            import_names=False,
        )

    def error(self, text: str, environ: dict | None = None) -> ConfigError:
        with pytest.raises(ConfigError) as info:
            self(text, environ)
        return info.value

    def problems(self, text: str, environ: dict | None = None):
        return self.error(text, environ).problems

    def messages(self, text: str, environ: dict | None = None) -> list[str]:
        return [str(p) for p in self.problems(text, environ)]


@pytest.fixture
def load(tmp_path, runtime_dir) -> Loader:
    return Loader(tmp_path)


@pytest.fixture
def environ() -> dict[str, str]:
    return dict(ENVIRON)


@pytest.fixture(scope="module")
def runtime_dir_env(tmp_path_factory):
    """A module-wide private runtime dir for property tests (function fixtures and hypothesis
    do not mix)."""
    path = tmp_path_factory.mktemp("run")
    path.chmod(0o700)
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_RUNTIME_DIR", str(path))
    yield path
    mp.undo()
