"""assessments.model_id: the learned model that scored an assessment (none: the fixed weights)
"""
import sqlalchemy as sa

from ces.worker.db.migrations.columns import BIG_ID, add_columns, drop_columns

revision = '0113'
down_revision = '0112'


def upgrade() -> None:
    add_columns('assessments', sa.Column('model_id', BIG_ID, nullable=True))


def downgrade() -> None:
    drop_columns('assessments', 'model_id')
