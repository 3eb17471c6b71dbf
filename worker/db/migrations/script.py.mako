"""${message}
"""
import sqlalchemy as sa
from alembic import op

${imports if imports else ""}
# Columns added to or dropped from a table: add_columns / drop_columns, and BIG_ID for an id, from
# ces.worker.db.migrations.columns (one batch each, as the revisions before do).

# The revision and the one it follows: the graph's truth (the docstring does not repeat them).
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
% if branch_labels:
branch_labels = ${repr(branch_labels)}
% endif
% if depends_on:
depends_on = ${repr(depends_on)}
% endif


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
