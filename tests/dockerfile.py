"""The Dockerfile, read statically (no Docker engine here): its stages and their instructions, and
a copy of what a stage COPYs from the build context, to build from exactly that."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parent.parent
DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]

    def exec_form(self, keyword: str) -> list[str]:
        """The last ENTRYPOINT or CMD of the stage, which must be in exec form (a JSON list): the
        shell form would put /bin/sh in front of `ces`, and signals would not reach it."""
        found = self.all(keyword)
        assert found, f"the stage {self.name or '(final)'} has no {keyword}"
        return json.loads(found[-1])


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    found: list[Stage] = []
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            words = rest.split()
            found.append(Stage(words[2] if len(words) == 3 and words[1].upper() == "AS" else None))
        elif found:
            found[-1].instructions.append((keyword, rest))
    return found


def stage(name: str | None) -> Stage:
    """A stage by its `AS` name; None is the final stage, the image that runs."""
    found = stages()
    if name is None:
        return found[-1]
    named = [s for s in found if s.name == name]
    assert named, f"the Dockerfile has no stage named {name!r}"
    return named[0]


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:  # comments and parser directives
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def copy_context(stage: Stage, into: Path) -> None:
    """Do the stage's `COPY src... dest` from the build context (this checkout), leaving out
    bytecode as .dockerignore does."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for rest in stage.all("COPY"):
        *sources, dest = [word for word in rest.split() if not word.startswith("--")]
        for source in sources:
            src = ROOT / source
            target = into / dest
            if src.is_dir():
                shutil.copytree(src, target, ignore=ignore, dirs_exist_ok=True)
            else:
                target = target / src.name if dest.endswith("/") else target
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
