"""The import contracts of pyproject.toml that list modules by name stay complete."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import circus

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

#: What circus.config may import from circus (docs/dev/lint.md, contract config-standalone).
CONFIG_MAY_IMPORT = {"config", "errors", "util"}


def _contract(contract_id: str) -> dict:
    settings = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return next(c for c in settings["contracts"] if c["id"] == contract_id)


def test_config_standalone_forbids_every_other_circus_module():
    forbidden = {
        name.removeprefix("circus.")
        for name in _contract("config-standalone")["forbidden_modules"]
        if name.startswith("circus.")
    }
    modules = {module.name for module in pkgutil.iter_modules(circus.__path__)}
    assert forbidden == modules - CONFIG_MAY_IMPORT, (
        "add the new top-level circus module to config-standalone's forbidden_modules "
        "in pyproject.toml (or remove a module that is gone)"
    )
