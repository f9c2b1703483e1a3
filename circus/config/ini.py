"""Reading Circus INI files, with line numbers, and following ``include``/``include_dir``.

The syntax is the original Circus one (a strict RawConfigParser, no ``%`` interpolation):

- ``[section]`` headers; ``key = value`` or ``key: value`` lines; keys are case-sensitive.
- Lines starting with ``#`` or ``;`` are comments, so are lines starting with ``rem``; an inline
  comment starts at a ``;`` preceded by whitespace (``#`` inside a value is kept).
- Indented lines continue the previous value (joined with a newline); ``""`` is the empty value.
- A key repeated in a section: the **first** occurrence wins (a warning names both places).
  A repeated section header, in the same file or in an included one, merges into the first
  (in the same file with a warning naming both lines: usually a copied section not renamed).

Includes (``[circus] include = GLOB...`` and ``include_dir = DIR...``, whitespace-separated) are
read after the file that names them, depth first; paths are relative to *that* file's directory;
``**`` matches any number of directories. Because the first value wins, an included file can add
sections and keys but never override the file that includes it. A file is read once; a file
including one of its includers is an error naming the chain (a glob that matches the including
file itself is quietly skipped, so ``include = *.ini`` next to the main file works).
"""

from __future__ import annotations

import os
import re
from typing import Any

from circus.config.converters import MAX_TEXT_LENGTH
from circus.config.problems import Origin, Problems
from circus.config.substitution import substitute_env
from papa_kernel.records import field, record

INCLUDE_KEYS = ("include", "include_dir")
_SEPARATOR = re.compile(r"[=:]")  # the first one ends the key (a key has neither)
_INLINE_COMMENT = re.compile(r"\s;")
_GLOB_MAGIC = re.compile(r"[*?[]")
MAX_FILE_SIZE = 16 * 1024 * 1024  # a config bigger than this is surely a mistake
#: The longest value an option may have, continuation lines included (see converters).
MAX_VALUE_LENGTH = MAX_TEXT_LENGTH
#: The longest section or key name: every real one is far shorter, and names are quoted in
#: messages ("unknown section [...]"), which must stay readable.
MAX_NAME_LENGTH = 256


@record
class Entry:
    """One ``key = value`` and where it was read."""

    key: str
    value: Any  # text read from a file; any JSON value in the dict form (config_from_dict)
    origin: Origin


@record
class Section:
    """A section, merged over every file that declares it. Entries keep file order."""

    name: str
    origin: Origin
    entries: dict[str, Entry] = field(default_factory=dict)

    def add(self, entry: Entry, problems: Problems, warn: bool = True) -> bool:
        """Add ``entry`` unless the key is already set (first wins, with a warning)."""
        first = self.entries.get(entry.key)
        if first is not None:
            if not warn:
                return False
            problems.warn(
                f"duplicate key ignored: the first value (at {_where(first.origin)}) is used",
                entry.origin,
                self.name,
                entry.key,
            )
            return False
        self.entries[entry.key] = entry
        return True

    def replace(self, entry: Entry) -> bool:
        """Set ``entry``, replacing an earlier value of its key (last wins: Supervisor's rule)."""
        self.entries[entry.key] = entry
        return True


@record
class Document:
    """All sections read from a file and its includes, in first-seen order."""

    sections: dict[str, Section] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _where(origin: Origin) -> str:
    return f"{origin.file}:{origin.line}" if origin.line else str(origin.file)


