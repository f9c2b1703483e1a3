"""Translate a Supervisor configuration (supervisord.conf and its includes) into a Circus one.

:func:`convert` reads the file with circus's own INI reader (so every key keeps its file and
line), follows ``[include] files``, and returns the Circus INI text and the list of
:class:`Warning` for everything it could not map exactly (each with its ``file:line``).

What maps (Supervisor -> Circus):

- ``[program:x]`` -> ``[watcher:x]``: ``command`` -> ``cmd``, ``numprocs`` -> ``numprocesses``,
  ``directory`` -> ``working_dir``, ``user`` -> ``uid``, ``environment`` -> ``[env:x]`` (with
  ``copy_env = true``: Supervisor's children inherit its environment), ``autostart``,
  ``autorestart`` -> ``respawn``, ``startretries`` -> ``max_retry``, ``startsecs`` ->
  ``min_uptime``, ``stopsignal`` ->
  ``stop_signal``, ``stopwaitsecs`` -> ``graceful_timeout``, ``stopasgroup``/``killasgroup``
  -> ``stop_children``, ``priority`` -> ``priority`` (Supervisor starts the lowest first,
  Circus the highest: ``999 - priority``), ``stdout_logfile`` with ``_maxbytes`` and
  ``_backups`` -> ``stdout_stream.*`` (a FileStream; the same for stderr, and
  ``redirect_stderr`` sends stderr to the stdout file). Supervisor's defaults that differ from
  Circus's (``startretries`` 3, ``stopwaitsecs`` 10) are written out so behaviour is kept.
- ``%(program_name)s``, ``%(group_name)s``, ``%(here)s``, ``%(ENV_X)s`` (-> ``$(circus.env.x)``)
  and ``%(process_num)s`` (-> ``$(circus.wid)``, which counts from 1: exact when
  ``numprocs_start`` is 1) in values.
- ``[group:g]``: a comment above its programs; a group ``priority`` becomes theirs.
- ``[supervisord]``: ``logfile`` -> ``logoutput``, ``loglevel``, ``pidfile``, ``umask``,
  ``environment`` -> ``[env]``.
- ``[include] files``: the included files are converted inline, in order.

Everything else (``exitcodes``, ``umask`` of a program,
``process_name``, ``*_syslog``, ``*_capture_maxbytes``, event listeners, fcgi programs, the XML-RPC
servers...) is a warning naming the key and its line, and left out.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from circus.config.ini import Entry, Section, parse_text
from circus.config.problems import Origin, Problems

#: Supervisor keys that say nothing Circus needs (the sample config's own; no warning).
QUIET_SECTIONS = ("rpcinterface:", "supervisorctl")
SIZE_SUFFIXES = {"KB": 1024, "MB": 1024**2, "GB": 1024**3}
_EXPANSION = re.compile(r"%\((\w+)\)([-#0 +]*\d*)([sd])|%%")
MAX_INCLUDE_DEPTH = 10
#: Supervisor's inline comments: ';' or '#' after whitespace, on any line of a value
#: (configparser's inline_comment_prefixes; circus's own syntax knows only ';').
_INLINE_COMMENT = re.compile(r"\s[;#].*")
#: A '$' Supervisor passes on as is; circus's [env] sections expand $NAME ('$$' is a '$'),
#: but not the $(circus.env.x) this converter writes for %(ENV_X)s.
_LITERAL_DOLLAR = re.compile(r"\$(?!\(circus\.)")
#: Supervisor's log levels more verbose than debug.
LEVELS_BELOW_DEBUG = ("trace", "blather")


class UnreadableError(Exception):
    """A file of the configuration (the main one or an included one) cannot be read."""


@dataclass(frozen=True)
class Warning:
    """Something that was not mapped exactly: where, and why."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class Output:
    """The Circus INI being written, section by section."""

    sections: list[tuple[str, list[str], list[tuple[str, str]]]] = field(default_factory=list)

    def section(self, name: str, comments: list[str] | None = None) -> list[tuple[str, str]]:
        items: list[tuple[str, str]] = []
        self.sections.append((name, comments or [], items))
        return items

    def text(self, header: str) -> str:
        lines = [f"; {line}" if line else ";" for line in header.splitlines()]
        for name, comments, items in self.sections:
            lines.append("")
            lines += [f"; {comment}" for comment in comments]
            lines.append(f"[{name}]")
            for key, value in items:
                shown = value.replace("\n", "\n    ")
                lines.append(f"{key} = {shown}")
        return "\n".join(lines) + "\n"


