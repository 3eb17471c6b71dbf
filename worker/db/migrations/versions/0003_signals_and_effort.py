"""signals and effort

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:18:52.293053
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ticket_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
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
    sa.Column('ticket_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('contacts', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_pk'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_pk')
    )
    op.create_table('ticket_signals',
    sa.Column('ticket_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
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
    sa.Column('ticket_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('survey_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
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

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requester_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('channel', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_solved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_tickets_last_solved', ['last_solved_at'], unique=False)
        batch_op.create_index('ix_tickets_requester', ['requester_hash', 'opened_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_requester')
        batch_op.drop_index('ix_tickets_last_solved')
        batch_op.drop_column('last_solved_at')
        batch_op.drop_column('opened_at')
        batch_op.drop_column('channel')
        batch_op.drop_column('requester_hash')

    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index('ix_assessments_level')

    op.drop_table('assessments')
    op.drop_table('ticket_signals')
    op.drop_table('ticket_histories')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_due')

    op.drop_table('jobs')