def parse_text(
    text: str, filename: str, problems: Problems, last_wins: bool = False
) -> list[Section]:
    """Parse one file's text into its sections (not merged with anything else).

    ``last_wins``: a repeated key keeps its last value, quietly (how Supervisor reads its
    files; circus-convert uses it), instead of the first with a warning.

    Work is linear in the size of the text (a continued value is joined once, at its end).
    Syntax errors name the line and the kind of problem, never the line's content: the file
    may be something that is not INI at all (``include = /etc/shadow``). A file whose first
    line that is not blank or a comment is not a ``[section]`` header is not INI: one error,
    and the rest of it is ignored.
    """
    sections: dict[str, Section] = {}
    current: Section | None = None
    seen_header = False
    value = _Value()  # the entry being read, which continuation lines extend
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if "\x00" in line:
            problems.error("line contains a NUL character", Origin(filename, number))
            continue
        stripped = line.strip()
        if not stripped or line[0] in "#;" or _is_rem(line):
            continue
        if line[0].isspace() and value.entry is not None:
            value.extend(stripped)
            continue
        origin = Origin(filename, number)  # not made for blank, comment and continuation lines
        value.finish(problems)
        if stripped.startswith("["):
            current, seen_header = _header(stripped, origin, sections, problems), True
            continue
        if current is None:
            if not seen_header:
                problems.error(
                    "not an INI file: this line is not a [section] header (the file is ignored)",
                    origin,
                )
                return []
            continue  # under a broken header, already reported
        entry = _entry(stripped, origin, current.name, problems)
        if entry is None:
            continue
        if current.replace(entry) if last_wins else current.add(entry, problems):
            value.start(entry, current)
    value.finish(problems)
    return list(sections.values())


class _Value:
    """The value being read: its first line and its continuation lines, joined at the end."""

    def __init__(self) -> None:
        self.entry: Entry | None = None
        self.section: Section | None = None
        self.parts: list[str] = []
        self.length = 0
        self.continued = False

    def start(self, entry: Entry, section: Section) -> None:
        self.entry, self.section = entry, section
        self.parts = [entry.value] if entry.value else []
        self.length = len(entry.value)
        self.continued = False

    def extend(self, stripped: str) -> None:
        self.continued = True
        if self.length <= MAX_VALUE_LENGTH:  # past the limit: refused in finish(), not kept
            self.parts.append(stripped)
        self.length += len(stripped) + 1

    def finish(self, problems: Problems) -> None:
        entry, section, self.entry = self.entry, self.section, None
        if entry is None or section is None:
            return
        if self.length > MAX_VALUE_LENGTH:
            problems.error(
                f"the value is longer than {MAX_VALUE_LENGTH} characters (the limit of an option)",
                entry.origin,
                section.name,
                entry.key,
            )
            del section.entries[entry.key]  # refused: not converted (no second error about it)
        elif self.continued:
            entry.value = "\n".join(self.parts)


def _is_rem(line: str) -> bool:
    return line[0] in "rR" and line.split(None, 1)[0].lower() == "rem"


def _header(
    stripped: str, origin: Origin, sections: dict[str, Section], problems: Problems
) -> Section | None:
    end = stripped.rfind("]")
    rest = stripped[end + 1 :].strip() if end > 0 else ""
    name = stripped[1:end].strip() if end > 0 else ""
    if end <= 0:
        problems.error("section header has no closing ']'", origin)
    elif rest and rest[0] not in "#;":
        problems.error("unexpected text after the section header", origin)
    elif not name:
        problems.error("empty section name '[]'", origin)
    elif len(name) > MAX_NAME_LENGTH:
        problems.error(f"section name longer than {MAX_NAME_LENGTH} characters", origin)
    elif (first := sections.get(name)) is not None:
        problems.warn(
            f"duplicate section (first at line {first.origin.line}): merged into the first (a "
            "key set in both keeps its first value); rename one if they are meant to be two",
            origin,
            name,
        )
        return first
    else:
        return sections.setdefault(name, Section(name, origin))
    return None


def _entry(stripped: str, origin: Origin, section: str, problems: Problems) -> Entry | None:
    match = _SEPARATOR.search(stripped)
    if match is None:
        problems.error("expected 'key = value' (no '=' or ':' on this line)", origin, section)
        return None
    key = stripped[: match.start()].strip()
    if not key:
        problems.error("missing key name before the '=' or ':'", origin, section)
        return None
    if len(key) > MAX_NAME_LENGTH:
        problems.error(f"key name longer than {MAX_NAME_LENGTH} characters", origin, section)
        return None
    value = stripped[match.end() :]
    comment = _INLINE_COMMENT.search(value)
    if comment is not None:
        value = value[: comment.start()]
    value = value.strip()
    if value == '""':
        value = ""
    return Entry(key, value, origin)


