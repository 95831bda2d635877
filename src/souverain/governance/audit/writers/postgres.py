"""The PostgreSQL writer: a psycopg connection of its own, two round trips per batch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from souverain.governance.audit.events import Event
from souverain.governance.audit.writers.base import Clock, head_of, sealed, statements

APPLICATION_NAME = "souverain-audit"  # the writer's connection, as pg_stat_activity names it


def _postgres_at(moment: datetime, stamp: str) -> datetime:
    return moment


class PostgresWriter:
    """Appends through a psycopg connection of its own, in two round trips per batch.

    The head is locked first (FOR UPDATE: appends from any process take turns), and the records are
    chained to it, then sent with the new head and the commit in one pipeline. Through an SQLAlchemy
    session per batch the same statements cost 3 times the CPU per record (0.13 against 0.04 ms, 16
    writers, measured in process)."""

    _INSERT, _HEAD = statements("%s")

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def write(self, site: str, events: list[Event], clock: Clock) -> int:
        connection = self._connection
        if connection is None or connection.broken:
            connection = await self._connect()
        try:
            try:
                seq, prev = await self._lock_head(connection)
            except psycopg.OperationalError:
                if not connection.broken:
                    raise
                # Dropped while idle (a restart of the server, a timeout): nothing was written yet,
                # so a new connection may begin again.
                connection = await self._connect()
                seq, prev = await self._lock_head(connection)
            rows = sealed(site, seq, prev, events, clock, _postgres_at)
            async with connection.pipeline():
                await connection.cursor().executemany(self._INSERT, rows)
                await connection.execute(self._HEAD, head_of(rows))
                await connection.execute("COMMIT")
        except BaseException:
            # Whatever failed, the transaction is over: closing the connection rolls it back.
            await self._disconnect()
            raise
        return seq + 1

    @staticmethod
    async def _lock_head(connection: psycopg.AsyncConnection[Any]) -> tuple[int, str]:
        async with connection.pipeline():
            await connection.execute("BEGIN")
            cursor = await connection.execute("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        head = await cursor.fetchone()
        if head is None:
            raise LookupError("the audit log's head row is missing: was the store migrated?")
        return int(head[0]), str(head[1])

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        await self._disconnect()
        # Autocommit: the transaction is the explicit BEGIN and COMMIT, which the pipelines carry.
        self._connection = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, application_name=APPLICATION_NAME
        )
        return self._connection

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def close(self) -> None:
        await self._disconnect()
