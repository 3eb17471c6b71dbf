"""surveys.assignee_id: the agent's helpdesk id beside their name and e-mail in the snapshot

Every connector now tells the assignee's id (and e-mail, where the helpdesk's API gives it): a
name alone is ambiguous between two agents of the same name and changes when an agent renames.
Surveys sent before have none (NULL).
"""
import sqlalchemy as sa

from ces.worker.db.migrations.columns import add_columns, drop_columns

revision = '0111'
down_revision = '0110'


def upgrade() -> None:
    add_columns('surveys', sa.Column('assignee_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    drop_columns('surveys', 'assignee_id')
