"""The watcher option schema: every key, its converter, and whether changing it restarts processes.

This table is the one place that knows the watcher keys. The loader uses it for
``[watcher:NAME]`` sections and the dict form; the control commands use it for the values users
send with ``add``, ``set`` and ``get``:

>>> convert_watcher_option("numprocesses", "3")
3
>>> convert_watcher_option("stop_signal", "quit")
3
>>> needs_restart("numprocesses"), needs_restart("cmd")
(False, True)

A bad key or value raises :class:`~circus.errors.ConfigError` whose single problem names the key,
what was expected and what was found, with a "did you mean" for a misspelt key.

Keys are the manual's: plain keys (``numprocesses``), whole-mapping keys (``env``, ``hooks``,
``rlimits``, ``stdout_stream``, ``stderr_stream``) and prefixed keys (``rlimit_nofile``,
``hooks.before_start``, ``stdout_stream.filename``, ``flapping.max_retry``). "Live" keys (restart
False) are the ones the original ``set`` applies without reloading processes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from circus.config import converters as cv
from circus.config import stream_options as so
from circus.config.model import FrozenMap, HookSpec, StreamConfig, WatcherConfig, freeze, thaw
from circus.errors import ConfigError, ConfigProblem
from circus.util.suggest import nearest
from papa_kernel import records
from papa_kernel.records import frozen_record

HOOK_NAMES = (
    "before_start",
    "after_start",
    "before_spawn",
    "after_spawn",
    "before_stop",
    "after_stop",
    "before_signal",
    "after_signal",
    "before_reap",
    "after_reap",
    "extended_stats",
)

#: WatcherConfig's fields by name (where the defaults are read)
_WATCHER_FIELDS = {spec.name: spec for spec in records.fields(WatcherConfig)}


@frozen_record
class OptionSpec:
    """One watcher key: its model field, converter, and whether a change restarts processes."""

    key: str
    field: str
    convert: Callable[[Any], Any]
    restart: bool
    doc: str

    @property
    def default(self) -> Any:
        """The default, read from :class:`WatcherConfig` (one source of truth)."""
        spec = _WATCHER_FIELDS[self.field]
        if spec.default_factory is not records.MISSING:
            return spec.default_factory()
        return spec.default


def _min(convert: Callable[..., Any], minimum: float) -> Callable[[Any], Any]:
    return lambda value: convert(value, minimum)


def _required_str(value: Any) -> str:
    text = cv.to_str(value).strip()
    if not text:
        raise ValueError("expected a command, got an empty value")
    cv.check_shell_words(text)
    return text


def _py_version(value: Any) -> str | None:
    text = cv.to_optional_str(value)
    if text is not None and not re.fullmatch(r"\d+(\.\d+){0,2}", text):
        raise ValueError(f"expected a Python version such as '3.11', got {cv.show(value)}")
    return text


def _socket_name(value: Any) -> str | None:
    text = cv.to_optional_str(value)
    return text.lower() if text else None


def _hook_target(value: Any) -> Any:
    return value if callable(value) else cv.to_dotted_name(value)


def to_hook(value: Any) -> HookSpec:
    """``"pkg.mod.func"``, ``"pkg.mod.func, true"`` (true: ignore the hook's errors), or a
    ``(path, ignore_errors)`` pair; the library form may give the callable itself."""
    if callable(value):
        return HookSpec(value, False)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return HookSpec(_hook_target(value[0]), cv.to_bool(value[1]))
    text = cv.to_str(value)
    path, sep, flag = text.partition(",")
    return HookSpec(cv.to_dotted_name(path), cv.to_bool(flag) if sep else False)


def to_hooks(value: Any) -> dict[str, HookSpec]:
    """A mapping hook name -> hook, or the circusctl text ``name:path,name2:path2``."""
    if isinstance(value, str):
        pairs = [p.split(":", 1) for p in value.split(",") if p.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"expected 'name:dotted.path,...', got {cv.show(value)}")
        value = {name.strip(): path.strip() for name, path in pairs}
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object of hooks, got {cv.show(value)}")
    return {hook_name(name): to_hook(item) for name, item in value.items()}


def hook_name(name: Any) -> str:
    if name not in HOOK_NAMES:
        hint = nearest(str(name), HOOK_NAMES)
        raise ValueError(
            f"unknown hook {cv.show(name)} (known: {', '.join(HOOK_NAMES)})"
            + (f"; did you mean {hint!r}?" if hint else "")
        )
    return name


def to_stream_class(value: Any) -> str:
    """A built-in stream class name (any case, with or without ``circus.stream.``; returned
    as the class is spelt) or a dotted path to a custom one."""
    text = cv.to_str(value).strip()
    builtin = so.builtin_class_name(text)
    if builtin is not None:
        return builtin
    if so.is_custom_class_path(text):
        return cv.to_dotted_name(text)
    classes = tuple(so.CLASS_OPTIONS)
    hint = nearest(text.rpartition(".")[2], classes)
    raise ValueError(
        f"unknown stream class {cv.show(value)} (built-in: {', '.join(classes)}, or a "
        "dotted path to your own)" + (f"; did you mean {hint!r}?" if hint else "")
    )


def stream_option(name: str, value: Any) -> Any:
    """One ``stdout_stream.NAME`` value: the class name is resolved; any other value is kept
    as given until the class is known (:func:`finish_stream` converts the options of a
    built-in class; a custom class gets them as written)."""
    if name == "class":
        return to_stream_class(value)
    return freeze(value)


def to_stream(value: Any) -> dict[str, Any]:
    """A whole stream mapping ``{"class": ..., "filename": ...}``."""
    if not isinstance(value, Mapping):
        raise ValueError(
            f"expected an object such as {{'class': 'FileStream'}}, got {cv.show(value)}"
        )
    return {str(name): stream_option(str(name), item) for name, item in value.items()}


StreamReport = Callable[[so.OptionIssue], None]


def finish_stream(options: Mapping[str, Any], report: StreamReport) -> StreamConfig | None:
    """Check a gathered stream mapping with the rules of :mod:`circus.config.stream_options`
    (the ones the stream is built with at run time) and build its :class:`StreamConfig` (None
    when empty). Every issue goes to ``report``; errors also make the result None. Without
    ``class``, a ``filename`` means a FileStream (as in the original)."""
    if not options:
        return None
    rest = {k: v for k, v in options.items() if k != "class"}
    class_name = options.get("class") or ("FileStream" if "filename" in rest else None)
    if class_name is None:
        report(
            so.OptionIssue("class", "a stream needs a 'class' (or a 'filename' for a FileStream)")
        )
        return None
    if class_name not in so.CLASS_OPTIONS:  # a custom class gets the values as written
        return StreamConfig(class_name, FrozenMap(rest))
    kwargs, issues = so.check_options(class_name, rest)
    for issue in issues:
        report(issue)
    if any(not issue.ignored for issue in issues):
        return None
    # the options ignored stay visible (``get``, ``options``), as written
    kept = {k: kwargs.get(k, v) for k, v in rest.items()}
    return StreamConfig(class_name, FrozenMap(kept))


FLAPPING_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "attempts": _min(cv.to_int, 1),
    "window": cv.to_duration,
    "retry_in": cv.to_duration,
    "max_retry": _min(cv.to_int, -1),
    "active": cv.to_bool,
}


def flapping_option(name: str, value: Any) -> Any:
    convert = FLAPPING_OPTIONS.get(name)
    return freeze(value) if convert is None else convert(value)


def to_rlimits(value: Any) -> dict[str, int | None]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object of resource limits, got {cv.show(value)}")
    return {cv.to_rlimit_name(str(name)): cv.to_rlimit(item) for name, item in value.items()}


def _spec(
    key: str, convert: Callable[[Any], Any], restart: bool, doc: str, field: str | None = None
) -> OptionSpec:
    return OptionSpec(key, field or key, convert, restart, doc)


RESTART, LIVE = True, False

#: Plain and whole-mapping watcher keys.
WATCHER_OPTIONS: dict[str, OptionSpec] = {
    s.key: s
    for s in (
        _spec("cmd", _required_str, RESTART, "the program to run, with its arguments"),
        _spec("args", cv.to_args, RESTART, "more arguments: a string (shell-split) or a list"),
        _spec("executable", cv.to_optional_str, RESTART, "program file to exec (argv[0] kept)"),
        _spec("shell", cv.to_bool, RESTART, "run the command line through /bin/sh -c"),
        _spec("shell_args", cv.to_optional_args, RESTART, "extra arguments for the shell"),
        _spec("working_dir", cv.to_optional_str, RESTART, "working directory of the processes"),
        _spec("uid", cv.to_id, RESTART, "user name or id to run as"),
        _spec("gid", cv.to_id, RESTART, "group name or id to run as"),
        _spec("env", lambda v: FrozenMap(cv.to_env(v)), RESTART, "environment variables"),
        _spec("copy_env", cv.to_bool, RESTART, "start from circusd's environment"),
        _spec("copy_path", cv.to_bool, RESTART, "pass circusd's sys.path as PYTHONPATH"),
        _spec("virtualenv", cv.to_optional_str, RESTART, "root of a virtualenv to load"),
        _spec("virtualenv_py_ver", _py_version, RESTART, "Python version of the virtualenv"),
        _spec("rlimits", lambda v: FrozenMap(to_rlimits(v)), RESTART, "resource limits"),
        _spec("use_sockets", cv.to_bool, RESTART, "let processes inherit the sockets"),
        _spec("stdin_socket", _socket_name, RESTART, "socket placed at the processes' fd 0"),
        _spec("close_child_stdin", cv.to_bool, RESTART, "stdin from /dev/null"),
        _spec("close_child_stdout", cv.to_bool, RESTART, "stdout to /dev/null"),
        _spec("close_child_stderr", cv.to_bool, RESTART, "stderr to /dev/null"),
        _spec("use_papa", cv.to_bool, RESTART, "host processes in papa-kernel"),
        _spec("max_age", cv.to_duration, RESTART, "recycle processes after this many seconds"),
        _spec("max_age_variance", cv.to_duration, RESTART, "random extra age, in seconds"),
        _spec("numprocesses", _min(cv.to_int, 0), LIVE, "number of processes"),
        _spec("warmup_delay", cv.to_duration, LIVE, "delay between two spawns, in seconds"),
        _spec("autostart", cv.to_bool, LIVE, "start with circusd"),
        _spec("respawn", cv.to_bool, LIVE, "replace processes that exit"),
        _spec("on_demand", cv.to_bool, LIVE, "start on the first connection to a socket"),
        _spec("singleton", cv.to_bool, LIVE, "at most one process"),
        _spec("priority", cv.to_int, LIVE, "start order: higher first"),
        _spec("send_hup", cv.to_bool, LIVE, "reload by sending SIGHUP"),
        _spec(
            "reload_outdated",
            cv.to_bool,
            LIVE,
            "replace adopted processes spawned from an older configuration, one at a time",
        ),
        _spec("stop_signal", cv.to_signum, LIVE, "signal that asks a process to stop"),
        _spec("stop_children", cv.to_bool, LIVE, "send stop_signal to children too"),
        _spec("graceful_timeout", cv.to_duration, LIVE, "seconds before SIGKILL"),
        _spec("max_retry", _min(cv.to_int, -1), LIVE, "spawn attempts, -1 = forever"),
        _spec("retry_in", cv.to_duration, LIVE, "seconds before retrying a failed spawn"),
        _spec(
            "min_uptime",
            cv.to_duration,
            LIVE,
            "seconds a process must run for its start to count as successful",
        ),
        _spec("check_flapping", cv.to_bool, LIVE, "let the flapping plugin watch this watcher"),
        _spec("hooks", lambda v: FrozenMap(to_hooks(v)), LIVE, "hooks by name"),
        _spec("stdout_stream", to_stream, LIVE, "where stdout goes"),
        _spec("stderr_stream", to_stream, LIVE, "where stderr goes"),
    )
}

#: Prefixed keys: prefix -> (model field, item converter taking (subkey, value), restart).
WATCHER_PREFIXES: dict[str, tuple[str, Callable[[str, Any], tuple[str, Any]], bool]] = {
    "rlimit_": ("rlimits", lambda k, v: (cv.to_rlimit_name(k), cv.to_rlimit(v)), RESTART),
    "hooks.": ("hooks", lambda k, v: (hook_name(k), to_hook(v)), LIVE),
    "stdout_stream.": ("stdout_stream", lambda k, v: (k, stream_option(k, v)), LIVE),
    "stderr_stream.": ("stderr_stream", lambda k, v: (k, stream_option(k, v)), LIVE),
    "flapping.": ("flapping", lambda k, v: (k, flapping_option(k, v)), LIVE),
}

#: Keys that are not options but identify the watcher (dict form, ``add``).
IDENTITY_KEYS = ("name",)


def split_key(key: str) -> tuple[str, str | None]:
    """``("rlimit_", "nofile")`` for ``rlimit_nofile``; ``(key, None)`` for a plain key;
    raises KeyError for an unknown key."""
    if key in WATCHER_OPTIONS:
        return key, None
    for prefix in WATCHER_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return prefix, key[len(prefix) :]
    raise KeyError(key)


#: Supervisor's names for watcher keys, suggested to people coming from it.
SUPERVISOR_NAMES = {
    "command": "cmd",
    "directory": "working_dir",
    "user": "uid",
    "group": "gid",
    "environment": "env",
    "numprocs": "numprocesses",
    "autorestart": "respawn",
    "stopsignal": "stop_signal",
    "stopwaitsecs": "graceful_timeout",
    "stopasgroup": "stop_children",
    "startretries": "max_retry",
    "startsecs": "min_uptime",
    "redirect_stderr": "stderr_stream.class",
}


def suggest_key(key: str) -> str | None:
    """The known watcher key closest to a misspelt one (``numprocess`` -> ``numprocesses``,
    ``stdout_steam.class`` -> ``stdout_stream.class``, supervisor's ``user`` -> ``uid``)."""
    if key.lower() in SUPERVISOR_NAMES:
        return SUPERVISOR_NAMES[key.lower()]
    return nearest(key, [*WATCHER_OPTIONS, *_prefixed_keys()])


def _prefixed_keys() -> list[str]:
    """Every valid prefixed key (``hooks.after_start``...): only real keys are suggested, never
    a prefix glued to an unknown word (``active`` -> ``hooks.active`` is no hook)."""
    names = {
        "rlimit_": cv.rlimit_names(),
        "hooks.": HOOK_NAMES,
        "stdout_stream.": so.OPTION_NAMES,
        "stderr_stream.": so.OPTION_NAMES,
        "flapping.": FLAPPING_OPTIONS,
    }
    return [prefix + name for prefix in WATCHER_PREFIXES for name in names[prefix]]


def unknown_key_problem(key: str, section: str | None = None) -> ConfigProblem:
    return ConfigProblem(
        f"unknown watcher option {key!r}", section=section, key=key, suggestion=suggest_key(key)
    )


def needs_restart(key: str) -> bool:
    """True when changing ``key`` means the watcher's processes must be restarted; False for
    live options (applied to the running watcher). Unknown (free-form) keys are live."""
    try:
        base, _ = split_key(key)
    except KeyError:
        return False
    return WATCHER_OPTIONS[base].restart if base in WATCHER_OPTIONS else WATCHER_PREFIXES[base][2]


def field_needs_restart(field_name: str) -> bool:
    """Same as :func:`needs_restart`, by :class:`WatcherConfig` field name (``name`` and the
    free-form ``options`` are live)."""
    for spec in WATCHER_OPTIONS.values():
        if spec.field == field_name:
            return spec.restart
    for field, _convert, restart in WATCHER_PREFIXES.values():
        if field == field_name:
            return restart
    return False


def convert_watcher_option(key: str, value: Any, section: str | None = None) -> Any:
    """Validate and convert one watcher option value (text or JSON value).

    Returns the model's representation: for a plain key the field value; for a prefixed key
    the converted item (``rlimit_nofile`` -> int or None, ``hooks.X`` -> :class:`HookSpec`...).
    Raises :class:`ConfigError` naming the key (and ``section``, if given).
    """
    try:
        base, sub = split_key(key)
    except KeyError:
        raise ConfigError(unknown_key_problem(key, section)) from None
    try:
        if sub is None:
            return WATCHER_OPTIONS[base].convert(value)
        return WATCHER_PREFIXES[base][1](sub, value)[1]
    except (ValueError, TypeError) as exc:
        raise ConfigError(ConfigProblem(str(exc), section=section, key=key)) from None


def watcher_option_values(watcher: WatcherConfig) -> dict[str, Any]:
    """The watcher's options as the ``options`` and ``get`` commands return them (JSON-friendly):
    the original's names (``stdout_stream_conf`` includes ``class``), ``flapping.*`` and the
    free-form options flattened, signals as numbers."""
    values: dict[str, Any] = {}
    for spec in WATCHER_OPTIONS.values():
        if spec.key in ("stdout_stream", "stderr_stream"):
            stream = getattr(watcher, spec.field)
            values[f"{spec.key}_conf"] = stream.as_dict() if stream else {}
        else:
            values[spec.key] = thaw(getattr(watcher, spec.field))
    values["name"] = watcher.name
    values.update({f"flapping.{k}": thaw(v) for k, v in watcher.flapping.items()})
    for key, value in watcher.options.items():
        values.setdefault(key, thaw(value))
    return values
