"""api_tokens.prefix and created_by: the start of a token (to tell which one a script holds) and who made it;
audit_log indexes by action and by actor, for the admin pages' filters and each person's last sign-in
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import add_columns, drop_columns

revision = '0114'
down_revision = '0113'


def upgrade() -> None:
    add_columns('api_tokens', sa.Column('prefix', sa.String(length=16), nullable=True),
                sa.Column('created_by', sa.String(length=80), nullable=True))
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_action', ['action', 'actor', 'at'], unique=False)
        batch_op.create_index('ix_audit_log_actor', ['actor', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_actor')
        batch_op.drop_index('ix_audit_log_action')
    drop_columns('api_tokens', 'created_by', 'prefix')
