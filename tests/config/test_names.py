"""Every dotted name a configuration refers to is imported at load time (issue 8, item 3)."""

from __future__ import annotations

import pytest

from circus.config import config_from_dict, load_config
from circus.config.names import check_watcher
from circus.errors import ConfigError


def _load(tmp_path, text: str):
    path = tmp_path / "circus.ini"
    path.write_text(text)
    return path, load_config(path, log_warnings=False)


def _problems(tmp_path, text: str):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    return info.value.problems


def test_importable_names_load(tmp_path, runtime_dir):
    _path, config = _load(
        tmp_path,
        "[watcher:web]\ncmd = sleep 1\nhooks.before_start = os.getcwd\n"
        "stdout_stream.class = collections.deque\nstderr_stream.class = circus.stream.FileStream\n"
        "stderr_stream.filename = /dev/null\n",
    )
    assert config.watchers[0].hooks["before_start"].path == "os.getcwd"


def test_whole_hooks_mapping_is_located_on_its_line(tmp_path, runtime_dir):
    path = tmp_path / "circus.ini"
    [problem] = _problems(
        tmp_path, "[watcher:web]\ncmd = sleep 1\nhooks = before_start:os.getcwd,after_stop:x.y\n"
    )
    assert (problem.file, problem.line, problem.key) == (str(path), 3, "hooks.after_stop")
    assert "cannot import module 'x'" in problem.message


def test_module_raising_at_import_is_reported_not_raised(tmp_path, runtime_dir, monkeypatch):
    (tmp_path / "badhooks.py").write_text("raise RuntimeError('broken at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    [problem] = _problems(
        tmp_path, "[watcher:web]\ncmd = sleep 1\nhooks.after_start = badhooks.f\n"
    )
    assert "RuntimeError: broken at import" in problem.message


@pytest.mark.parametrize(
    "use",
    [
        "circus.plugins.resource_watcher.ResourceWatcher",
        "circus.plugins.redis_observer.RedisObserver",
        "circus.plugins.prometheus.PrometheusExporter",
    ],
)
def test_every_builtin_plugin_imports(tmp_path, runtime_dir, use):
    _path, config = _load(tmp_path, f"[plugin:p]\nuse = {use}\n")
    assert config.warnings == ()


def test_a_missing_builtin_plugin_class_is_an_error(tmp_path, runtime_dir):
    [problem] = _problems(tmp_path, "[plugin:p]\nuse = circus.plugins.statsd.NoSuchPlugin\n")
    assert problem.key == "use" and "NoSuchPlugin" in problem.message


def test_the_flapping_plugin_imports(tmp_path, runtime_dir):
    _path, config = _load(tmp_path, "[plugin:flap]\nuse = circus.plugins.flapping.Flapping\n")
    assert config.warnings == ()


def test_dict_form_imports_names_but_not_callables(runtime_dir):
    def check(**kwargs):
        return True

    config_from_dict({"watchers": [{"cmd": "x", "hooks": {"before_start": check}}]})
    with pytest.raises(ConfigError) as info:
        config_from_dict({"watchers": [{"cmd": "x", "hooks": {"before_start": "no.where"}}]})
    assert info.value.problems[0].key == "hooks.before_start"


def test_check_watcher_for_add_and_set(runtime_dir):
    config = config_from_dict(
        {"watchers": [{"name": "w", "cmd": "x", "hooks": {"after_stop": "no.where"}}]},
        import_names=False,
    )
    with pytest.raises(ConfigError) as info:
        check_watcher(config.watchers[0])
    assert str(info.value.problems[0]).startswith("[watcher:w] hooks.after_stop: hook 'no.where'")


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("os.getcwd", "getcwd"),
        ("os:getcwd", "getcwd"),
        ("os.path:join", "join"),
        (" os.path.join ", "join"),
        ("collections:OrderedDict.fromkeys", "fromkeys"),
    ],
)
def test_import_dotted_forms(path, found):
    from circus.util.dotted import import_callable

    assert import_callable(path).__name__ == found


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("nodots", "is not a dotted name"),
        ("os.", "is not a dotted name"),
        (":x", "is not a dotted name"),
        ("os.nothere", "has no attribute 'nothere'"),
        ("os.sep", "is not callable"),
        ("nomodule.f", "No module named 'nomodule'"),
    ],
)
def test_import_dotted_refusals(path, reason):
    from circus.util.dotted import import_callable

    with pytest.raises(ValueError, match=reason):
        import_callable(path)


def test_builtin_plugin_options_are_checked_at_load(tmp_path, runtime_dir):
    """A bad value of a built-in plugin's option is an error at its line naming the key; a
    misspelt key is a warning with the nearest option; watcher keys are the watcher's."""
    path = tmp_path / "circus.ini"
    path.write_text(
        "[plugin:stats]\n"
        "use = circus.plugins.statsd.FullStats\n"
        "loop_rate = fast\n"
        "prot = 8125\n"
        "priority = 3\n"
        "[plugin:res]\n"
        "use = circus.plugins.resource_watcher.ResourceWatcher\n"
        "watcher = web\n"
        "max_mem = lots\n"
        "child_signal = SIGNOPE\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, log_warnings=False)
    errors = {(p.line, p.key): p.message for p in info.value.problems}
    assert "FullStats option loop_rate: expected a number, got 'fast'" in errors[(3, "loop_rate")]
    assert "ResourceWatcher option max_mem: expected a % (90) or a size" in errors[(9, "max_mem")]
    assert (10, "child_signal") in errors
    [warning] = [w for w in info.value.warnings if w.key == "prot"]
    assert warning.line == 4 and warning.suggestion == "port"
    assert not any(w.key == "priority" for w in info.value.warnings)  # the watcher's key


def test_plugins_that_declare_nothing_are_not_checked(tmp_path, runtime_dir, monkeypatch):
    (tmp_path / "myplug.py").write_text(
        "from circus.plugins import CircusPlugin\nclass Mine(CircusPlugin):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    _path, config = _load(tmp_path, "[plugin:m]\nuse = myplug.Mine\nanything = goes\n")
    assert config.warnings == ()
