"""signal indexes: what `ces report --by signal` and `ces signals rebuild` read, from the indexes

- ix_ticket_signals_buckets: the signal columns the report groups by, beside ticket_pk, so that
  PostgreSQL reads them with an index-only scan instead of the whole table (its JSON included).
- ix_assessments_level_ticket: the high-effort tickets' ids, from the index.
- ix_tickets_last_solved gains id: the tickets solved in a range, and the rebuild's id ranges,
  from the index.
Measured in bench/signals.py (bench/README.md).
"""
from alembic import op

revision = '0100'
down_revision = '0004'

BUCKETS = ['ticket_pk', 'group_transfers', 'assignee_transfers', 'reopens', 'repeat_contacts', 'repeat_after',
           'channel_switch', 'reply_breach']


def upgrade() -> None:
    with op.batch_alter_table('ticket_signals', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_signals_buckets', BUCKETS, unique=False)
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index('ix_assessments_level_ticket', ['level', 'ticket_pk'], unique=False)
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_last_solved')
        batch_op.create_index('ix_tickets_last_solved', ['last_solved_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_last_solved')
        batch_op.create_index('ix_tickets_last_solved', ['last_solved_at'], unique=False)
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index('ix_assessments_level_ticket')
    with op.batch_alter_table('ticket_signals', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_signals_buckets')
