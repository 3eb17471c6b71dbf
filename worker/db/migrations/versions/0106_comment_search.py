"""comment search: a trigram index on answers.comment (PostgreSQL)

The console's answers page finds comments by substring in every language. PostgreSQL's full text
search has no parser for Chinese, Japanese or Korean; pg_trgm's GIN index serves ILIKE '%…%' for any
script. pg_trgm is a trusted extension (PostgreSQL 13+), so a database owner may create it; where
the role may not, the index is left out and the search still works, by a scan (README, "Console").
SQLite has no such index: its search is a plain scan.
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = '0106'
down_revision = '0105'

log = logging.getLogger("alembic")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm not available (%s): comments are searched without an index", type(exc).__name__)
        return
    op.create_index('ix_answers_comment_trgm', 'answers', ['comment'], postgresql_using='gin',
                    postgresql_ops={'comment': 'gin_trgm_ops'})


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_answers_comment_trgm')
