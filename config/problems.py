"""A configuration problem is one line naming where, what and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    key: str
    message: str
    fix: str = ""
    source: str = "configuration"

    def __str__(self) -> str:
        line = f"{self.source}: {self.key}: {self.message}"
        return f"{line} (fix: {self.fix})" if self.fix else line


class ConfigError(Exception):
    """The configuration cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))

    def __str__(self) -> str:
        first = str(self.problems[0]) if self.problems else "invalid configuration"
        more = len(self.problems) - 1
        return f"{first} (and {more} more; run `ces config check`)" if more > 0 else first
