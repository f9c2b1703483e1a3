"""Every complete INI example of the docs (README.md, docs/) loads without an error.

A block counts when its first line that is not a comment is a ``[section]`` header (fragments
of a section are left out). Names are not imported (the examples name made-up modules: hooks,
plugins, ``[circus] commands``) and key files named by CURVE examples need not exist; anything
else the loader refuses is a docs bug, such as a ``#`` comment after a value (only ``;`` starts
an inline comment).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from circus.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^```ini\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: Not circus configurations, although written in INI (systemd units).
_OTHER_INI = re.compile(r"^\[(Unit|Service|Socket|Install)\]", re.MULTILINE)
#: Keys whose values name things that exist only on the reader's machine.
_MADE_UP = ("curve_", "commands")


def _examples() -> list[tuple[str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text()
        for match in _BLOCK.finditer(text):
            body = match.group(1)
            lines = [line for line in body.splitlines() if line.strip()]
            first = next((line for line in lines if line.lstrip()[0] not in "#;"), "")
            if first.startswith("[") and not _OTHER_INI.search(body):
                line = text.count("\n", 0, match.start()) + 2
                found.append((f"{path.relative_to(ROOT)}:{line}", body))
    return found


EXAMPLES = _examples()


def test_the_docs_have_examples() -> None:
    assert len(EXAMPLES) > 20


@pytest.mark.parametrize(("where", "body"), EXAMPLES, ids=[where for where, _ in EXAMPLES])
def test_docs_example_loads(where: str, body: str, load) -> None:
    try:
        load(body)
    except ConfigError as exc:
        problems = [p for p in exc.problems if not (p.key or "").startswith(_MADE_UP)]
        assert not problems, f"{where}:\n" + "\n".join(map(str, problems))
