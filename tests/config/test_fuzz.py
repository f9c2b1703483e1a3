"""Property tests: whatever the text or the values, loading yields a config or a clean
ConfigError, never another exception."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from circus.config import (
    WATCHER_OPTIONS,
    WatcherConfig,
    apply_watcher_options,
    config_from_dict,
    convert_watcher_option,
    load_config,
)
from circus.config.sections import CIRCUS_OPTIONS, SOCKET_OPTIONS
from circus.errors import ConfigError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENVIRON = {"PATH": "/bin", "HOME": "/h"}

# Text that looks like configuration often enough to reach deep code paths.
ATOMS = st.sampled_from(
    [
        "[",
        "]",
        "=",
        ":",
        ";",
        "#",
        " ",
        "\n",
        "\n  ",
        "\t",
        "\r",
        "\x00",
        "$",
        "(",
        ")",
        "((",
        "))",
        "circus.",
        "env.",
        "sockets.",
        "watcher:",
        "socket:",
        "plugin:",
        "env:",
        "circus",
        "cmd",
        "numprocesses",
        "use_sockets",
        "use_papa",
        "true",
        "false",
        "-1",
        "0",
        "1",
        "99999999999",
        "1.5",
        "nan",
        "inf",
        "SIGTERM",
        "rlimit_",
        "hooks.",
        "stdout_stream.",
        "class",
        "filename",
        "FileStream",
        "'",
        '"',
        "\\",
        "*",
        "$PATH",
        "${HOME}",
        "é",
        "\u2028",
    ]
)
INI_TEXT = st.one_of(st.text(max_size=300), st.lists(ATOMS, max_size=80).map("".join))
VALUE_TEXT = st.one_of(st.text(max_size=30), st.lists(ATOMS, max_size=12).map("".join))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
WATCHER_KEYS = st.sampled_from(
    [
        *WATCHER_OPTIONS,
        "rlimit_nofile",
        "rlimit_bogus",
        "hooks.before_start",
        "hooks.nope",
        "stdout_stream.class",
        "stdout_stream.max_bytes",
        "flapping.max_retry",
        "free.form",
        "stdin_socket",
    ]
)
CIRCUS_KEYS = st.sampled_from([k for k in CIRCUS_OPTIONS if k not in ("include", "include_dir")])
SOCKET_KEYS = st.sampled_from(list(SOCKET_OPTIONS))


@pytest.fixture(scope="module")
def fuzz_ini(tmp_path_factory) -> str:
    """The file each example rewrites, alone in its directory (a directory made and removed
    per example cost more CPU than loading the config)."""
    return os.path.join(tmp_path_factory.mktemp("fuzz"), "fuzz.ini")


def _rewrite(path: str, text: str) -> None:
    """Replace the file's content with ``text``, in place: opening it with truncation freed its
    block each time (and this ext4 is mounted with ``discard``), ~5x the CPU of writing over it
    and cutting it to the new length."""
    data = text.encode("utf-8", errors="surrogatepass")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        written = 0
        while written < len(data):
            written += os.pwrite(fd, data[written:], written)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def _load_text(path: str, text: str) -> None:
    _rewrite(path, text)
    try:
        load_config(path, environ=ENVIRON, log_warnings=False)
    except ConfigError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)


@FUZZ
@given(INI_TEXT)
def test_random_ini_text(runtime_dir_env, fuzz_ini, text):
    _load_text(fuzz_ini, text)


def _line(key: str, value: str) -> str:
    return f"{key} = {value.replace(chr(10), ' ').replace(chr(13), ' ')}\n"


@FUZZ
@given(
    st.lists(st.tuples(WATCHER_KEYS, VALUE_TEXT), max_size=8),
    st.lists(st.tuples(CIRCUS_KEYS, VALUE_TEXT), max_size=4),
    st.lists(st.tuples(SOCKET_KEYS, VALUE_TEXT), max_size=4),
    st.text(alphabet="abcW-_. ", min_size=0, max_size=8),
)
def test_random_values_in_every_section(runtime_dir_env, fuzz_ini, watcher, circus, sock, name):
    text = "[circus]\n" + "".join(_line(k, v) for k, v in circus)
    text += f"[watcher:{name}]\ncmd = run $(circus.sockets.s)\n" + "".join(
        _line(k, v) for k, v in watcher
    )
    text += "[socket:s]\n" + "".join(_line(k, v) for k, v in sock)
    text += f"[env:{name}*]\nX = $(circus.env.home)\n[plugin:p]\nuse = a.B\n" + "".join(
        _line(k, v) for k, v in watcher[:2]
    )
    _load_text(fuzz_ini, text)


@FUZZ
@given(
    st.lists(st.dictionaries(WATCHER_KEYS | st.just("name"), JSONISH, max_size=6), max_size=3),
    st.dictionaries(CIRCUS_KEYS, JSONISH, max_size=3),
    JSONISH,
    JSONISH,
    JSONISH,
)
def test_random_dict_form(runtime_dir_env, watchers, circus, sockets, plugins, env):
    mapping = {"watchers": watchers, "sockets": sockets, "plugins": plugins, "env": env, **circus}
    try:
        config_from_dict(mapping, environ=ENVIRON, log_warnings=False)
    except ConfigError as exc:
        assert exc.problems


@FUZZ
@given(WATCHER_KEYS, JSONISH | VALUE_TEXT)
def test_random_option_values_like_set(key, value):
    try:
        convert_watcher_option(key, value)
    except ConfigError as exc:
        assert exc.problems[0].key == key
    try:
        apply_watcher_options(WatcherConfig(name="w", cmd="x"), {key: value})
    except ConfigError as exc:
        assert exc.problems
