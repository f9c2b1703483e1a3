"""Our circus installed from a wheel into a fresh venv, as a user has it (and as the originals
are: pip-installed wheels with their .pyc files).

The repository's ``.venv`` holds an *editable* install. ``make`` installs it in setuptools'
``compat`` mode (a ``.pth`` line with the checkout's path); in the default mode ``site`` loads
setuptools' import hook for it in every interpreter of that venv (it imports pathlib, re,
urllib.parse and importlib.util), which costs each launch of circusd ~10 ms of CPU and ~2 MB of
RSS that no installed circus pays. The venv made here has only circus and papa_kernel, built from
the working tree; their dependencies (pyzmq, tornado, psutil, setproctitle) come from ``.venv``'s
site-packages, put on ``sys.path`` by a ``.pth`` line (that directory is not a site directory
of the new venv, so its own ``.pth`` files, the editable hook among them, are not run).
"""

from __future__ import annotations

import compileall
import shutil
import subprocess
import sys
from pathlib import Path

#: What the wheel is built from (the sdist's files that matter for it).
SOURCES = ("circus", "papa_kernel", "pyproject.toml", "README.md")

LAUNCHER = """#!{python}
import sys
from circus.cli.circusd import main
sys.exit(main())
"""


def site_packages(python: Path) -> Path:
    """The purelib directory of the interpreter ``python``."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def install_wheel(repo: Path, dest: Path) -> Path:
    """Build and install ours under ``dest``; returns the venv's bin directory (with a
    ``circusd`` launcher and ``python``)."""
    dev_python = repo / ".venv" / "bin" / "python"
    source = dest / "src"
    source.mkdir(parents=True)
    for name in SOURCES:
        path = repo / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    venv = dest / "venv"
    subprocess.run([str(dev_python), "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = site_packages(python)
    subprocess.run([str(dev_python), "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(site), str(source)],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    (site / "bench-ours-deps.pth").write_text(f"{site_packages(dev_python)}\n")
    for package in ("circus", "papa_kernel"):
        compileall.compile_dir(site / package, quiet=1)
    launcher = venv / "bin" / "circusd"
    launcher.write_text(LAUNCHER.format(python=python))
    launcher.chmod(0o755)
    return venv / "bin"


if __name__ == "__main__":  # python bench/harness/ours_install.py DEST: try it by hand
    print(install_wheel(Path(__file__).resolve().parents[2], Path(sys.argv[1])))
