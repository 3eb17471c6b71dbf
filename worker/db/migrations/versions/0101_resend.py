"""resend: a survey or alert that an admin sends again gets a whole retry budget

`attempts` keeps counting (it fences the conditional updates and numbers survey_attempts);
`attempts_before_resend` is what it was when `ces surveys|alerts resend` moved the row back to
pending, and the retry decision counts from there.
"""
import sqlalchemy as sa

from ces.worker.db.migrations.columns import add_columns, drop_columns

revision = '0101'
down_revision = '0100'

TABLES = ('surveys', 'alerts')


def upgrade() -> None:
    for table in TABLES:
        add_columns(table, sa.Column('attempts_before_resend', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    for table in TABLES:
        drop_columns(table, 'attempts_before_resend')
