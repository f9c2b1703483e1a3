"""circus-plugin's command line refuses bad values before loading anything."""

from __future__ import annotations

import pytest

from circus.cli.plugin import build_parser


@pytest.mark.parametrize("value", ["-5", "nan", "inf", "soon"])
def test_check_delay_must_be_a_duration(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--check-delay", value, "x.Y"])
    assert info.value.code == 2
    assert "argument --check-delay" in capsys.readouterr().err


def test_check_delay_takes_units_as_circus_ini_does() -> None:
    assert build_parser().parse_args(["--check-delay", "500ms", "x.Y"]).check_delay == 0.5
    assert build_parser().parse_args(["--check-delay", "2.5", "x.Y"]).check_delay == 2.5
    assert build_parser().parse_args(["--check-delay", "1e-05", "x.Y"]).check_delay == 1e-05