class _Reader:
    """Reads a main file and its includes into one :class:`Document`."""

    def __init__(self, problems: Problems, environ: dict[str, str]):
        self.problems = problems
        self.environ = environ
        self.document = Document()
        self.seen: set[str] = set()

    def read(self, path: str, chain: tuple[str, ...] = (), origin: Origin | None = None) -> None:
        real = os.path.realpath(path)
        if real in chain:
            names = " -> ".join([*chain[chain.index(real) :], real])
            self.problems.error(f"include loop: {names}", origin or Origin(path))
            return
        if real in self.seen:
            return
        self.seen.add(real)
        text = self._load(path, origin)
        if text is None:
            return
        self.document.files.append(path)
        own = parse_text(text, path, self.problems)
        circus = next((s for s in own if s.name == "circus"), None)
        includes = [e for e in circus.entries.values() if e.key in INCLUDE_KEYS] if circus else []
        for section in own:
            self._merge(section)
        for entry in includes:
            self._include(entry, path, (*chain, real))

    def _load(self, path: str, origin: Origin | None) -> str | None:
        where = origin or Origin(path)
        try:
            if os.path.getsize(path) > MAX_FILE_SIZE:
                self.problems.error(f"{path}: file is larger than {MAX_FILE_SIZE} bytes", where)
                return None
            with open(path, "rb") as handle:
                data = handle.read()
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.problems.error(f"cannot read configuration file {path!r}: {reason}", where)
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            self.problems.error("file is not valid UTF-8 text", Origin(path, line))
            return None

    def _merge(self, section: Section) -> None:
        target = self.document.sections.get(section.name)
        if target is None:
            self.document.sections[section.name] = section
            return
        for entry in section.entries.values():
            # include directives belong to their own file: no "duplicate" across files
            directive = section.name == "circus" and entry.key in INCLUDE_KEYS
            target.add(entry, self.problems, warn=not directive)

    def _include(self, entry: Entry, including: str, chain: tuple[str, ...]) -> None:
        base = os.path.dirname(os.path.abspath(including))
        for word in substitute_env(entry.value, self.environ).split():
            pattern = word if entry.key == "include" else os.path.join(word, "*.ini")
            pattern = os.path.join(base, os.path.expanduser(pattern))
            for path in self._expand(pattern, word, entry):
                if os.path.realpath(path) == chain[-1] and _GLOB_MAGIC.search(word):
                    continue  # `include = *.ini` matching the including file itself
                self.read(path, chain, entry.origin)

    def _expand(self, pattern: str, word: str, entry: Entry) -> list[str]:
        if "\x00" in pattern:
            self.problems.error("include path contains a NUL character", entry.origin, "circus")
            return []
        if entry.key == "include" and not _GLOB_MAGIC.search(word):
            if not os.path.exists(pattern):
                self.problems.error(
                    f"included file {word!r} does not exist (looked for {pattern})",
                    entry.origin,
                    "circus",
                    entry.key,
                )
                return []
            return [pattern]
        if entry.key == "include_dir" and not os.path.isdir(os.path.dirname(pattern)):
            self.problems.error(
                f"include_dir {word!r} is not a directory (looked for {os.path.dirname(pattern)})",
                entry.origin,
                "circus",
                entry.key,
            )
            return []
        import glob  # only includes need it (with fnmatch's regular expressions)

        matches = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not matches:
            self.problems.warn(
                f"{word!r} matches no file (looked for {pattern})",
                entry.origin,
                "circus",
                entry.key,
            )
        return matches


def read_document(path: str, problems: Problems, environ: dict[str, str]) -> Document:
    """Read ``path`` and everything it includes. Problems are recorded, never raised."""
    reader = _Reader(problems, environ)
    reader.read(path)
    return reader.document
