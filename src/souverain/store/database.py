"""Connecting to the store and bringing its schema up to date with Alembic."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, CursorResult, Result, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from souverain.errors import ConfigError, Problem

MIGRATIONS = Path(__file__).parent / "migrations"


def _urls(url: str) -> tuple[URL, URL]:
    """The (async, sync) SQLAlchemy URLs for what an operator wrote."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite"), parsed.set(drivername="sqlite")
    if backend in ("postgresql", "postgres"):
        psycopg = parsed.set(drivername="postgresql+psycopg")
        return psycopg, psycopg
    raise ConfigError(
        "SOUVERAIN_DATABASE_URL", [Problem("", f"unsupported database {backend!r}: use sqlite or postgresql")]
    )


# Full-text structures the migrations make by hand, outside the ORM models (the search indexes use them).
_HAND_MADE = frozenset(
    {"chunks_fts", "chunks_fts_data", "chunks_fts_idx", "chunks_fts_docsize", "chunks_fts_config"}
    | {"chunks_fts_vocabulary"}
    | {"ts_config", "tsv", "ix_chunks_tsv"}
)


def include_in_autogenerate(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's filter: compare the models with the schema, less what the migrations make by hand."""
    return name not in _HAND_MADE and not (name or "").startswith("ix_chunks_embedding")


MMAP_BYTES = 1 << 30  # how much of the file SQLite maps; beyond it, it reads as before


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; busy_timeout makes writers queue instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Read the file through memory-mapped pages rather than read() calls into SQLite's own 2 MB cache:
    # a full-text search looks up thousands of chunk rows scattered over the file, which took 16 ms
    # at 100,000 chunks and takes 10 ms mapped. This is address space, not memory: the pages are the
    # operating system's file cache, shared by every connection.
    cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    # Deleted content is overwritten with zeros rather than left in free space: after a data subject is
    # erased, their identifiers must not be readable in the file's bytes (docs/privacy.md).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


class Database:
    """One store: an async engine for the server and CLI, and Alembic migrations."""

    def __init__(self, url: str) -> None:
        self.async_url, self.sync_url = _urls(url)
        self.is_sqlite = self.async_url.get_backend_name() == "sqlite"
        if self.is_sqlite and self.async_url.database:
            Path(self.async_url.database).parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {} if self.is_sqlite else {"pool_size": 10, "pool_pre_ping": True}
        self.engine: AsyncEngine = create_async_engine(self.async_url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self.sessions()

    def stored_vector(self, vector: np.ndarray) -> bytes | np.ndarray:
        """A vector as the `embedding` column takes it: float32 bytes on SQLite, as it is for pgvector."""
        return vector.tobytes() if self.is_sqlite else vector

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent; safe to run at every start)."""
        sync_engine = create_engine(self.sync_url)
        if self.is_sqlite:
            event.listen(sync_engine, "connect", _sqlite_pragmas)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with sync_engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            sync_engine.dispose()

    async def reclaim(self, tables: tuple[str, ...]) -> bool:
        """Leave no copy of deleted rows in the store's files; False if that could not be finished now.

        SQLite (secure_delete already zeroed them in the database): the write-ahead log still holds the
        pages as they were, so it is checkpointed and truncated. PostgreSQL: the tables are vacuumed, so
        dead rows leave their pages and indexes (dumps and replicas never had them)."""
        if self.is_sqlite:
            async with self.engine.connect() as connection:
                for _ in range(50):  # a reader in the middle of a transaction holds the log: wait for it
                    checkpoint = await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                    busy = checkpoint.scalar()
                    if not busy:
                        return True
                    await asyncio.sleep(0.1)
            return False
        async with self.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in tables:
                await connection.exec_driver_sql(f"VACUUM {_identifier(table)}")
        return True

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _identifier(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a table name: {name!r}")
    return name


def aware(moment: datetime) -> datetime:
    """A stored moment with its time zone: SQLite hands back naive datetimes, and all we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def affected(result: Result[Any]) -> int:
    """The rows an UPDATE or a DELETE changed."""
    return int(cast(CursorResult[Any], result).rowcount)
