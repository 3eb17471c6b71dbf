"""assessments.model_id: the learned model that scored an assessment (none: the fixed weights)

Revision ID: 0113
Revises: 0112
Create Date: 2026-12-05 18:10:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0113'
down_revision = '0112'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_column('model_id')
