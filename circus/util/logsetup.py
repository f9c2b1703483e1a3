"""Logging set-up for circusd and the tools: ``--log-level``, ``--log-output``,
``--logger-config``.

``--log-output`` is ``-`` (stdout), a file path (reopened when rotated away), or
``syslog://[HOST[:PORT]][?FACILITY]`` / ``syslog:///dev/log?FACILITY``.
``--logger-config`` is a logging config file: ``.ini``/``.cfg`` (fileConfig), ``.json`` or
``.yaml``/``.yml`` (dictConfig; YAML needs PyYAML, which is optional).
"""

from __future__ import annotations

import json
import logging
import os
import sys

from circus.errors import ConfigError

LOG_FORMAT = "%(asctime)s %(name)s[%(process)d] [%(levelname)s] %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}


def _syslog_handler(output: str) -> logging.Handler:
    # imported here: logging.handlers (queue, copy...) and urllib are only needed for syslog
    import logging.handlers
    from urllib.parse import urlparse

    parsed = urlparse(output)
    facility_name = (parsed.query or "user").lower()
    facility = logging.handlers.SysLogHandler.facility_names.get(facility_name)
    if facility is None:
        raise ConfigError(f"--log-output {output!r}: unknown syslog facility {facility_name!r}")
    if parsed.netloc:
        address: str | tuple[str, int] = (parsed.hostname or "localhost", parsed.port or 514)
    else:
        address = parsed.path or "/dev/log"
        # the handler ignores a missing socket, then prints a traceback for every record
        if not os.path.exists(address):
            raise ConfigError(
                f"log output {output!r}: no syslog socket at {address} (is a syslog daemon "
                "running?)"
            )
    return logging.handlers.SysLogHandler(address=address, facility=facility)


def make_handler(output: str) -> logging.Handler:
    """The handler for a ``--log-output`` (or ``[circus] logoutput``) value; a file that cannot
    be opened or a bad syslog address is a :class:`ConfigError` naming it, not a traceback."""
    if output in ("-", "stdout"):
        return logging.StreamHandler(sys.stdout)
    if output == "stderr":
        return logging.StreamHandler(sys.stderr)
    try:
        if output.startswith("syslog://"):
            return _syslog_handler(output)
        # imported here: circusd logging to stdout (a service manager's journal) does without
        from papa_kernel.logfile import ReopeningFileHandler

        return ReopeningFileHandler(output)  # reopened after logrotate moved it
    except ValueError as exc:  # urllib's "Port out of range", a NUL in the path...
        raise ConfigError(f"log output {output!r}: {exc}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"log output {output!r}: cannot open it: {reason}") from None


def _load_config_file(path: str) -> None:
    import logging.config  # only for --logger-config: kept off circusd's start-up

    lowered = path.lower()
    try:
        if lowered.endswith((".ini", ".cfg", ".conf")):
            logging.config.fileConfig(path, disable_existing_loggers=False)
            return
        with open(path) as f:
            if lowered.endswith(".json"):
                data = json.load(f)
            elif lowered.endswith((".yaml", ".yml")):
                try:
                    import yaml  # optional dependency
                except ImportError:
                    raise ConfigError(
                        f"--logger-config {path}: YAML needs PyYAML "
                        "(pip install pyyaml), or use .json/.ini"
                    ) from None
                data = yaml.safe_load(f)
            else:
                raise ConfigError(
                    f"--logger-config {path}: unknown format (use .ini, .json or .yaml)"
                )
        logging.config.dictConfig(data)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"--logger-config {path}: {exc}") from None


def configure_logging(
    level: str = "info", output: str = "-", logger_config: str | None = None
) -> None:
    """Configure the root logger (idempotent: replaces handlers installed before)."""
    if logger_config and logger_config != "default":
        _load_config_file(logger_config)
        return
    lvl = LEVELS.get(str(level).lower())
    if lvl is None:
        raise ConfigError(f"--log-level {level!r}: expected one of {', '.join(LEVELS)}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    handler = make_handler(output)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT))
    root.addHandler(handler)
    root.setLevel(lvl)
