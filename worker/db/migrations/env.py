from alembic import context

from ces.worker.db.migrate import on_this_database
from ces.worker.db.models import Base
from ces.worker.db.types import UTCDateTime

engine = context.config.attributes["engine"]


def render_item(type_, obj, autogen_context):
    # Migrations store plain timestamptz; UTCDateTime only converts values in Python.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_item=render_item,
                      include_object=on_this_database(connection.dialect.name),
                      render_as_batch=connection.dialect.name == "sqlite")
    context.run_migrations()
