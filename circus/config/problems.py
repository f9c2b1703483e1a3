"""Collecting configuration problems, so a load reports every one of them at once.

A :class:`Problems` collector is passed through the whole load; each step records errors and
warnings with their origin (file, line, section, key) instead of raising on the first one. At the
end, :meth:`Problems.raise_if_errors` raises one :class:`~circus.errors.ConfigError` carrying them
all (sorted by file and line, as a reader would fix them).
"""

from __future__ import annotations

from circus.errors import ConfigError, ConfigProblem
from papa_kernel.records import frozen_record


@frozen_record
class Origin:
    """Where a value or a section header was read: a file and a line (both None for values
    that did not come from a file, such as the dict form or a control command)."""

    file: str | None = None
    line: int | None = None


NOWHERE = Origin()


class Problems:
    """Errors and warnings found so far."""

    def __init__(self) -> None:
        self.errors: list[ConfigProblem] = []
        self.warnings: list[ConfigProblem] = []

    @staticmethod
    def make(
        message: str,
        origin: Origin = NOWHERE,
        section: str | None = None,
        key: str | None = None,
        suggestion: str | None = None,
    ) -> ConfigProblem:
        return ConfigProblem(
            message=message,
            file=origin.file,
            line=origin.line,
            section=section,
            key=key,
            suggestion=suggestion,
        )

    def error(
        self,
        message: str,
        origin: Origin = NOWHERE,
        section: str | None = None,
        key: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.errors.append(self.make(message, origin, section, key, suggestion))

    def warn(
        self,
        message: str,
        origin: Origin = NOWHERE,
        section: str | None = None,
        key: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.warnings.append(self.make(message, origin, section, key, suggestion))

    def extend(self, error: ConfigError) -> None:
        """Take over the problems of an error raised by a helper."""
        self.errors.extend(error.problems)
        self.warnings.extend(error.warnings)

    def sorted_warnings(self) -> tuple[ConfigProblem, ...]:
        return tuple(sorted(_dedupe(self.warnings), key=_order))

    def raise_if_errors(self) -> None:
        if self.errors:
            errors = sorted(_dedupe(self.errors), key=_order)
            raise ConfigError(errors, warnings=self.sorted_warnings())


def _order(problem: ConfigProblem) -> tuple[str, int, str, str]:
    return (problem.file or "", problem.line or 0, problem.section or "", problem.key or "")


def _dedupe(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    return list(dict.fromkeys(problems))
