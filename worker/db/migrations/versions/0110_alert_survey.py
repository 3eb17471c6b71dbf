"""alert_survey: the survey an alert is about, as an indexed column

A survey's alerts were found by `dedupe_key LIKE '%:{id}:%'`: a leading wildcard scans the table,
and correctness hung on the key's format. Alerts, updates and write-backs now carry `survey_id`
(digests are about many tickets: NULL). Rows stored before get it from their key, whose second
part is the survey (`alert:{survey}:…`, `update:{survey}:…`, `writeback:{survey}:#n`).
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import BIG_ID, add_columns, drop_columns

revision = '0110'
down_revision = '0109'


def upgrade() -> None:
    add_columns('alerts', sa.Column('survey_id', BIG_ID, nullable=True))
    op.create_index('ix_alerts_survey', 'alerts', ['survey_id'])
    alerts = sa.table('alerts', sa.column('id', sa.BigInteger), sa.column('kind', sa.String),
                      sa.column('dedupe_key', sa.String), sa.column('survey_id', sa.BigInteger))
    conn = op.get_bind()
    rows = conn.execute(sa.select(alerts.c.id, alerts.c.dedupe_key)
                        .where(alerts.c.kind.in_(['alert', 'update', 'writeback']))).all()
    for alert_id, key in rows:
        part = key.split(':')[1] if key.count(':') >= 1 else ''
        if part.isdigit():
            conn.execute(alerts.update().where(alerts.c.id == alert_id).values(survey_id=int(part)))


def downgrade() -> None:
    op.drop_index('ix_alerts_survey', table_name='alerts')
    drop_columns('alerts', 'survey_id')
