"""Every [watcher:NAME] key: its default, a valid value, and an invalid one (with its message)."""

from __future__ import annotations

import signal

import pytest

from circus.config import WATCHER_OPTIONS, HookSpec, StreamConfig, WatcherConfig, config_from_dict
from circus.errors import ConfigError

# The manual's defaults (and DESIGN.md's use_papa = true).
MANUAL_DEFAULTS = {
    "args": "",
    "executable": None,
    "shell": False,
    "shell_args": None,
    "working_dir": None,
    "uid": None,
    "gid": None,
    "env": {},
    "copy_env": False,
    "copy_path": False,
    "virtualenv": None,
    "virtualenv_py_ver": None,
    "rlimits": {},
    "use_sockets": False,
    "stdin_socket": None,
    "close_child_stdin": True,
    "close_child_stdout": False,
    "close_child_stderr": False,
    "use_papa": True,
    "max_age": 0,
    "max_age_variance": 30,
    "numprocesses": 1,
    "warmup_delay": 0,
    "autostart": True,
    "respawn": True,
    "on_demand": False,
    "singleton": False,
    "priority": 0,
    "send_hup": False,
    "reload_outdated": False,
    "stop_signal": signal.SIGTERM,
    "stop_children": False,
    "graceful_timeout": 30,
    "max_retry": 5,
    "retry_in": 7,
    "check_flapping": True,
    "flapping": {},
    "hooks": {},
    "stdout_stream": None,
    "stderr_stream": None,
    "options": {},
}

# key: (INI text, expected field value, invalid value, part of the expected message)
CASES = {
    "cmd": ("python -m app", "python -m app", "'oops", "No closing quotation"),
    "args": ("-u 'a b' $(circus.wid)", "-u 'a b' $(circus.wid)", '"x', "No closing quotation"),
    "executable": ("/usr/bin/python3", "/usr/bin/python3", ["x"], "expected a string"),
    "shell": ("true", True, "maybe", "expected a boolean"),
    "shell_args": ("-e -x", "-e -x", "'", "No closing quotation"),
    "working_dir": ("/srv/app", "/srv/app", {"no": 1}, "expected a string"),
    "uid": ("www-data", "www-data", "two words", "user/group name"),
    "gid": ("1000", 1000, "a;b", "user/group name"),
    "env": ("A=1,B=2", {"A": "1", "B": "2"}, "nope", "K=V pairs"),
    "copy_env": ("yes", True, "si", "expected a boolean"),
    "copy_path": ("off", False, "2", "expected a boolean"),
    "virtualenv": ("/srv/venv", None, ["x"], "expected a string"),  # needs copy_env: see below
    "virtualenv_py_ver": ("3.11", None, "three", "Python version"),
    "rlimits": ({"nofile": "100"}, {"nofile": 100}, {"nofile": "lots"}, "limit"),
    "use_sockets": ("True", True, "T", "expected a boolean"),
    "stdin_socket": ("Web", None, ["x"], "expected a string"),
    "close_child_stdin": ("false", False, "nein", "expected a boolean"),
    "close_child_stdout": ("1", True, "11", "expected a boolean"),
    "close_child_stderr": ("on", True, "onn", "expected a boolean"),
    "use_papa": ("false", False, "papa", "expected a boolean"),
    "max_age": ("3600", 3600.0, "-5", ">= 0"),
    "max_age_variance": ("1m", 60.0, "soon", "duration"),
    "numprocesses": ("5", 5, "five", "expected an integer"),
    "warmup_delay": ("0.5", 0.5, "-1", ">= 0"),
    "autostart": ("false", False, "never", "expected a boolean"),
    "respawn": ("no", False, "nah", "expected a boolean"),
    "on_demand": ("false", False, "lazy", "expected a boolean"),
    "singleton": ("true", True, "single", "expected a boolean"),
    "priority": ("-3", -3, "high", "expected an integer"),
    "send_hup": ("true", True, "hup", "expected a boolean"),
    "reload_outdated": ("true", True, "soon", "expected a boolean"),
    "stop_signal": ("quit", signal.SIGQUIT, "SIGNOPE", "signal"),
    "stop_children": ("true", True, "kids", "expected a boolean"),
    "graceful_timeout": ("10", 10.0, "ten", "duration"),
    "max_retry": ("-1", -1, "-2", ">= -1"),
    "retry_in": ("2.5", 2.5, "later", "duration"),
    "min_uptime": ("0.3", 0.3, "soon", "duration"),
    "check_flapping": ("false", False, "flappy", "expected a boolean"),
    "hooks": (
        {"before_start": "a.b"},
        {"before_start": HookSpec("a.b")},
        {"before_strat": "a.b"},
        "unknown hook 'before_strat'",
    ),
    "stdout_stream": (
        {"class": "StdoutStream"},
        StreamConfig("StdoutStream"),
        {"class": "Nope"},
        "unknown stream class 'Nope'",
    ),
    "stderr_stream": (
        {"filename": "/tmp/x.log"},
        StreamConfig("FileStream", {"filename": "/tmp/x.log"}),
        ["x"],
        "expected an object",
    ),
}
NEEDS = {
    "virtualenv": {"copy_env": "true"},
    "virtualenv_py_ver": {"copy_env": "true", "virtualenv": "/v"},
    "stdin_socket": {},
}


