"""api_tokens.prefix and created_by: the start of a token (to tell which one a script holds) and who made it

Revision ID: 0116
Revises: 0113
Create Date: 2026-12-05 19:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0116'
down_revision = '0113'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prefix', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('created_by', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('created_by')
        batch_op.drop_column('prefix')
