"""daily_rollups: the report numbers per UTC day and dimensions, and the days to recompute

The console's pages and `ces report` read these instead of scanning a year of surveys. Every
existing day is marked dirty, so the first reader (or the scheduler) fills them from the rows.
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import BIG_ID

revision = '0109'
down_revision = '0108'

COUNTS = ('drivers', 'surveys_sent', 'answers', 'score_sum', 'score_1', 'score_2', 'score_3', 'score_4', 'score_5',
          'score_6', 'score_7', 'tickets_assessed', 'high_answered', 'high_signals')


def upgrade() -> None:
    op.create_table(
        'daily_rollups',
        sa.Column('id', BIG_ID, primary_key=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('connector_id', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=True),
        sa.Column('group_name', sa.String(length=200), nullable=True),
        sa.Column('agent', sa.String(length=200), nullable=True),
        sa.Column('agent_email', sa.String(length=320), nullable=True),
        sa.Column('language', sa.String(length=16), nullable=True),
        sa.Column('scale', sa.String(length=8), nullable=True),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
    )
    op.create_index('ix_daily_rollups_day', 'daily_rollups', ['day'])
    # One row per mark, not per day: a plain INSERT never waits on another transaction's mark of the
    # same day (a unique day made two writers wait on each other's marks, crosswise: a deadlock).
    op.create_table('rollup_dirty', sa.Column('id', BIG_ID, primary_key=True),
                    sa.Column('day', sa.Date(), nullable=False))
    op.create_index('ix_rollup_dirty_day', 'rollup_dirty', ['day'])
    if op.get_bind().dialect.name == 'postgresql':
        days = ("SELECT DISTINCT (sent_at AT TIME ZONE 'UTC')::date FROM surveys WHERE sent_at IS NOT NULL "
                "UNION SELECT DISTINCT (last_solved_at AT TIME ZONE 'UTC')::date FROM tickets "
                "WHERE last_solved_at IS NOT NULL")
    else:
        days = ("SELECT DISTINCT date(sent_at) FROM surveys WHERE sent_at IS NOT NULL "
                "UNION SELECT DISTINCT date(last_solved_at) FROM tickets WHERE last_solved_at IS NOT NULL")
    op.execute(f"INSERT INTO rollup_dirty (day) {days}")


def downgrade() -> None:
    op.drop_index('ix_rollup_dirty_day', table_name='rollup_dirty')
    op.drop_table('rollup_dirty')
    op.drop_index('ix_daily_rollups_day', table_name='daily_rollups')
    op.drop_table('daily_rollups')
