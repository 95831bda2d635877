"""Stores for bench/knowledge.py: a PostgreSQL server from the `pgserver` wheel (PostgreSQL 16 with
pgvector, as the tests start it), fresh databases, and many chunks written straight into a collection.

Filling writes what ingestion writes (a document row per 20 chunks, chunk rows with text, language and
vector; on PostgreSQL each chunk's text-search configuration, as `PostgresIndex.added` sets it; the
collection's version bumped), in transactions of a few thousand rows instead of one per document.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
from pgvector import Vector
from sqlalchemy import insert, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_corpus import LANGUAGES, FillerText, FillerVectors
from souverain.knowledge.index.base import SearchIndex
from souverain.knowledge.languages import postgres_text_search
from souverain.store.database import Database
from souverain.store.models import ChunkRow, CollectionRow, DocumentRow

CHUNKS_PER_DOCUMENT = 20
ROWS_PER_TRANSACTION = 4_000
BUILD_MEMORY = "1GB"


@dataclass(frozen=True)
class Server:
    url: str  # of its maintenance database
    pid: int | None  # the postmaster's, to count the CPU of the server and its backends


@contextlib.contextmanager
def postgres_server() -> Iterator[Server]:
    """A throwaway PostgreSQL server on a Unix socket in a fresh /tmp folder."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns on import when XDG_RUNTIME_DIR is unset
        from pgserver.postgres_server import get_server

    # As root, pgserver runs PostgreSQL as its own `pgserver` user and opens the folder's parents to it:
    # so the folder is a fresh one under /tmp, not somewhere private.
    parent = Path(tempfile.mkdtemp(prefix="souverain-bench-pg-"))
    try:
        server = get_server(parent / "pgdata", cleanup_mode="delete")
        try:
            yield Server(server.get_uri(), server.get_pid())
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _libpq(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_database(server_url: str, name: str) -> Iterator[str]:
    """A fresh, empty database on the server, dropped afterwards; its URL."""
    with psycopg.connect(_libpq(server_url), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield _libpq(server_url, name)
    finally:
        with psycopg.connect(_libpq(server_url), autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_versions(url: str) -> dict[str, str]:
    with psycopg.connect(_libpq(url)) as connection:
        server = connection.execute("SHOW server_version").fetchone()
        vector = connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        memory = connection.execute("SHOW shared_buffers").fetchone()
    return {
        "postgresql": str(server[0]) if server else "?",
        "pgvector": str(vector[0]) if vector else "?",
        "shared_buffers": str(memory[0]) if memory else "?",
    }


class Filler:
    """Writes filler chunks into one collection, in the languages of the data sets, taking turns."""

    def __init__(
        self, database: Database, tenant: str, collection_id: str, texts: FillerText, vectors: FillerVectors
    ) -> None:
        self.database = database
        self.tenant = tenant
        self.collection_id = collection_id
        self.texts = texts
        self.vectors = vectors
        self.documents = 0
        self.chunks = 0

    async def add(self, count: int) -> float:
        """Add `count` chunks; the seconds it took (text and vector generation left out)."""
        seconds = 0.0
        while count > 0:
            rows = min(count, ROWS_PER_TRANSACTION)
            documents, chunks = self._rows(rows)
            started = time.perf_counter()
            async with self.database.session() as session, session.begin():
                await session.execute(insert(DocumentRow), documents)
                if self.database.is_sqlite:
                    await session.execute(insert(ChunkRow), chunks)
                else:
                    await _insert_postgres(session, chunks)
                await session.execute(
                    update(CollectionRow)
                    .where(CollectionRow.id == self.collection_id)
                    .values(version=CollectionRow.version + 1)
                )
            seconds += time.perf_counter() - started
            count -= rows
        return seconds

    def _rows(self, count: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        documents: list[dict[str, object]] = []
        chunks: list[dict[str, object]] = []
        vectors = self.vectors.take(count)
        now = datetime.now(UTC)
        while len(chunks) < count:
            language = LANGUAGES[self.documents % len(LANGUAGES)]
            document_id = secrets.token_hex(8)
            size = min(CHUNKS_PER_DOCUMENT, count - len(chunks))
            position = 0
            for ordinal, chunk_text in enumerate(self.texts.chunks(language, size)):
                vector = vectors[len(chunks)]
                chunks.append(
                    {
                        "document_id": document_id,
                        "collection_id": self.collection_id,
                        "tenant": self.tenant,
                        "classification": "PUBLIC",
                        "ordinal": ordinal,
                        "text": chunk_text,
                        "page": None,
                        "start": position,
                        "end": position + len(chunk_text),
                        "heading": "",
                        "language": language,
                        "embedding": vector.tobytes() if self.database.is_sqlite else vector,
                    }
                )
                position += len(chunk_text) + 1
            documents.append(
                {
                    "id": document_id,
                    "tenant": self.tenant,
                    "collection_id": self.collection_id,
                    "title": f"filler {self.documents}",
                    "filename": f"filler-{self.documents}.txt",
                    "media_type": "text/plain",
                    "content_hash": secrets.token_hex(32),
                    "classification": "PUBLIC",
                    "language": language,
                    "size_bytes": position,
                    "pages": None,
                    "text_chars": position,
                    "metadata_json": "{}",
                    "created_at": now,
                }
            )
            self.documents += 1
        self.chunks += count
        return documents, chunks


_INSERT_POSTGRES = text(
    "INSERT INTO chunks (document_id, collection_id, tenant, classification, ordinal, text, page, start, "
    '"end", heading, language, embedding, ts_config) '
    "SELECT document_id, collection_id, tenant, classification, ordinal, text, NULL, start, finish, '', "
    "language, CAST(embedding AS vector), CAST(ts_config AS regconfig) FROM unnest("
    "CAST(:document_id AS text[]), CAST(:collection_id AS text[]), CAST(:tenant AS text[]), "
    "CAST(:classification AS text[]), CAST(:ordinal AS int[]), CAST(:text AS text[]), "
    "CAST(:start AS bigint[]), CAST(:finish AS bigint[]), CAST(:language AS text[]), "
    "CAST(:embedding AS text[]), CAST(:ts_config AS text[])) AS given(document_id, collection_id, tenant, "
    "classification, ordinal, text, start, finish, language, embedding, ts_config)"
)


async def _insert_postgres(session: AsyncSession, chunks: list[dict[str, object]]) -> None:
    """One statement per transaction: arrays unnested server-side (a row per statement is 10x slower)."""
    columns = ("document_id", "collection_id", "tenant", "classification", "ordinal", "text", "start")
    parameters: dict[str, object] = {name: [chunk[name] for chunk in chunks] for name in columns}
    parameters["finish"] = [chunk["end"] for chunk in chunks]
    parameters["language"] = [chunk["language"] for chunk in chunks]
    parameters["embedding"] = [Vector(np.asarray(chunk["embedding"])).to_text() for chunk in chunks]
    parameters["ts_config"] = [postgres_text_search(str(chunk["language"])) for chunk in chunks]
    await session.execute(_INSERT_POSTGRES, parameters)


async def drop_vector_indexes(database: Database) -> None:
    """Drop the HNSW indexes `PostgresIndex.prepare` made, so that a bulk fill does not update them row by
    row (the build afterwards is several times faster than as many inserts)."""
    async with database.session() as session, session.begin():
        names = await session.scalars(
            text("SELECT indexname FROM pg_indexes WHERE tablename = 'chunks' AND indexname LIKE :pattern"),
            {"pattern": "ix_chunks_embedding%"},
        )
        for name in list(names):
            await session.execute(text(f'DROP INDEX IF EXISTS "{name}"'))


async def build_vector_index(database: Database, index: SearchIndex, dimensions: int) -> float:
    """Rebuild the HNSW index through `index.prepare` (as `running` does at start), then ANALYZE, as
    autovacuum would after a large load; the seconds the build took."""
    started = time.perf_counter()
    async with database.session() as session, session.begin():
        # pgvector builds far faster when the graph fits in maintenance_work_mem (64 MB by default).
        await session.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'"))
        await index.prepare(session, dimensions)
    seconds = time.perf_counter() - started
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("ANALYZE chunks"))
        await connection.execute(text("ANALYZE documents"))
    return seconds
