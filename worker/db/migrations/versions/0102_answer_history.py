"""answer history: each answer and each change as its own row; a follow-up's note

`answer_history` keeps each confirmed answer and each later change (score, the comment written
with it, when, how), so that a comment stays with the score it was written for; `answers` stays
the summary that reports read. Answers given before this revision have no rows here (no backfill:
their summary row is all there was). `follow_ups.followed_up_note` is what the person who marked
the case followed up said was done.
"""
import sqlalchemy as sa
from alembic import op

from ces.worker.db.migrations.columns import BIG_ID, add_columns, drop_columns

revision = '0102'
down_revision = '0101'


def upgrade() -> None:
    op.create_table('answer_history',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('survey_id', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('scale', sa.String(length=8), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('how', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('answer_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_history_survey_id'), ['survey_id'], unique=False)

    add_columns('follow_ups', sa.Column('followed_up_note', sa.Text(), nullable=True))


def downgrade() -> None:
    drop_columns('follow_ups', 'followed_up_note')

    with op.batch_alter_table('answer_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_history_survey_id'))

    op.drop_table('answer_history')
