"""How a batch of records is appended to each store, in one transaction that first locks the chain's head.

Each store has a writer with a connection of its own, outside SQLAlchemy: a batch is a handful of
statements, and a session around them cost several times what they do (docs/benchmarks.md, "Audit log").
"""

from __future__ import annotations

from souverain.governance.audit.writers.base import Writer
from souverain.store.database import Database


def writer_for(database: Database) -> Writer:
    # Imported here: psycopg, which the PostgreSQL writer uses, comes with the `postgres` extra only.
    if database.is_sqlite:
        from souverain.governance.audit.writers.sqlite import SqliteWriter

        return SqliteWriter(str(database.async_url.database))
    from souverain.governance.audit.writers.postgres import PostgresWriter

    libpq = database.sync_url.set(drivername="postgresql")  # the URL without SQLAlchemy's driver name
    return PostgresWriter(libpq.render_as_string(hide_password=False))
