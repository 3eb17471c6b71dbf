"""tickets.assignee_email: the agent of a ticket as its history was last read

An agent sees the tickets they were the agent of: through the survey's snapshot where a survey was
sent, and for a ticket flagged by its signals alone (no survey) through this column, filled when
the signals are collected. Tickets collected before have none until their next collection.
"""
import sqlalchemy as sa

from ces.worker.db.migrations.columns import add_columns, drop_columns

revision = '0112'
down_revision = '0111'


def upgrade() -> None:
    add_columns('tickets', sa.Column('assignee_email', sa.String(length=320), nullable=True))


def downgrade() -> None:
    drop_columns('tickets', 'assignee_email')
