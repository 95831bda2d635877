"""The SQLite writer: appends on the event loop's thread while the write lock is free."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from souverain.governance.audit.events import Event
from souverain.governance.audit.writers.base import Clock, head_of, sealed, statements

log = logging.getLogger(__name__)

# Commits between two checkpoints of the write-ahead log (a batch writes 6 to 15 pages, so about
# SQLite's own 1,000), and how long a writer waits for another writer's lock.
CHECKPOINT_EVERY = 128
BUSY_TIMEOUT_MS = 10_000


def _sqlite_at(moment: datetime, stamp: str) -> str:
    """`at` as SQLAlchemy stores a DateTime on SQLite (UTC, without the offset), from the body's text."""
    return stamp[:-1].replace("T", " ")


class SqliteWriter:
    """Appends on the event loop's thread while the write lock is free.

    A batch is then one call into SQLite's C code, its commit a write() of the changed pages into the
    operating system's cache (no fsync, see `_connect`): about 0.05 ms plus 0.015 ms a record. Handing
    it to a thread cost more than doing it, as the hand-off, the wake-ups and the GIL passed back and
    forth came on top (docs/benchmarks.md). What could hold the loop up goes to the thread: waiting
    for the lock while another writer holds it (another process, or this one's SQLAlchemy connections),
    and the checkpoints, which copy the write-ahead log into the database and fsync both."""

    _INSERT, _HEAD = statements("?")

    def __init__(self, path: str) -> None:
        self.path = path
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-sqlite")
        self._connection: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None  # used in the thread only
        self._commits = 0  # since the last checkpoint began
        self._checkpoint: asyncio.Future[None] | None = None

    async def write(self, site: str, events: list[Event], clock: Clock) -> int:
        connection = self._connection or self._connect()
        loop = asyncio.get_running_loop()
        try:
            # IMMEDIATE takes the write lock at once, so writers of other processes take turns; with
            # busy_timeout 0 it is refused at once while another writer holds it, and then waited for
            # in the thread rather than here.
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            waiting = self._write_waiting
            first = await loop.run_in_executor(self.thread, waiting, connection, site, events, clock)
        else:
            first = self._append(connection, site, events, clock)
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and self._checkpoint is None:
            self._commits = 0
            self._checkpoint = loop.run_in_executor(self.thread, self._checkpoint_log)
            self._checkpoint.add_done_callback(self._checkpointed)
        return first

    def _append(self, connection: sqlite3.Connection, site: str, events: list[Event], clock: Clock) -> int:
        """Within the transaction just begun: the records, the new head, the commit."""
        try:
            seq, prev = connection.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            rows = sealed(site, int(seq), str(prev), events, clock, _sqlite_at)
            connection.executemany(self._INSERT, rows)
            connection.execute(self._HEAD, head_of(rows))
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return int(seq) + 1

    def _write_waiting(
        self, connection: sqlite3.Connection, site: str, events: list[Event], clock: Clock
    ) -> int:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            connection.execute("BEGIN IMMEDIATE")
            return self._append(connection, site, events, clock)
        finally:
            connection.execute("PRAGMA busy_timeout=0")

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # A commit is durable once SQLite has written it to the write-ahead log: in WAL mode with
        # synchronous=NORMAL that is a write() without fsync, so a record acknowledged survives the
        # process being killed; an OS crash or power loss can take back the last commits before a
        # checkpoint, never the chain's consistency (docs/benchmarks.md, "Audit log"). Checkpoints
        # are the thread's (`_checkpoint_log`), not the commit's that happens to fill the log.
        for pragma in ("journal_mode=WAL", "busy_timeout=0", "synchronous=NORMAL", "wal_autocheckpoint=0"):
            connection.execute(f"PRAGMA {pragma}")
        self._connection = connection
        return connection

    def _checkpoint_log(self) -> None:
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # PASSIVE copies what it can without waiting for readers or writers; appends go on meanwhile.
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def _checkpointed(self, done: asyncio.Future[None]) -> None:
        self._checkpoint = None
        if not done.cancelled() and done.exception() is not None:
            # Nothing is lost: the write-ahead log grows until a later checkpoint succeeds.
            log.warning("checkpoint of the SQLite write-ahead log failed: %r", done.exception())

    async def close(self) -> None:
        if self._checkpoint is not None:
            await asyncio.wait([self._checkpoint])
        await asyncio.get_running_loop().run_in_executor(self.thread, self._close_connections)
        self.thread.shutdown(wait=True)

    def _close_connections(self) -> None:
        for connection in (self._connection, self._checkpointer):
            if connection is not None:
                connection.close()
        self._connection = self._checkpointer = None
