"""jobs.ticket_pk nullable: a job of the installation (the learned model's refit), one per kind
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import BIG_ID

revision = '0115'
down_revision = '0114'


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.alter_column('ticket_pk', existing_type=BIG_ID,
                              nullable=True)
        batch_op.create_index('uq_jobs_kind_alone', ['kind'], unique=True,
                              postgresql_where=sa.text('ticket_pk IS NULL'), sqlite_where=sa.text('ticket_pk IS NULL'))


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE ticket_pk IS NULL")
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('uq_jobs_kind_alone')
        batch_op.alter_column('ticket_pk', existing_type=BIG_ID,
                              nullable=False)
