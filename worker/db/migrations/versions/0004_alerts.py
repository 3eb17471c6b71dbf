"""alerts and follow-ups
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import BIG_ID, add_columns, drop_columns

revision = '0004'
down_revision = '0003'


def upgrade() -> None:
    op.create_table('follow_ups',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('ticket_pk', BIG_ID, nullable=False),
    sa.Column('survey_id', BIG_ID, nullable=True),
    sa.Column('connector_id', sa.String(length=64), nullable=False),
    sa.Column('team', sa.String(length=200), nullable=True),
    sa.Column('agent', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=320), nullable=True),
    sa.Column('followed_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('followed_up_by', sa.String(length=320), nullable=True),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_pk'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', name='uq_follow_ups_key')
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index('ix_follow_ups_created', ['created_at'], unique=False)

    op.create_table('alert_links',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('follow_up_id', BIG_ID, nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['follow_up_id'], ['follow_ups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token')
    )
    with op.batch_alter_table('alert_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_links_follow_up_id'), ['follow_up_id'], unique=False)

    op.create_table('alerts',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('dedupe_key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('route', sa.String(length=64), nullable=False),
    sa.Column('route_type', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('follow_up_id', BIG_ID, nullable=True),
    sa.Column('content', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('remote_ref', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['follow_up_id'], ['follow_ups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key', name='uq_alerts_dedupe')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_created', ['created_at'], unique=False)
        batch_op.create_index('ix_alerts_due', ['next_try_at'], unique=False, postgresql_where=sa.text("state IN ('pending', 'sending')"), sqlite_where=sa.text("state IN ('pending', 'sending')"))

    add_columns('surveys', sa.Column('assignee_email', sa.String(length=320), nullable=True),
                sa.Column('brand', sa.String(length=200), nullable=True))
    add_columns('tickets', sa.Column('group_name', sa.String(length=200), nullable=True),
                sa.Column('assignee', sa.String(length=200), nullable=True),
                sa.Column('brand', sa.String(length=200), nullable=True),
                sa.Column('ticket_url', sa.String(length=500), nullable=True))


def downgrade() -> None:
    drop_columns('tickets', 'ticket_url', 'brand', 'assignee', 'group_name')
    drop_columns('surveys', 'brand', 'assignee_email')

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_due', postgresql_where=sa.text("state IN ('pending', 'sending')"), sqlite_where=sa.text("state IN ('pending', 'sending')"))
        batch_op.drop_index('ix_alerts_created')

    op.drop_table('alerts')
    with op.batch_alter_table('alert_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_links_follow_up_id'))

    op.drop_table('alert_links')
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_ups_created')

    op.drop_table('follow_ups')
