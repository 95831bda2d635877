"""Appending to the audit log: group commit, durable before the caller is answered.

`record` returns once the event's record is committed. Events that arrive while a batch is being written
wait and go together in the next transaction, so under load many requests share one commit. Every
transaction first locks the chain's head row, so any number of server processes on one store append to
one chain in turn; the records' unique `seq` would refuse a fork even if that lock were bypassed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
from sqlalchemy import select

from souverain.errors import AuditUnavailable
from souverain.governance.audit.chain import ChainCheck, Finding, Stored
from souverain.governance.audit.events import Event, Purge
from souverain.governance.audit.purged import Claim
from souverain.governance.audit.writers import writer_for
from souverain.governance.audit.writers.base import COLUMNS, Clock
from souverain.store.database import Database
from souverain.store.models import AuditHeadRow, AuditRecordRow

log = logging.getLogger(__name__)

MAX_BATCH = 512  # records per transaction; more wait for the next one


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    def __init__(self, database: Database, site: str, enabled: bool = True, clock: Clock = utc_now) -> None:
        self.database = database
        self.site = site
        self.enabled = enabled  # off only to measure what auditing costs (the `audit` setting)
        self.clock = clock  # when each record is made; tests place records on the days they need
        self._pending: list[tuple[Event, asyncio.Future[int]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._store = writer_for(database)

    async def start(self) -> None:
        if not self.enabled:
            return
        self._writer = asyncio.create_task(self._run(), name="audit-writer")

    async def close(self) -> None:
        """Write every record still pending, then stop."""
        if self._writer is None:
            return
        self._closing = True
        self._wake.set()
        await self._writer
        self._writer = None
        await self._store.close()

    async def record(self, event: Event) -> int:
        """Append the event; returns its record's `seq` once the record is durable."""
        return await self.submit(event)

    def submit(self, event: Event) -> asyncio.Future[int]:
        """Queue the event without waiting (for events no response depends on, e.g. a dropped stream)."""
        if self.enabled and (self._writer is None or self._closing):
            raise AuditUnavailable("the audit log is not running: nothing can be answered unrecorded")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if not self.enabled:
            future.set_result(0)
            return future
        self._pending.append((event, future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            # One turn of the loop first: the answers that came in meanwhile add their records to this
            # batch (4.7 records a commit on average at concurrency 16, 7.5 with it).
            await asyncio.sleep(0)
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                try:
                    first = await self._write([event for event, _ in batch])
                except Exception:
                    log.exception("audit records could not be written; %d requests refused", len(batch))
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(
                                AuditUnavailable("the audit log could not record this request; retry later")
                            )
                    continue
                for offset, (_, future) in enumerate(batch):
                    if not future.done():
                        future.set_result(first + offset)
            if self._closing:
                return

    async def _write(self, events: list[Event]) -> int:
        """One transaction for the batch; returns the first record's `seq`."""
        return await self._store.write(self.site, events, self.clock)


def stored(row: AuditRecordRow) -> Stored:
    return Stored(*(getattr(row, column) for column in COLUMNS))


async def stored_records(
    database: Database, first: int = 1, last: int | None = None, page: int = 2000
) -> AsyncIterator[Stored]:
    """The records from `first` to `last` (default: all) in `seq` order, read a page at a time."""
    after = first - 1
    while True:
        query = select(AuditRecordRow).where(AuditRecordRow.seq > after)
        if last is not None:
            query = query.where(AuditRecordRow.seq <= last)
        async with database.session() as session:
            rows = (await session.execute(query.order_by(AuditRecordRow.seq).limit(page))).scalars()
            batch = [stored(row) for row in rows]
        for record in batch:
            yield record
        if len(batch) < page:
            return
        after = batch[-1].seq


async def verify_store(database: Database) -> tuple[int, Finding | None]:
    """Check the whole chain in the store: how many records are intact, and the first wrong one.

    The head row catches what the chain alone cannot: records cut from its end. It is read after the
    records, and records appended meanwhile (a serving site keeps appending) are read up to it: each
    append moves the head in the transaction that inserts the records, so a head behind the last record
    read, or records short of it, were tampered with, never raced."""
    # A purge reduces up to tens of thousands of records before its event: known in advance, its claims
    # vouch for them as they come, instead of each waiting in memory for the event further on.
    check = ChainCheck(claims=await purge_claims(database))
    async for record in stored_records(database):
        if check.feed(record) is not None:
            return check.checked, check.finding
    async with database.session() as session:
        head_seq, head_hash = (
            await session.execute(select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1))
        ).one()
    if head_seq >= check.expected:
        async for record in stored_records(database, check.expected, head_seq):
            if check.feed(record) is not None:
                return check.checked, check.finding
    last = check.expected - 1
    if check.finish() is not None:
        return check.checked, check.finding
    if head_seq > last:
        return check.checked, Finding(last + 1, f"is missing: the log ends at {last}, its head at {head_seq}")
    if head_seq < last or head_hash != check.prev:
        return check.checked, Finding(last, "does not match the chain's head (the head was changed)")
    return check.checked, None


async def purge_claims(database: Database) -> list[Claim]:
    """What the purge events of records say they reduced; taken on trust only once the chain vouches."""
    async with database.session() as session:
        rows = (
            await session.execute(
                select(AuditRecordRow.seq, AuditRecordRow.body).where(AuditRecordRow.kind == Purge.kind)
            )
        ).all()
    claims = []
    for seq, body in rows:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue  # the chain names it when it gets there
        claim = Claim.of(seq, parsed) if isinstance(parsed, dict) else None
        if claim is not None:
            claims.append(claim)
    return claims
