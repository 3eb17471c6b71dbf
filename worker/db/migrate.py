"""Alembic, driven from code: `ces migrate` upgrades; every other command checks the schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def on_this_database(dialect: str):
    """Autogenerate's object filter: an index the models create only on another database (declared
    with `.ddl_if(dialect=...)`, such as the PostgreSQL-only trigram index) is no difference here."""

    def include(obj, name, type_, reflected, compare_to) -> bool:
        rule = getattr(obj, "_ddl_if", None) or getattr(compare_to, "_ddl_if", None)
        return rule is None or rule.dialect in (None, dialect)

    return include


def head_revision() -> str:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, head_revision()


class SchemaBehind(Exception):
    pass


def require_current(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaBehind(f"database schema is at {current or 'nothing'}, this version needs {head}: "
                           "run `ces migrate`")
