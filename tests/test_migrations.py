"""The migration graph is one line: every command checks the schema against the single head, so
two branches (two revisions with the same down_revision, as two branches merged in git give)
would stop every command. README ("Scaling out") states the naming rule this test holds."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from ces.worker.db.engine import make_engine
from ces.worker.db.migrate import MIGRATIONS, alembic_config
from tests.conftest import PG_ADMIN


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


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request, tmp_path):
    """A database with no schema yet, to migrate step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'steps.db'}"
        return
    name = f"ces_steps_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_0110_gives_the_alerts_stored_before_their_survey(empty_db):
    """Alerts, updates and write-backs stored before 0110 are found by their survey afterwards;
    a digest, about many tickets, has none."""
    engine = make_engine(empty_db)
    command.upgrade(alembic_config(engine), "0109")
    keys = {"alert:7:ops:a@x.test": "alert", "update:7:ops:a@x.test:12": "update", "writeback:7:#1": "writeback",
            "alert:71:ops:a@x.test": "alert", "digest:ops:7:2026-12-01:a@x.test": "digest"}
    with engine.begin() as conn:
        for key, kind in keys.items():
            conn.execute(text("INSERT INTO alerts (dedupe_key, kind, route, route_type, recipient, content, state,"
                              " attempts, created_at) VALUES (:key, :kind, 'ops', 'email', 'a@x.test', '{}',"
                              " 'sent', 1, CURRENT_TIMESTAMP)"), {"key": key, "kind": kind})
    command.upgrade(alembic_config(engine), "0110")
    with engine.connect() as conn:
        found = dict(conn.execute(text("SELECT dedupe_key, survey_id FROM alerts")).all())
    engine.dispose()
    assert found == {"alert:7:ops:a@x.test": 7, "update:7:ops:a@x.test:12": 7, "writeback:7:#1": 7,
                     "alert:71:ops:a@x.test": 71, "digest:ops:7:2026-12-01:a@x.test": None}
