"""The sdist and the wheel carry the whole product: every module and data file under circus/
and papa_kernel/ that git tracks, every console script, one version.

Built without build isolation (the dev extras pin setuptools>=77), so no network is needed; a
wheel is also built from the sdist, which is what `pip install circus-kernel-X.tar.gz` does and
where package data most often goes missing.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import circus
import papa_kernel

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(180)


def _tracked_package_files() -> set[str]:
    out = subprocess.run(
        ["git", "ls-files", "circus", "papa_kernel"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0 or not out.stdout:
        pytest.skip(f"not a git checkout: {out.stderr.strip()}")
    return {line for line in out.stdout.splitlines() if (ROOT / line).is_file()}


def _console_scripts() -> set[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return set(tomllib.load(f)["project"]["scripts"])


def _build(kind: str, source: Path, out: Path) -> Path:
    # The backend's PEP 517 hook, as `pip wheel --no-build-isolation` calls it, without pip's
    # own start-up (the module took 6.9 s of CPU with pip, 5.5 s without). Builds run in the
    # source tree (build/, *.egg-info): two at once would collide, hence --dist loadfile.
    hook, pattern = {"sdist": ("build_sdist", "*.tar.gz"), "wheel": ("build_wheel", "*.whl")}[kind]
    code = f"import sys, setuptools.build_meta as b; print(b.{hook}(sys.argv[1]))"
    subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=source,
        check=True,
        capture_output=True,
        text=True,
    )
    (path,) = out.glob(pattern)
    return path


def _check_wheel(wheel: Path, tracked: set[str]) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = {
            line.split("=", 1)[0].strip()
            for line in zf.read(entry_points).decode().splitlines()
            if "=" in line
        }
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = zf.read(metadata).decode()
    missing = sorted(tracked - names)
    assert not missing, f"{wheel.name} lacks tracked files: {missing[:20]}"
    assert scripts == _console_scripts(), f"{wheel.name} console scripts: {sorted(scripts)}"
    assert f"Version: {papa_kernel.__version__}\n" in meta
    assert "License-Expression: Apache-2.0" in meta


def test_versions_have_one_source() -> None:
    assert circus.__version__ == papa_kernel.__version__
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert project["license"] == "Apache-2.0"  # an SPDX expression, not the deprecated table


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build("wheel", ROOT, tmp_path_factory.mktemp("wheel"))


def test_wheel_and_sdist_carry_every_file_and_command(wheel: Path, tmp_path: Path) -> None:
    tracked = _tracked_package_files()
    _check_wheel(wheel, tracked)

    sdist = _build("sdist", ROOT, tmp_path / "sdist")
    with tarfile.open(sdist) as tf:
        top = tf.getnames()[0].split("/", 1)[0]
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
        missing = sorted(tracked - names)
        assert not missing, f"{sdist.name} lacks tracked files: {missing[:20]}"
        tf.extractall(tmp_path / "unpacked", filter="data")
    _check_wheel(_build("wheel", tmp_path / "unpacked" / top, tmp_path / "from-sdist"), tracked)


def test_installed_wheel_runs_every_command(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-compile",  # byte-compiling every module took ~0.4 s of CPU; not what is tested
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    versioned = ("circusd", "papa-kernel", "circusctl")  # run with --version, the others --help
    versions = set()
    for script in sorted(_console_scripts()):
        path = target / "bin" / script
        assert path.is_file(), f"{script} not installed"
        option = "--version" if script in versioned else "--help"
        out = subprocess.run(
            [sys.executable, str(path), option],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        said = f"{script} {option}: {out.returncode} {out.stderr[-800:]}"
        assert "Traceback" not in out.stderr and out.returncode in (0, 2), said
        if script in versioned:
            assert out.returncode == 0, said
            versions.add(out.stdout.split()[-1])
    assert versions == {papa_kernel.__version__}
    where = subprocess.run(
        [sys.executable, "-c", "import circus; print(circus.__file__)"],
        env=env,
        cwd=tmp_path,  # not the checkout: '' on sys.path would import the source tree
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(target)), f"imported {where} instead of the installed wheel"


#: Where deploy/*.service expect the installation (a venv, `pip install circus-kernel`).
INSTALLED_PREFIX = "/opt/circus/.venv/"


def test_the_units_documentation_is_installed_by_the_wheel(wheel: Path) -> None:
    """The systemd units' ``Documentation=file:`` pages exist after a pip install: they are
    in the venv the units run from, and the wheel installs them there."""
    import configparser

    with zipfile.ZipFile(wheel) as zf:
        data = {name.split(".data/data/", 1)[1] for name in zf.namelist() if ".data/data/" in name}
    pages = []
    for unit in sorted((ROOT / "deploy").glob("*.service")):
        parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
        parser.read(unit)
        for url in parser["Unit"].get("Documentation", "").split():
            assert url.startswith(("file:", "man:", "https:")), f"{unit.name}: {url}"
            if url.startswith("file:"):
                path = url.removeprefix("file:")
                assert path.startswith(INSTALLED_PREFIX), f"{unit.name}: {path} is outside the venv"
                pages.append(path.removeprefix(INSTALLED_PREFIX))
    assert pages, "no unit names an installed page"
    missing = sorted(set(pages) - data)
    assert not missing, f"{wheel.name} does not install {missing}"
