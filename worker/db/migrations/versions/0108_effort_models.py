"""effort_models: every fit of the learned effort model
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import BIG_ID

revision = '0108'
down_revision = '0107'


def upgrade() -> None:
    op.create_table(
        'effort_models',
        sa.Column('id', BIG_ID, nullable=False),
        sa.Column('fitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
        sa.Column('until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answers', sa.Integer(), nullable=False),
        sa.Column('low', sa.Integer(), nullable=False),
        sa.Column('adopted', sa.Boolean(), nullable=False),
        sa.Column('why', sa.String(length=500), nullable=False),
        sa.Column('model', sa.JSON(none_as_null=True), nullable=True),
        sa.Column('metrics', sa.JSON(none_as_null=True), nullable=True),
        sa.Column('rules', sa.JSON(none_as_null=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('effort_models')
