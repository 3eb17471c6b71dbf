"""signed_key: a second unique delivery key, from what the helpdesk's signature covers

Zendesk's invocation id (and Zammad's X-Zammad-Delivery, Help Scout's event header) travel outside
the signature: a captured webhook replayed under a new id was stored as a new event. Intake now
also stores a hash of the signed parts, unique per connector. Rows stored before have none (NULL,
never a conflict).
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import add_columns, drop_columns

revision = '0104'
down_revision = '0103'

WHERE = sa.text('signed_key IS NOT NULL')


def upgrade() -> None:
    add_columns('webhook_events', sa.Column('signed_key', sa.String(length=80), nullable=True))
    op.create_index('uq_webhook_events_signed', 'webhook_events', ['connector_id', 'signed_key'], unique=True,
                    postgresql_where=WHERE, sqlite_where=WHERE)


def downgrade() -> None:
    op.drop_index('uq_webhook_events_signed', table_name='webhook_events')
    drop_columns('webhook_events', 'signed_key')
