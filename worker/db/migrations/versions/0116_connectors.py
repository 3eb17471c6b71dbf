"""connectors: the connectors made in the console, their secrets encrypted (CES_SECRET_KEY)
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import BIG_ID

revision = '0116'
down_revision = '0115'


def upgrade() -> None:
    op.create_table(
        'connectors',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('settings', sa.JSON(none_as_null=True), nullable=False),
        sa.Column('secrets', sa.Text(), nullable=False),
        sa.Column('secret_names', sa.JSON(none_as_null=True), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('dry_run', sa.Boolean(), nullable=False),
        sa.Column('previous_webhook_secret', sa.Text(), nullable=True),
        sa.Column('grace_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=80), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=80), nullable=False),
        sa.Column('version', BIG_ID, nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('connectors')