def test_every_schema_key_has_a_case():
    assert set(CASES) == set(WATCHER_OPTIONS)


def test_defaults_are_the_manuals():
    watcher = WatcherConfig(name="w", cmd="x")
    for field, expected in MANUAL_DEFAULTS.items():
        assert getattr(watcher, field) == expected, field
    for key, spec in WATCHER_OPTIONS.items():
        if key != "cmd":
            assert spec.default == getattr(watcher, spec.field), key


def test_default_watcher_from_a_file(load):
    watcher = load("[watcher:w]\ncmd = sleep 1\n").watchers[0]
    assert watcher == WatcherConfig(name="w", cmd="sleep 1")


def _ini_value(value):
    return value if isinstance(value, str) else None


@pytest.mark.parametrize("key", sorted(CASES))
def test_valid_value(key, load, tmp_path):
    text, expected, _bad, _msg = CASES[key]
    extra = dict(NEEDS.get(key, {}))
    if key == "stdin_socket":
        expected = "web"
    if key == "virtualenv":
        expected = "/srv/venv"
    if key == "virtualenv_py_ver":
        expected = "3.11"
    watcher = {"name": "w", "cmd": "sleep 1", **extra, key: text}
    if key == "cmd":
        watcher["cmd"] = text
    sockets = [{"name": "web", "port": 0}] if key == "stdin_socket" else []
    config = config_from_dict(
        {"watchers": [watcher], "sockets": sockets}, log_warnings=False, import_names=False
    )
    field = WATCHER_OPTIONS[key].field
    assert getattr(config.watchers[0], field) == expected
    if isinstance(text, str):  # the same through an INI file
        lines = "\n".join(f"{k} = {v}" for k, v in {**extra, key: text}.items() if k != "cmd")
        cmd = text if key == "cmd" else "sleep 1"
        socket = "[socket:web]\nport = 0\n" if key == "stdin_socket" else ""
        config = load(f"{socket}[watcher:w]\ncmd = {cmd}\n{lines}\n")
        assert getattr(config.watchers[0], field) == expected


@pytest.mark.parametrize("key", sorted(CASES))
def test_invalid_value(key, load):
    _text, _expected, bad, message = CASES[key]
    watcher = {"name": "w", "cmd": "sleep 1", key: bad}
    with pytest.raises(ConfigError) as info:
        config_from_dict({"watchers": [watcher]}, log_warnings=False)
    problems = info.value.problems
    assert len(problems) == 1, problems
    assert problems[0].section == "watcher:w"
    assert problems[0].key == key
    assert message in problems[0].message
    if isinstance(bad, str):  # the same through an INI file, with the line number
        text = (
            f"[watcher:w]\ncmd = sleep 1\n{key} = {bad}\n"
            if key != "cmd"
            else f"[watcher:w]\ncmd = {bad}\n"
        )
        (problem,) = load.problems(text)
        assert (problem.line, problem.section, problem.key) == (
            3 if key != "cmd" else 2,
            "watcher:w",
            key,
        )
        assert message in problem.message


