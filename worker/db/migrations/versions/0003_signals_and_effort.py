"""signals and effort
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import BIG_ID, add_columns, drop_columns

revision = '0003'
down_revision = '0002'


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ticket_pk', BIG_ID, nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['ticket_pk'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'ticket_pk', name='uq_jobs_kind_ticket')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_due', ['due_at'], unique=False)

    op.create_table('ticket_histories',
    sa.Column('ticket_pk', BIG_ID, nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('contacts', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_pk'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_pk')
    )
    op.create_table('ticket_signals',
    sa.Column('ticket_pk', BIG_ID, nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('group_transfers', sa.Integer(), nullable=False),
    sa.Column('assignee_transfers', sa.Integer(), nullable=False),
    sa.Column('reopens', sa.Integer(), nullable=False),
    sa.Column('repeat_contacts', sa.Integer(), nullable=False),
    sa.Column('repeat_after', sa.Integer(), nullable=False),
    sa.Column('channel_switch', sa.Boolean(), nullable=False),
    sa.Column('reply_breach', sa.Boolean(), nullable=False),
    sa.Column('customer_messages', sa.Integer(), nullable=False),
    sa.Column('first_reply_seconds', sa.Float(), nullable=True),
    sa.Column('longest_wait_seconds', sa.Float(), nullable=True),
    sa.Column('resolution_seconds', sa.Float(), nullable=True),
    sa.Column('partial', sa.Boolean(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_pk'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_pk')
    )
    op.create_table('assessments',
    sa.Column('ticket_pk', BIG_ID, nullable=False),
    sa.Column('survey_id', BIG_ID, nullable=True),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('effort_index', sa.Integer(), nullable=False),
    sa.Column('basis', sa.String(length=8), nullable=False),
    sa.Column('partial', sa.Boolean(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('reason_codes', sa.String(length=300), nullable=False),
    sa.Column('assessed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_pk'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_pk')
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index('ix_assessments_level', ['level', 'assessed_at'], unique=False)

    add_columns('tickets', sa.Column('requester_hash', sa.String(length=64), nullable=True),
                sa.Column('channel', sa.String(length=32), nullable=True),
                sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
                sa.Column('last_solved_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_last_solved', ['last_solved_at'], unique=False)
        batch_op.create_index('ix_tickets_requester', ['requester_hash', 'opened_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_requester')
        batch_op.drop_index('ix_tickets_last_solved')
    drop_columns('tickets', 'last_solved_at', 'opened_at', 'channel', 'requester_hash')

    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index('ix_assessments_level')

    op.drop_table('assessments')
    op.drop_table('ticket_signals')
    op.drop_table('ticket_histories')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_due')

    op.drop_table('jobs')
