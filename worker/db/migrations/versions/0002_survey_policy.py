"""survey policy, answers and link scanners, opt-outs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:03:55.985968
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


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
    sa.Column('last_survey_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email_hash')
    )
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False, server_default='confirmed'))
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('via', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('clicks', sa.JSON(), nullable=True))
        batch_op.create_index('ix_answers_provisional', ['updated_at'], unique=False, postgresql_where=sa.text("state = 'provisional'"), sqlite_where=sa.text("state = 'provisional'"))

    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entries', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('ticket', sa.JSON(), nullable=True))

    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery', sa.String(length=16), nullable=False, server_default='email'))
        batch_op.add_column(sa.Column('email_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reminder_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('reminder_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('solve_id',
               existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_surveys_email_hash'), ['email_hash'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_surveys_email_hash'))
        batch_op.alter_column('solve_id',
               existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               nullable=False)
        batch_op.drop_column('reminder_at')
        batch_op.drop_column('reminder_state')
        batch_op.drop_column('email_hash')
        batch_op.drop_column('delivery')

    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index('ix_answers_provisional', postgresql_where=sa.text("state = 'provisional'"), sqlite_where=sa.text("state = 'provisional'"))
        batch_op.drop_column('clicks')
        batch_op.drop_column('via')
        batch_op.drop_column('confirmed_at')
        batch_op.drop_column('state')

    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_column('ticket')
        batch_op.drop_column('entries')

    op.drop_table('recipients')
    op.drop_table('opt_outs')
    op.drop_table('app_secrets')