@pytest.mark.parametrize(
    ("key", "value", "field", "expected"),
    [
        ("rlimit_nofile", "500", "rlimits", {"nofile": 500}),
        ("rlimit_NPROC", "", "rlimits", {"nproc": None}),
        ("rlimit_as", "2G", "rlimits", {"as": 2 * 1024**3}),
        (
            "hooks.before_start",
            "my.hooks.check",
            "hooks",
            {"before_start": HookSpec("my.hooks.check")},
        ),
        (
            "hooks.after_spawn",
            "my.hooks.x, true",
            "hooks",
            {"after_spawn": HookSpec("my.hooks.x", True)},
        ),
        ("flapping.max_retry", "2", "flapping", {"max_retry": 2}),
        ("flapping.window", "10", "flapping", {"window": 10.0}),
        ("flapping.attempts", "3", "flapping", {"attempts": 3}),
        ("flapping.retry_in", "7", "flapping", {"retry_in": 7.0}),
        ("flapping.active", "false", "flapping", {"active": False}),
        ("stdout_stream.class", "StdoutStream", "stdout_stream", StreamConfig("StdoutStream")),
        (
            "stderr_stream.class",
            "my.streams.Custom",
            "stderr_stream",
            StreamConfig("my.streams.Custom"),
        ),
    ],
)
def test_prefixed_keys(load, key, value, field, expected):
    watcher = load(f"[watcher:w]\ncmd = sleep 1\n{key} = {value}\n").watchers[0]
    assert getattr(watcher, field) == expected


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("rlimit_nofiles", "10", "unknown resource limit 'nofiles'"),
        ("rlimit_nofile", "many", "expected a limit"),
        ("hooks.before_strat", "a.b", "unknown hook 'before_strat'"),
        ("hooks.before_start", "not a path", "dotted Python name"),
        ("hooks.before_start", "a.b, perhaps", "expected a boolean"),
        ("flapping.max_retry", "x", "expected an integer"),
        ("stdout_stream.class", "FileStrem", "did you mean 'FileStream'?"),
        ("stdout_stream.max_bytes", "big", "size"),
        ("stdout_stream.backup_count", "-1", "expected a number >= 0"),
    ],
)
def test_prefixed_keys_invalid(load, key, value, message):
    problems = load.problems(
        f"[watcher:w]\ncmd = sleep 1\nstdout_stream.filename = /tmp/o\n{key} = {value}\n"
    )
    assert any(message in p.message and p.key == key and p.line == 4 for p in problems), problems


@pytest.mark.parametrize(
    ("cls", "key", "value", "message"),
    [
        ("TimedRotatingFileStream", "rotate_when", "weekly", "S, M, H, D, W0-W6, midnight"),
        ("TimedRotatingFileStream", "utc", "utc", "expected a boolean"),
        ("FancyStdoutStream", "color", "pink", "expected one of red"),
    ],
)
def test_bad_value_of_an_option_the_class_takes(load, cls, key, value, message):
    problems = load.problems(
        f"[watcher:w]\ncmd = sleep 1\nstdout_stream.class = {cls}\n"
        f"stdout_stream.filename = /tmp/o\nstdout_stream.{key} = {value}\n"
    )
    assert [(p.key, p.line) for p in problems] == [(f"stdout_stream.{key}", 5)], problems
    assert message in problems[0].message


def test_options_a_class_does_not_take_are_ignored_with_a_warning(load):
    """As the original (its classes took **kwargs): accepted, not passed, warned about; and
    the stream then builds at run time with the same rules (issue 8.1)."""
    from circus.streams import StdoutStream, build_stream

    config = load(
        """
        [watcher:w]
        cmd = sleep 1
        stdout_stream.class = StdoutStream
        stdout_stream.time_format = %H:%M:%S
        stdout_stream.color = pink
        stderr_stream.class = circus.stream.filestream
        stderr_stream.filename = /dev/null
        stderr_stream.max_byte = 10
        """
    )
    watcher = config.watchers[0]
    assert watcher.stdout_stream.class_name == "StdoutStream"
    assert watcher.stderr_stream.class_name == "FileStream"
    warnings = {w.key: w for w in config.warnings if w.key and "_stream." in w.key}
    assert set(warnings) == {
        "stdout_stream.time_format",
        "stdout_stream.color",
        "stderr_stream.max_byte",
    }
    message = warnings["stdout_stream.color"].message
    assert "StdoutStream does not take this option: ignored" in message
    assert warnings["stderr_stream.max_byte"].suggestion == "stderr_stream.max_bytes"
    # each at the line of its key, not of the section header
    lines = {key: warning.line for key, warning in warnings.items()}
    assert lines == {"stdout_stream.time_format": 5, "stdout_stream.color": 6,
                     "stderr_stream.max_byte": 9}, lines  # fmt: skip
    stream = build_stream(watcher.stdout_stream.as_dict(), prefix="stdout_stream")
    assert isinstance(stream, StdoutStream)
    build_stream(watcher.stderr_stream.as_dict(), prefix="stderr_stream").close()


def test_stream_options_are_converted(load):
    watcher = load(
        """
        [watcher:w]
        cmd = sleep 1
        stdout_stream.class = TimedRotatingFileStream
        stdout_stream.filename = /tmp/out.log
        stdout_stream.time_format = %Y-%m-%d %H:%M:%S
        stdout_stream.utc = True
        stdout_stream.rotate_when = h
        stdout_stream.rotate_interval = 1
        stdout_stream.backup_count = 5
        stdout_stream.custom = kept as text
        """
    ).watchers[0]
    assert watcher.stdout_stream.class_name == "TimedRotatingFileStream"
    assert dict(watcher.stdout_stream.options) == {
        "filename": "/tmp/out.log",
        "time_format": "%Y-%m-%d %H:%M:%S",
        "utc": True,
        "rotate_when": "H",
        "rotate_interval": 1,
        "backup_count": 5,
        "custom": "kept as text",
    }


