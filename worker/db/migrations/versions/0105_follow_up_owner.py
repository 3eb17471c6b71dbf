"""follow_ups.owner_id: who should follow a case up, assigned by a lead in the console

The follow-up queue (console) lets a lead give a case an owner: a console user, kept with who
assigned it and when. A user removed from the database leaves the case without an owner. The
queue lists the waiting cases oldest first: an index on (state, created_at).
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import BIG_ID, add_columns, drop_columns

revision = '0105'
down_revision = '0104'


def upgrade() -> None:
    add_columns('follow_ups', sa.Column('owner_id', BIG_ID, nullable=True),
                sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
                sa.Column('assigned_by', sa.String(length=320), nullable=True))
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_follow_ups_owner_id_users', 'users', ['owner_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_follow_ups_owner_id', ['owner_id'], unique=False)
        batch_op.create_index('ix_follow_ups_state_created', ['state', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_ups_state_created')
        batch_op.drop_index('ix_follow_ups_owner_id')
        batch_op.drop_constraint('fk_follow_ups_owner_id_users', type_='foreignkey')
    drop_columns('follow_ups', 'assigned_by', 'assigned_at', 'owner_id')
