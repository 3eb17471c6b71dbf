"""What the migrations write again and again, written once: the id type, and adding or dropping
columns of one table (in one batch, so that SQLite, which cannot drop a column in place, copies the
table once for all of them)."""

import sqlalchemy as sa
from alembic import op

# Every id and reference to one: BIGINT, but INTEGER on SQLite, whose primary key only counts up by
# itself when it is declared INTEGER.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def add_columns(table: str, *columns: sa.Column) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.add_column(column)


def drop_columns(table: str, *names: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name in names:
            batch_op.drop_column(name)