class Converter:
    """One conversion: reads files, collects warnings, writes :class:`Output`."""

    def __init__(self) -> None:
        self.warnings: list[Warning] = []
        self.output = Output()
        self.programs: list[tuple[str, Section, str]] = []  # name, section, file dir
        self.groups: dict[str, tuple[Section, list[str], int | None]] = {}
        self.supervisord: Section | None = None
        self.supervisord_dir = ""
        self._seen: set[str] = set()

    # --- reading -------------------------------------------------------------------------

    def read(self, path: str, depth: int = 0) -> None:
        path = os.path.abspath(path)
        if path in self._seen:
            return
        self._seen.add(path)
        problems = Problems()
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UnreadableError(f"cannot read {path}: {reason}") from None
        sections = parse_text(text, path, problems, last_wins=True)
        for problem in problems.errors + problems.warnings:
            self.warnings.append(Warning(f"{problem.file}:{problem.line}", problem.message))
        here = os.path.dirname(path)
        for section in sections:
            section.entries = {k.lower(): e for k, e in section.entries.items()}
            for entry in section.entries.values():
                entry.value = _uncomment(str(entry.value))
            self._section(section, here, depth)

    def _section(self, section: Section, here: str, depth: int) -> None:
        kind, _, name = section.name.partition(":")
        kind = kind.strip().lower()
        if kind == "program" and name:
            self.programs.append((name.strip(), section, here))
        elif kind == "group" and name:
            members = list(_words(self._get(section, "programs", here, {}) or "", ","))
            priority = self._int(section, "priority", here, {})
            self.groups[name.strip()] = (section, members, priority)
            self._warn_unknown(section, ("programs", "priority"))
        elif kind == "supervisord":
            self.supervisord, self.supervisord_dir = section, here
        elif kind == "include":
            if depth >= MAX_INCLUDE_DEPTH:
                self._warn(section.origin, f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
                return
            for pattern in _words(self._get(section, "files", here, {}) or "", None):
                full = pattern if os.path.isabs(pattern) else os.path.join(here, pattern)
                matches = sorted(glob.glob(full))
                if not matches:
                    self._warn(section.entries["files"].origin, f"{pattern}: no such file")
                for match in matches:
                    self.read(match, depth + 1)
        elif section.name.startswith(QUIET_SECTIONS):
            return
        elif kind in ("unix_http_server", "inet_http_server"):
            self._warn(
                section.origin,
                f"[{section.name}]: Supervisor's XML-RPC server has no counterpart; circusctl "
                "talks to circusd's endpoint (a private unix socket by default, see "
                "docs/security.md)",
            )
        else:
            self._warn(section.origin, f"[{section.name}]: no Circus counterpart; left out")

    # --- writing -------------------------------------------------------------------------

    def write(self) -> None:
        self._write_circus()
        in_group = {m: g for g, (_s, members, _p) in self.groups.items() for m in members}
        for name, section, here in self.programs:
            self._write_program(name, section, here, in_group.get(name))
        for group, (section, members, _p) in self.groups.items():
            known = {name for name, _s, _h in self.programs}
            for member in members:
                if member not in known:
                    self._warn(section.origin, f"group {group}: no [program:{member}]")

    def _write_circus(self) -> None:
        section = self.supervisord
        if section is None:
            return
        here, context = self.supervisord_dir, dict[str, str]()
        items = self.output.section("circus")
        for key in ("loglevel", "pidfile", "umask"):
            value = self._get(section, key, here, context)
            if value is not None:
                items.append((key, self._level(value, section) if key == "loglevel" else value))
        logfile = self._get(section, "logfile", here, context)
        if logfile is not None:
            items.append(("logoutput", logfile))
        environment = self._get(section, "environment", here, context)
        if environment:
            env = self.output.section("env", ["[supervisord] environment: every program's"])
            env += self._env_pairs(environment, section.entries["environment"].origin)
        handled = ("loglevel", "pidfile", "umask", "logfile", "environment")
        quiet = ("nodaemon", "silent", "logfile_maxbytes", "logfile_backups", "childlogdir")
        self._warn_unknown(section, handled + quiet)
        for key in ("logfile_maxbytes", "logfile_backups", "user"):
            if key in section.entries:
                self._warn(
                    section.entries[key].origin,
                    f"[supervisord] {key}: circusd's own log is not rotated by it (use "
                    "logrotate or journald)" if key != "user" else
                    "[supervisord] user: start circusd as that user instead",
                )  # fmt: skip

    def _level(self, value: str, section: Section) -> str:
        level = value.strip().lower()
        if level in LEVELS_BELOW_DEBUG:
            self._warn(
                section.entries["loglevel"].origin,
                f"loglevel={value}: Circus's most verbose level is debug",
            )
            return "debug"
        return "warning" if level == "warn" else level

    def _write_program(self, name: str, section: Section, here: str, group: str | None) -> None:
        context = {"program_name": name, "group_name": group or name}
        get = lambda key: self._get(section, key, here, context)  # noqa: E731
        comments = [f"from [program:{name}] at {_where(section.origin)}"]
        if group:
            comments.append(f"Supervisor group: {group}")
        items = self.output.section(f"watcher:{name}", comments)
        command = get("command")
        if command is None:
            self._warn(section.origin, f"[program:{name}]: no command; the watcher needs a cmd")
            command = ""
        items.append(("cmd", command))
        numprocs = self._int(section, "numprocs", here, context)
        if numprocs is not None:
            items.append(("numprocesses", str(numprocs)))
        start = self._int(section, "numprocs_start", here, context)
        if "%(process_num)" in section.entries.get("command", _NO).value and (start or 0) != 1:
            self._warn(
                section.entries["command"].origin,
                f"%(process_num)s counts from numprocs_start ({start or 0}); $(circus.wid) "
                "counts from 1",
            )
        for key, target in (("directory", "working_dir"), ("user", "uid")):
            value = get(key)
            if value is not None:
                items.append((target, value))
        items.append(("copy_env", "true"))  # Supervisor's children inherit its environment
        for key in ("autostart",):
            value = get(key)
            if value is not None:
                items.append((key, _bool(value)))
        autorestart = (get("autorestart") or "unexpected").lower()
        if autorestart == "unexpected":
            self._warn(
                section.entries.get("autorestart", Entry("", "", section.origin)).origin,
                f"[program:{name}] autorestart=unexpected: Circus respawns after any exit "
                "(exitcodes are not consulted)",
            )
            items.append(("respawn", "true"))
        else:
            items.append(("respawn", _bool(autorestart)))
        items.append(("max_retry", get("startretries") or "3"))
        startsecs = get("startsecs")
        if startsecs is not None and startsecs.strip() != "1":  # 1: Circus's default too
            items.append(("min_uptime", startsecs.strip()))
        stopsignal = get("stopsignal")
        if stopsignal is not None:
            items.append(("stop_signal", stopsignal.upper()))
        items.append(("graceful_timeout", get("stopwaitsecs") or "10"))
        if _bool(get("stopasgroup") or "false") == "true" or (
            _bool(get("killasgroup") or "false") == "true"
        ):
            items.append(("stop_children", "true"))
        priority = self._int(section, "priority", here, context)
        group_priority = self.groups[group][2] if group else None
        if group_priority is not None:
            priority = group_priority
        if priority is not None:
            items.append(("priority", str(999 - priority)))
        self._streams(name, section, items, get)
        environment = get("environment")
        if environment:
            env = self.output.section(f"env:{name}")
            env += self._env_pairs(environment, section.entries["environment"].origin)
        handled = (
            "command", "numprocs", "numprocs_start", "directory", "user", "autostart",
            "autorestart", "startretries", "startsecs", "stopsignal", "stopwaitsecs",
            "stopasgroup", "killasgroup", "priority", "environment", "redirect_stderr",
            "stdout_logfile", "stdout_logfile_maxbytes", "stdout_logfile_backups",
            "stderr_logfile", "stderr_logfile_maxbytes", "stderr_logfile_backups",
        )  # fmt: skip
        self._warn_unknown(section, handled, quiet=("process_name",))

    def _streams(
        self,
        name: str,
        section: Section,
        items: list[tuple[str, str]],
        get: Callable[[str], str | None],
    ) -> None:
        redirect = _bool(get("redirect_stderr") or "false") == "true"
        for stream in ("stdout", "stderr"):
            source = "stdout" if stream == "stderr" and redirect else stream
            path = get(f"{source}_logfile")
            where = section.entries.get(f"{source}_logfile")
            if path is None or path.upper() == "AUTO":
                if stream == source:
                    self._warn(
                        where.origin if where else section.origin,
                        f"[program:{name}] {stream}_logfile=AUTO: Circus names no log file "
                        f"itself; {stream} is not kept (circusctl tail {name} shows the last "
                        "output); set a path",
                    )
                continue
            if path.upper() == "NONE":
                continue
            items.append((f"{stream}_stream.class", "FileStream"))
            items.append((f"{stream}_stream.filename", path))
            maxbytes = get(f"{source}_logfile_maxbytes") or "50MB"
            size = _size(maxbytes)
            if size is None:
                self._warn(where.origin if where else section.origin,
                           f"{source}_logfile_maxbytes={maxbytes}: not a size")  # fmt: skip
            elif size:
                items.append((f"{stream}_stream.max_bytes", str(size)))
                items.append((f"{stream}_stream.backup_count",
                              get(f"{source}_logfile_backups") or "10"))  # fmt: skip

    # --- helpers -------------------------------------------------------------------------

    def _get(self, section: Section, key: str, here: str, context: dict[str, str]) -> str | None:
        entry = section.entries.get(key)
        if entry is None:
            return None
        return self._expand(str(entry.value), here, context, entry.origin)

    def _int(self, section: Section, key: str, here: str, context: dict[str, str]) -> int | None:
        value = self._get(section, key, here, context)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            self._warn(section.entries[key].origin, f"{key}={value}: not a whole number")
            return None

    def _expand(self, text: str, here: str, context: dict[str, str], origin: Origin) -> str:
        def one(match: re.Match[str]) -> str:
            if match.group(0) == "%%":
                return "%"
            name, spec = match.group(1), match.group(2)
            if spec:
                self._warn(origin, f"%({name}){spec}{match.group(3)}: the format is dropped")
            if name == "here":
                return here
            if name.startswith("ENV_"):
                if name[4:] not in os.environ:  # Supervisor refuses it; circus keeps it verbatim
                    self._warn(origin, f"%({name})s: {name[4:]} is not set in this environment "
                               "(Supervisor refuses the file without it; circusd leaves "
                               f"$(circus.env.{name[4:].lower()}) as written)")  # fmt: skip
                return f"$(circus.env.{name[4:].lower()})"
            if name == "process_num":
                return "$(circus.wid)"
            if name == "host_node_name":
                self._warn(origin, "%(host_node_name)s: replaced by this machine's name")
                return socket.gethostname()
            if name in context:
                return context[name]
            self._warn(origin, f"%({name})s: unknown expansion, kept as is")
            return match.group(0)

        return _EXPANSION.sub(one, text)

    def _env_pairs(self, text: str, origin: Origin) -> list[tuple[str, str]]:
        """``KEY=val,KEY2="v,2"`` split by Supervisor's own rule (its
        ``datatypes.dict_of_key_value_pairs``: a shlex split, quotes stripped), plus ``$`` as
        a word character for the ``$(circus.*)`` this converter wrote for ``%(...)s``."""
        lexer = shlex.shlex(text)
        lexer.wordchars += "/.+-():$"
        try:
            tokens = list(lexer)
        except ValueError as exc:  # an unclosed quote
            self._warn(origin, f"environment: cannot read it ({exc})")
            return []
        pairs = []
        for start in range(0, len(tokens), 4):  # KEY = VALUE ,
            triple = tokens[start : start + 3]
            if len(triple) != 3 or triple[1] != "=":
                shown = " ".join(tokens[start:])[:40]
                self._warn(origin, f"environment: cannot read {shown!r} (nor can Supervisor)")
                break
            value = triple[2].strip("'\"")
            pairs.append((triple[0], _LITERAL_DOLLAR.sub("$$", value)))
        return pairs

    def _warn_unknown(
        self, section: Section, handled: tuple[str, ...], quiet: tuple[str, ...] = ()
    ) -> None:
        for key, entry in section.entries.items():
            if key not in handled and key not in quiet:
                self._warn(entry.origin, f"[{section.name}] {key}: no Circus counterpart; left out")

    def _warn(self, origin: Origin, message: str) -> None:
        self.warnings.append(Warning(_where(origin), message))


_NO = Entry("", "", Origin("", 0))


def convert(path: str) -> tuple[str, list[Warning]]:
    """The Circus INI text for the Supervisor configuration at ``path``, and the warnings.

    Raises :class:`UnreadableError` naming the file (``path`` or an included one) that cannot
    be read."""
    converter = Converter()
    converter.read(path)
    converter.write()
    header = (
        f"Converted by circus-convert from {os.path.abspath(path)}.\n"
        f"{len(converter.warnings)} thing(s) could not be mapped exactly: see the warnings it "
        "printed.\nCheck it with: circusd --check-config THIS_FILE"
    )
    return converter.output.text(header), converter.warnings


def _where(origin: Origin) -> str:
    return f"{origin.file}:{origin.line}" if origin.line else origin.file or "?"


def _uncomment(value: str) -> str:
    """A value as Supervisor reads it: inline comments cut from every line, comment lines
    inside a continued value dropped (circus's reader kept both)."""
    first, *continued = (_INLINE_COMMENT.sub("", line).strip() for line in value.split("\n"))
    lines = [first, *(line for line in continued if line and line[0] not in "#;")]
    return "\n".join(line for line in lines if line)


def _words(text: str, separator: str | None) -> Iterator[str]:
    return (word.strip() for word in text.split(separator) if word.strip())


def _bool(value: str) -> str:
    return "true" if value.strip().lower() in ("true", "yes", "on", "1") else "false"


def _size(value: str) -> int | None:
    text = value.strip().upper()
    for suffix, factor in SIZE_SUFFIXES.items():
        if text.endswith(suffix):
            number = text[: -len(suffix)].strip()
            return int(float(number) * factor) if _is_number(number) else None
    return int(text) if text.isdigit() else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
