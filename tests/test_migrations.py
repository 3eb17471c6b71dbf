"""The migration graph is one line: every command checks the schema against the single head, so
two branches (two revisions with the same down_revision, as two branches merged in git give)
would stop every command. README ("Scaling out") states the naming rule this test holds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from alembic.script import ScriptDirectory

from ces.worker.db.migrate import MIGRATIONS


def graph_problems(location: Path) -> list[str]:
    files = sorted(p for p in (location / "versions").glob("*.py") if p.name != "__init__.py")
    problems = [f"{p.name}: not named NNNN_words.py" for p in files if not re.fullmatch(r"\d{4}_\w+\.py", p.name)]
    numbers = [p.name[:4] for p in files]
    problems += [f"number {n} used by more than one file" for n in sorted({n for n in numbers if numbers.count(n) > 1})]
    script = ScriptDirectory(str(location))
    revisions = list(script.walk_revisions("base", "heads"))
    problems += [f"{Path(r.path).name}: revision {r.revision!r} does not match its file name"
                 for r in revisions if not Path(r.path).name.startswith(f"{r.revision}_")]
    problems += [f"{Path(r.path).name}: revision {r.revision} follows {r.down_revision}, a later number"
                 for r in revisions if r.down_revision and str(r.down_revision) >= r.revision]
    heads = script.get_heads()
    if len(heads) != 1:
        problems.append(f"{len(heads)} heads {sorted(heads)}: set the newer one's down_revision to the other")
    if len(revisions) != len(files):
        problems.append(f"{len(files)} files but {len(revisions)} revisions in the graph")
    return problems


def test_the_migrations_are_one_numbered_line():
    assert graph_problems(MIGRATIONS) == []


def revision_file(number: str, down: str) -> str:
    return f"revision = {number!r}\ndown_revision = {down!r}\n\n\ndef upgrade():\n    pass\n"


def test_two_branches_are_caught(tmp_path):
    # Two engineers each took the next number from the same head: the second file is renamed on
    # merge, as README's rule says, but still follows the old head. Two heads.
    location = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, location, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    following = f"{int(head) + 1:04d}"
    (location / "versions" / f"{following}_one.py").write_text(revision_file(following, head))
    assert graph_problems(location) == []
    second = f"{int(head) + 2:04d}"
    (location / "versions" / f"{second}_two.py").write_text(revision_file(second, head))
    assert graph_problems(location) == [f"2 heads {sorted([following, second])}: set the newer one's "
                                        "down_revision to the other"]


def test_a_revision_named_for_another_number_is_caught(tmp_path):
    location = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, location, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    (location / "versions" / "9999_misnamed.py").write_text(revision_file(f"{int(head) + 1:04d}", head))
    assert graph_problems(location) == [f"9999_misnamed.py: revision '{int(head) + 1:04d}' does not match its "
                                        "file name"]
