"""Small shared helpers with no policy (submodules), and ``circus.util`` of the original Circus.

The original's names are looked up lazily in the modules that implement them (see
:mod:`circus.util.compat`; the core imports this package, so it imports nothing eagerly).
``DEFAULT_ENDPOINT_DEALER`` and friends are computed at each access: they live in the private
runtime directory, which depends on ``$XDG_RUNTIME_DIR`` and the user.
"""

from circus.util.compat import facade

_ALIASES = {
    "DEFAULT_ENDPOINT_DEALER": "circus.control.defaults:default_endpoint()",
    "DEFAULT_ENDPOINT_SUB": "circus.control.defaults:default_pubsub_endpoint()",
    "DEFAULT_ENDPOINT_STATS": "circus.control.defaults:default_stats_endpoint()",
    "DEFAULT_ENDPOINT_MULTICAST": "circus.wire.discovery:DEFAULT_MULTICAST",
    "LOG_LEVELS": "circus.util.logsetup:LEVELS",
    "LOG_FMT": "circus.util.logsetup:LOG_FORMAT",
    "LOG_DATE_FMT": "circus.util.logsetup:LOG_DATE_FORMAT",
    "TRUTHY_STRINGS": "circus.config.converters:TRUE_WORDS",
    "FALSY_STRINGS": "circus.config.converters:FALSE_WORDS",
    "to_bool": "circus.config.converters:to_bool",
    "to_signum": "circus.config.converters:to_signum",
    "human2bytes": "circus.config.converters:to_size",
    "parse_env_str": "circus.config.converters:to_env",
    "env_to_str": "circus.control.options:env_to_text",
    "bytes2human": "circus.procinfo:bytes2human",
    "get_info": "circus.procinfo:get_info",
    "resolve_name": "circus.hooks:resolve",
    "get_connection": "circus.wire.tunnel:get_connection",
    # tornado's PeriodicCallback awaits a coroutine callback, as the original's subclass did
    "AsyncPeriodicCallback": "tornado.ioloop:PeriodicCallback",
}

_INTERNAL = "an internal helper of the original's implementation, with no counterpart here"
_MISSING = {
    "configure_logger": "use circus.util.logsetup.configure_logging(level, output, "
    "logger_config), which configures the root logger",
    "to_uid": "watchers take uid/gid as a name or a number (circus.spawning.resolve_uid)",
    "to_gid": "watchers take uid/gid as a name or a number (circus.spawning.resolve_gid)",
    "replace_gnu_args": "$(circus.*) substitution is circus.config.substitution.substitute",
    "load_virtualenv": "use the watcher options virtualenv and copy_env",
    **{
        name: _INTERNAL
        for name in (
            "INDENTATION_LEVEL",
            "IS_WINDOWS",
            "LOG_DATE_SYSLOG_FMT",
            "MAXFD",
            "DictDiffer",
            "ImportStringError",
            "ObjectDict",
            "StrictConfigParser",
            "TransformableFuture",
            "check_future_exception_and_log",
            "close_on_exec",
            "convert_opt",
            "create_udp_socket",
            "debuglog",
            "dict_differ",
            "get_default_gid",
            "get_python_version",
            "get_username_from_uid",
            "get_working_dir",
            "parse_env_dict",
            "replace_env",
            "synchronized",
            "to_bytes",
            "to_str",
            "tornado_sleep",
        )
    },
}
__getattr__, __dir__ = facade(__name__, _ALIASES, _MISSING)
__all__ = sorted(_ALIASES)
