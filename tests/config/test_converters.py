"""The pure converters: what they accept, what they return, and how they refuse."""

from __future__ import annotations

import signal

import pytest

from circus.config import converters as cv


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("Yes", True),
        (" on ", True),
        ("1", True),
        (True, True),
        (1, True),
        ("false", False),
        ("NO", False),
        ("off", False),
        ("0", False),
        (False, False),
        (0, False),
    ],
)
def test_to_bool_accepts(text, expected):
    assert cv.to_bool(text) is expected


@pytest.mark.parametrize("bad", ["maybe", "", "2", 2, None, [], "tru"])
def test_to_bool_refuses_with_what_was_found(bad):
    with pytest.raises(ValueError, match=r"expected a boolean .*got"):
        cv.to_bool(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (15, 15),
        ("15", 15),
        ("TERM", 15),
        ("sigterm", 15),
        ("SIGTERM", 15),
        ("quit", 3),
        ("INT", 2),
        ("3", 3),
        ("SIGRTMIN+1", int(signal.SIGRTMIN) + 1),
        ("kill", 9),
    ],
)
def test_to_signum(value, expected):
    assert cv.to_signum(value) == expected


@pytest.mark.parametrize(
    "bad", ["NOPE", "SIG", "0", 0, -1, 10_000, "SIG_DFL", "SIGRTMIN+999", True, 1.5]
)
def test_to_signum_refuses(bad):
    with pytest.raises(ValueError, match="signal"):
        cv.to_signum(bad)


def test_signal_name_round_trips():
    assert cv.signal_name(15) == "SIGTERM"
    assert cv.signal_name(cv.to_signum("SIGRTMIN+2")) == "SIGRTMIN+2"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5), (" -1 ", -1), (7, 7), (3.0, 3), ("+2", 2)],
)
def test_to_int(value, expected):
    assert cv.to_int(value) == expected


@pytest.mark.parametrize("bad", ["x", "1.5", 1.5, True, "", None, "9" * 40])
def test_to_int_refuses(bad):
    with pytest.raises(ValueError, match="expected an integer"):
        cv.to_int(bad)


def test_to_int_bounds_are_named():
    with pytest.raises(ValueError, match=">= 0"):
        cv.to_int("-3", 0)
    with pytest.raises(ValueError, match="<= 10"):
        cv.to_int(11, 0, 10)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        ("2.5", 2.5),
        (".5", 0.5),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        (3, 3.0),
        (0.25, 0.25),
    ],
)
def test_to_duration(value, expected):
    assert cv.to_duration(value) == expected


@pytest.mark.parametrize(
    "bad", ["-1", -1, "abc", "5 minutes", float("inf"), float("nan"), True, None]
)
def test_to_duration_refuses(bad):
    with pytest.raises(ValueError, match=r"duration|>= 0"):
        cv.to_duration(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1073741824", 1073741824),
        ("512k", 512 * 1024),
        ("10M", 10 * 1024**2),
        ("1GiB", 1024**3),
        ("2mb", 2 * 1024**2),
        ("1.5k", 1536),
        (4096, 4096),
        ("1t", 1024**4),
    ],
)
def test_to_size(value, expected):
    assert cv.to_size(value) == expected


@pytest.mark.parametrize("bad", ["-1", -5, "ten", "10 X", "1e9", True, None, "99999999999t"])
def test_to_size_refuses(bad):
    with pytest.raises(ValueError, match="size"):
        cv.to_size(bad)


@pytest.mark.parametrize(
    ("value", "expected"), [("002", 2), ("022", 0o22), ("0o27", 0o27), ("777", 0o777), (0o22, 0o22)]
)
def test_to_octal(value, expected):
    assert cv.to_octal(value) == expected


@pytest.mark.parametrize("bad", ["8", "1000", "abc", "", -1, 0o1000, True])
def test_to_octal_refuses(bad):
    with pytest.raises(ValueError, match="octal"):
        cv.to_octal(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("unlimited", None),
        ("infinity", None),
        ("-1", None),
        (-1, None),
        (None, None),
        ("500", 500),
        ("64M", 64 * 1024**2),
        (1024, 1024),
    ],
)
def test_to_rlimit(value, expected):
    assert cv.to_rlimit(value) == expected


@pytest.mark.parametrize("bad", ["lots", "-2", -2, True])
def test_to_rlimit_refuses(bad):
    with pytest.raises(ValueError, match="limit"):
        cv.to_rlimit(bad)


def test_rlimit_names_are_validated_case_insensitively():
    assert cv.to_rlimit_name("NOFILE") == "nofile"
    assert "nproc" in cv.rlimit_names()
    with pytest.raises(ValueError, match="unknown resource limit 'nofiles'"):
        cv.to_rlimit_name("nofiles")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("www-data", "www-data"), ("1000", 1000), (0, 0), ("", None), (None, None)],
)
def test_to_id(value, expected):
    assert cv.to_id(value) == expected


@pytest.mark.parametrize("bad", ["two words", -1, "a;b", [1]])
def test_to_id_refuses(bad):
    with pytest.raises(ValueError):
        cv.to_id(bad)


def test_to_args_accepts_strings_and_lists_and_checks_quotes():
    assert cv.to_args("-u 'a b'") == "-u 'a b'"
    assert cv.to_args(["-u", "a b"]) == ("-u", "a b")
    assert cv.to_args(None) == ""
    with pytest.raises(ValueError, match="No closing quotation"):
        cv.to_args("-u 'unbalanced")
    with pytest.raises(ValueError, match="expected a string"):
        cv.to_args(["ok", {"no": 1}])


def test_to_env_accepts_objects_and_the_circusctl_form():
    assert cv.to_env({"A": "1", " B ": " 2 "}) == {"A": "1", "B": "2"}
    assert cv.to_env("A=1, B=two") == {"A": "1", "B": "two"}
    with pytest.raises(ValueError, match="'test': expected a string, got 2"):
        cv.to_env({"test": 2})
    with pytest.raises(ValueError, match="K=V pairs"):
        cv.to_env("A")
    with pytest.raises(ValueError, match="invalid environment variable name"):
        cv.to_env({"A B": "1"})
    with pytest.raises(ValueError, match="an object"):
        cv.to_env(["A=1"])


def test_to_dotted_name():
    assert cv.to_dotted_name(" pkg.mod.func ") == "pkg.mod.func"
    assert cv.to_dotted_name("pkg.mod:func") == "pkg.mod:func"
    for bad in ("pkg..mod", "1pkg.x", "pkg mod", ""):
        with pytest.raises(ValueError, match="dotted Python name"):
            cv.to_dotted_name(bad)


def test_to_choice_lists_the_choices():
    with pytest.raises(ValueError, match=r"a color \(blue, red\), got 'pink'"):
        cv.to_choice("pink", {"red": "red", "blue": "blue"}, "a color")
    assert cv.to_choice(" RED ", {"red": "red"}, "a color") == "red"


def test_long_values_are_shortened_in_messages():
    with pytest.raises(ValueError) as info:
        cv.to_bool("x" * 500)
    assert len(str(info.value)) < 200
