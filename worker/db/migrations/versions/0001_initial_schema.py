"""initial schema
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import BIG_ID

revision = '0001'
down_revision = None


def upgrade() -> None:
    op.create_table('tickets',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('connector_id', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('solve_count', sa.Integer(), nullable=False),
    sa.Column('open_solve', sa.Integer(), nullable=True),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('connector_id', 'external_id', name='uq_tickets_external')
    )
    op.create_table('webhook_events',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('connector_id', sa.String(length=64), nullable=False),
    sa.Column('delivery_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ticket_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('previous_status', sa.String(length=16), nullable=True),
    sa.Column('actor_id', sa.String(length=64), nullable=True),
    sa.Column('summary', sa.String(length=200), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=300), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('connector_id', 'delivery_id', name='uq_webhook_events_delivery')
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_events_pending', ['next_try_at'], unique=False, postgresql_where=sa.text("state IN ('received', 'processing')"), sqlite_where=sa.text("state IN ('received', 'processing')"))
        batch_op.create_index('ix_webhook_events_received_at', ['received_at'], unique=False)
        batch_op.create_index('ix_webhook_events_ticket', ['connector_id', 'ticket_id'], unique=False)

    op.create_table('solves',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('ticket_pk', BIG_ID, nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('solved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_id', BIG_ID, nullable=True),
    sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_pk'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticket_pk', 'number', name='uq_solves_number')
    )
    op.create_table('surveys',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('solve_id', BIG_ID, nullable=False),
    sa.Column('connector_id', sa.String(length=64), nullable=False),
    sa.Column('ticket_external_id', sa.String(length=64), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('scale', sa.String(length=8), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('group_name', sa.String(length=200), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('ticket_url', sa.String(length=500), nullable=True),
    sa.Column('send_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['solve_id'], ['solves.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('solve_id'),
    sa.UniqueConstraint('token')
    )
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.create_index('ix_surveys_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_surveys_due', ['next_try_at'], unique=False, postgresql_where=sa.text("state IN ('pending', 'preparing', 'sending')"), sqlite_where=sa.text("state IN ('pending', 'preparing', 'sending')"))
        batch_op.create_index('ix_surveys_sent_at', ['sent_at'], unique=False)

    op.create_table('answers',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('survey_id', BIG_ID, nullable=False),
    sa.Column('scale', sa.String(length=8), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('survey_id')
    )
    op.create_table('survey_attempts',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('survey_id', BIG_ID, nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('survey_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_attempts_survey_id'), ['survey_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('survey_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_attempts_survey_id'))

    op.drop_table('survey_attempts')
    op.drop_table('answers')
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index('ix_surveys_sent_at')
        batch_op.drop_index('ix_surveys_due', postgresql_where=sa.text("state IN ('pending', 'preparing', 'sending')"), sqlite_where=sa.text("state IN ('pending', 'preparing', 'sending')"))
        batch_op.drop_index('ix_surveys_created_at')

    op.drop_table('surveys')
    op.drop_table('solves')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_ticket')
        batch_op.drop_index('ix_webhook_events_received_at')
        batch_op.drop_index('ix_webhook_events_pending', postgresql_where=sa.text("state IN ('received', 'processing')"), sqlite_where=sa.text("state IN ('received', 'processing')"))

    op.drop_table('webhook_events')
    op.drop_table('tickets')