def test_file_streams_need_a_filename_and_streams_need_a_class(load):
    messages = load.messages(
        "[watcher:a]\ncmd = x\nstdout_stream.class = FileStream\n"
        "[watcher:b]\ncmd = x\nstderr_stream.max_bytes = 10\n"
    )
    assert any("FileStream needs a filename" in m for m in messages), messages
    assert any("needs a 'class'" in m for m in messages)


def test_cmd_is_required(load):
    (problem,) = load.problems("[watcher:w]\nnumprocesses = 2\n")
    assert (problem.line, problem.section, problem.key) == (1, "watcher:w", "cmd")
    assert "missing required key 'cmd'" in problem.message


def test_rules_between_keys(load):
    messages = load.messages(
        """
        [watcher:a]
        cmd = x
        singleton = true
        numprocesses = 2
        [watcher:b]
        cmd = x
        copy_path = true
        [watcher:c]
        cmd = x
        virtualenv = /venv
        [watcher:d]
        cmd = x
        copy_env = true
        virtualenv_py_ver = 3.11
        """
    )
    assert any("singleton" in m and "[watcher:a] numprocesses" in m for m in messages)
    assert any("[watcher:b] copy_path: copy_path requires copy_env = true" in m for m in messages)
    assert any("[watcher:c] virtualenv: virtualenv requires copy_env" in m for m in messages)
    assert any("virtualenv_py_ver requires virtualenv" in m for m in messages)


def test_unknown_keys_warn_and_go_to_options(load):
    config = load("[watcher:w]\ncmd = x\nactive = true\nnumprocess = 3\nmy.plugin.opt = 1\n")
    watcher = config.watchers[0]
    assert dict(watcher.options) == {"active": "true", "numprocess": "3", "my.plugin.opt": "1"}
    assert watcher.numprocesses == 1
    typo = next(w for w in config.warnings if w.key == "numprocess")
    assert typo.suggestion == "numprocesses"
    assert typo.line == 4
    assert "unknown watcher option 'numprocess'" in str(typo)


def test_unknown_flapping_option_warns(load):
    plugin = "[plugin:flapping]\nuse = circus.plugins.flapping.Flapping\n"
    config = load(f"[watcher:w]\ncmd = x\nflapping.max_retires = 3\n{plugin}")
    assert config.watchers[0].flapping == {"max_retires": "3"}
    (warning,) = config.warnings
    assert warning.suggestion == "flapping.max_retry"


def test_names_keep_case_and_are_sorted(load):
    config = load("[watcher:b]\ncmd = x\n[watcher:Alpha]\ncmd = x\n")
    assert [w.name for w in config.watchers] == ["Alpha", "b"]
    assert config.get_watcher("ALPHA").name == "Alpha"


def test_names_differing_only_in_case_are_an_error(load):
    (problem,) = load.problems("[watcher:web]\ncmd = x\n[watcher:WEB]\ncmd = y\n")
    assert "'WEB' and 'web'" in problem.message and "case" in problem.message
    assert problem.line == 3


@pytest.mark.parametrize("name", ["", "my app", "circusd-stats", "circushttpd"])
def test_bad_watcher_names(load, name):
    (problem,) = load.problems(f"[watcher:{name}]\ncmd = x\n")
    assert problem.section == f"watcher:{name}"


def test_legacy_args_list_and_sockets(load):
    config = config_from_dict(
        {"watchers": [{"name": "w", "cmd": "x", "args": ["a", "$(circus.wid)"]}]}
    )
    assert config.watchers[0].args == ("a", "$(circus.wid)")


@pytest.mark.parametrize(
    "key, suggestion",
    [
        ("active", None),  # a bare word is not glued to a prefix: "hooks.active" is no hook
        ("before_start", "hooks.before_start"),
        ("stdout_steam.class", "stdout_stream.class"),
        ("flapping_max_retry", "flapping.max_retry"),
        ("numprocess", "numprocesses"),
        ("user", "uid"),
    ],
)
def test_suggestions_are_valid_keys(key, suggestion):
    """An unknown key is only ever matched against keys that exist (issue 8, item 7)."""
    from circus.config.schema import suggest_key

    assert suggest_key(key) == suggestion
