"""The systemd units of deploy/: ``systemd-analyze verify`` accepts them without a warning, and
what they promise holds together (their command lines parse, the stop timeouts nest, the
names of the passed sockets are the ones the kernel and the configuration use)."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from circus.cli.circusd import build_parser as circusd_parser
from papa_kernel.cli import build_parser as kernel_parser
from papa_kernel.server import CONTROL_FDNAME

pytestmark = pytest.mark.timeout(60)

DEPLOY = os.path.join(os.path.dirname(__file__), "..", "..", "deploy")
UNITS = ["papa-kernel.service", "circusd.service", "circus-web.socket", "papa-kernel.socket"]
INSTALLED_BIN = "/opt/circus/.venv/bin/"


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(os.path.join(DEPLOY, name))
    return parser


def exec_start(name: str) -> list[str]:
    return shlex.split(unit(name)["Service"]["ExecStart"])


def seconds(text: str) -> float:
    return float(text.removesuffix("s"))


def test_systemd_analyze_verify_accepts_the_units_silently(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    bindir = os.path.dirname(sys.executable) + "/"
    for name in ("papa-kernel", "circusd"):
        if not os.access(bindir + name, os.X_OK):
            pytest.skip(f"{bindir}{name} is missing: the units' ExecStart= cannot be checked")
    for name in UNITS:  # the units point at /opt/circus/.venv: use this venv's commands
        with open(os.path.join(DEPLOY, name)) as f:
            text = f.read().replace(INSTALLED_BIN, bindir)
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True,
        text=True,
        timeout=50,
    )
    if "Failed to initialize manager" in result.stderr or "Operation not permitted" in (
        result.stderr
    ):
        pytest.skip(f"systemd-analyze cannot run here: {result.stderr.strip()}")
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_both_services_notify_and_the_kernel_owns_the_workers():
    kernel, circusd = unit("papa-kernel.service"), unit("circusd.service")
    for service in (kernel, circusd):
        assert service["Service"]["Type"] == "notify"
        assert service["Service"]["RuntimeDirectory"] == "circus"
        assert service["Service"]["RuntimeDirectoryMode"] == "0700"
        assert service["Service"]["RuntimeDirectoryPreserve"] == "yes"
        assert service["Service"]["KillMode"] == "mixed"
        assert seconds(service["Service"]["WatchdogSec"]) > 0
    assert "papa-kernel.service" in circusd["Unit"]["Requires"].split()
    assert "papa-kernel.service" in circusd["Unit"]["After"].split()
    assert circusd["Service"]["ExecReload"] == "/bin/kill -HUP $MAINPID"


def test_command_lines_parse_and_the_grace_ends_before_systemd_kills():
    kernel_argv = exec_start("papa-kernel.service")
    assert kernel_argv[0] == INSTALLED_BIN + "papa-kernel"
    kernel_args = kernel_parser().parse_args(kernel_argv[1:])
    stop_timeout = seconds(unit("papa-kernel.service")["Service"]["TimeoutStopSec"])
    assert kernel_args.graceful_stop is not None
    assert kernel_args.graceful_stop + 5 < stop_timeout  # + the kernel's KILL_WAIT
    assert kernel_args.socket == "/run/circus/papa.sock"
    circusd_argv = exec_start("circusd.service")
    assert circusd_argv[0] == INSTALLED_BIN + "circusd"
    assert circusd_parser().parse_args(circusd_argv[1:]).start_kernel is False


def test_socket_units_pass_the_names_the_kernel_and_config_use():
    control = unit("papa-kernel.socket")["Socket"]
    assert control["FileDescriptorName"] == CONTROL_FDNAME
    assert control["ListenStream"] == "/run/circus/papa.sock"
    assert control["SocketMode"] == "0600"
    web = unit("circus-web.socket")["Socket"]
    assert web["Service"] == "papa-kernel.service"
    assert web["FileDescriptorName"] == "web"  # [socket:web] systemd = true


def test_every_hardening_line_is_commented():
    for name in ("papa-kernel.service", "circusd.service"):
        with open(os.path.join(DEPLOY, name)) as f:
            lines = f.read().split("# --- hardening", 1)[1].split("[Install]")[0].splitlines()
        previous = "#"
        for line in lines[1:]:
            if line and not line.startswith("#"):
                assert previous.startswith("#") or "=" in previous, f"{name}: {line} uncommented"
            previous = line or previous
