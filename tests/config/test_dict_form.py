"""config_from_dict: the dict form get_arbiter() takes."""

from __future__ import annotations

import pytest

from circus.config import HookSpec, StreamConfig, config_from_dict, load_config
from circus.errors import ConfigError


def test_library_example(runtime_dir):
    config = config_from_dict({"watchers": [{"cmd": "python myprogram.py", "numprocesses": 4}]})
    (watcher,) = config.watchers
    assert watcher.name == "python" and watcher.numprocesses == 4
    assert config.circus.check_delay == 1.0  # get_arbiter's default, not the INI's 5


def test_typed_values_and_nested_mappings(runtime_dir):
    config = config_from_dict(
        {
            "watchers": [
                {
                    "name": "web",
                    "cmd": "chaussette --fd $(circus.sockets.web)",
                    "args": ["--backend", "meinheld"],
                    "use_sockets": True,
                    "graceful_timeout": 2,
                    "stop_signal": "INT",
                    "rlimits": {"nofile": 1024},
                    "hooks": {"before_start": ("pkg.mod.check", True)},
                    "stdout_stream": {
                        "class": "FileStream",
                        "filename": "/tmp/x.log",
                        "max_bytes": "1M",
                    },
                    "env": {"A": "1"},
                    "options": {"flapping.max_retry": 3, "custom": {"nested": [1, 2]}},
                }
            ],
            "sockets": {"web": {"host": "127.0.0.1", "port": 0}},
            "plugins": [{"use": "circus.plugins.flapping.Flapping", "name": "flap", "window": 5}],
            "env": {"G": "g"},
            "controller": "tcp://127.0.0.1:5555",
            "check_delay": 1.0,
            "loop": object(),
        },
        log_warnings=False,
        import_names=False,  # pkg.mod.check is made up
    )
    (watcher,) = config.watchers
    assert watcher.args == ("--backend", "meinheld")
    assert watcher.graceful_timeout == 2.0 and watcher.stop_signal == 2
    assert watcher.rlimits == {"nofile": 1024}
    assert watcher.hooks == {"before_start": HookSpec("pkg.mod.check", True)}
    assert watcher.stdout_stream == StreamConfig(
        "FileStream", {"filename": "/tmp/x.log", "max_bytes": 1024**2}
    )
    assert watcher.env == {"G": "g", "A": "1"}
    assert watcher.flapping == {"max_retry": 3}
    assert watcher.options["custom"] == {"nested": (1, 2)}
    assert hash(config)  # nested values are frozen
    assert config.sockets[0].host == "127.0.0.1" and config.sockets[0].port == 0
    assert config.plugins[0].name == "flap" and config.plugins[0].config == {"window": 5}
    assert config.circus.endpoint == "tcp://127.0.0.1:5555" and config.circus.check_delay == 1.0


def test_dict_and_ini_give_the_same_model(load):
    from_ini = load(
        "[watcher:w]\ncmd = run\nnumprocesses = 3\nstop_signal = QUIT\n[socket:s]\nport = 9\n"
    )
    from_dict = config_from_dict(
        {
            "check_delay": 5,
            "watchers": [{"name": "w", "cmd": "run", "numprocesses": 3, "stop_signal": 3}],
            "sockets": [{"name": "s", "port": 9}],
        },
        environ={},
    )
    assert from_ini == from_dict


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ([1, 2], "expected a mapping"),
        ({"watchers": ["nope"]}, "watcher #1: expected an object"),
        ({"watchers": [{"cmd": ["x"], "name": "w"}]}, "expected a string"),
        ({"watchers": [{"name": "w"}]}, "missing required key 'cmd'"),
        ({"env": "A=1"}, "environment variables"),
        ({"sockets": [{"name": "s", "port": "x"}]}, "expected an integer"),
        ({"check_delay": "never"}, "duration"),
    ],
)
def test_bad_dicts(runtime_dir, mapping, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(mapping)


def test_load_config_accepts_pathlike(tmp_path, runtime_dir):
    path = tmp_path / "c.ini"
    path.write_text("[watcher:w]\ncmd = x\n")
    assert load_config(path, environ={}).path == str(path)


def test_hooks_may_be_callables_in_the_library_form(runtime_dir):
    def check(*args, **kwargs):
        return True

    config = config_from_dict(
        {
            "watchers": [
                {
                    "name": "w",
                    "cmd": "x",
                    "hooks": {"before_start": check, "after_start": (check, True)},
                }
            ]
        }
    )
    hooks = config.watchers[0].hooks
    assert hooks == {"before_start": HookSpec(check, False), "after_start": HookSpec(check, True)}
    from circus.config import watcher_option_values

    assert watcher_option_values(config.watchers[0])["hooks"]["after_start"].endswith("check,true")
