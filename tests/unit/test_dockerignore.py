"""`docker build -f deploy/Dockerfile .` from a checkout sends the whole directory as the build
context and the Dockerfile copies it (`COPY . /src`) before `pip install /src`. The
.dockerignore keeps the developer's virtualenvs (hundreds of MB), build output (setuptools
would pick up a stale build/lib) and caches out, and keeps what the Dockerfile copies."""

from __future__ import annotations

import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _patterns() -> list[str]:
    path = ROOT / ".dockerignore"
    assert path.exists(), "no .dockerignore beside deploy/Dockerfile's build context"
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _ignored(relative: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:  # the last matching pattern decides, '!' re-includes
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        parts = Path(relative).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            ignored = not negated
    return ignored


def test_the_build_context_leaves_out_virtualenvs_build_output_and_caches() -> None:
    patterns = _patterns()
    for path in (".venv/bin/python", ".venv-circus019", "build/lib/circus/x.py", "dist/x.whl",
                 ".git", "circus_kernel.egg-info/PKG-INFO", ".mypy_cache/x"):  # fmt: skip
        assert _ignored(path, patterns), f"{path} would be sent to the docker daemon"


def test_the_build_context_keeps_what_the_dockerfile_and_pip_need() -> None:
    patterns = _patterns()
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    copied = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    needed = [c for c in copied if c != "."]
    assert needed, "the Dockerfile copies its example files"
    for path in [*needed, "pyproject.toml", "README.md", "circus/__init__.py",
                 "papa_kernel/__init__.py", "circus/web/templates"]:  # fmt: skip
        assert (ROOT / path).exists(), path
        assert not _ignored(path, patterns), f"{path} is needed in the image but ignored"
