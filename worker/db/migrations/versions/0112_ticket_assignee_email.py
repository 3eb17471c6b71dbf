"""tickets.assignee_email: the agent of a ticket as its history was last read

Revision ID: 0112
Revises: 0111
Create Date: 2026-12-05 18:00:00.000000

An agent sees the tickets they were the agent of: through the survey's snapshot where a survey was
sent, and for a ticket flagged by its signals alone (no survey) through this column, filled when
the signals are collected. Tickets collected before have none until their next collection.
"""
import sqlalchemy as sa
from alembic import op

revision = '0112'
down_revision = '0111'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_email', sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('assignee_email')
