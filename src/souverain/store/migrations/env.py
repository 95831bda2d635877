"""Alembic environment: runs on the connection `Database.migrate` hands over."""

from alembic import context

from souverain.store.database import include_in_autogenerate
from souverain.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_object=include_in_autogenerate,
)
with context.begin_transaction():
    context.run_migrations()
