"""survey policy, answers and link scanners, opt-outs
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import BIG_ID, add_columns, drop_columns

revision = '0002'
down_revision = '0001'

PROVISIONAL = sa.text("state = 'provisional'")


def upgrade() -> None:
    op.create_table('app_secrets',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('opt_outs',
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email_hash')
    )
    op.create_table('recipients',
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('last_survey_id', BIG_ID, nullable=True),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email_hash')
    )
    add_columns('answers',
                sa.Column('state', sa.String(length=16), nullable=False, server_default='confirmed'),
                sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
                sa.Column('via', sa.String(length=80), nullable=True),
                sa.Column('clicks', sa.JSON(), nullable=True))
    op.create_index('ix_answers_provisional', 'answers', ['updated_at'], unique=False,
                    postgresql_where=PROVISIONAL, sqlite_where=PROVISIONAL)
    add_columns('webhook_events', sa.Column('entries', sa.JSON(), nullable=True),
                sa.Column('ticket', sa.JSON(), nullable=True))
    add_columns('surveys',
                sa.Column('delivery', sa.String(length=16), nullable=False, server_default='email'),
                sa.Column('email_hash', sa.String(length=64), nullable=True),
                sa.Column('reminder_state', sa.String(length=16), nullable=True),
                sa.Column('reminder_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.alter_column('solve_id', existing_type=BIG_ID, nullable=True)
        batch_op.create_index(batch_op.f('ix_surveys_email_hash'), ['email_hash'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_surveys_email_hash'))
        batch_op.alter_column('solve_id', existing_type=BIG_ID, nullable=False)
    drop_columns('surveys', 'reminder_at', 'reminder_state', 'email_hash', 'delivery')
    op.drop_index('ix_answers_provisional', table_name='answers', postgresql_where=PROVISIONAL,
                  sqlite_where=PROVISIONAL)
    drop_columns('answers', 'clicks', 'via', 'confirmed_at', 'state')
    drop_columns('webhook_events', 'ticket', 'entries')
    op.drop_table('recipients')
    op.drop_table('opt_outs')
    op.drop_table('app_secrets')
