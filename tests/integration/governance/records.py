"""Records for the audit tests: model calls that differ by their token counts, any events, or events
made at set moments, also in a new store; and what a store's log holds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from souverain.governance.audit.chain import Finding, Stored
from souverain.governance.audit.events import Event, ModelCall
from souverain.governance.audit.log import AuditLog, stored_records, verify_store
from souverain.store.database import Database


def model_call(number: int) -> ModelCall:
    return ModelCall(
        tenant="lu-health",
        principal="k1",
        role="member",
        endpoint="chat",
        model="m",
        classification="PUBLIC",
        prompt_tokens=number,
    )


async def append(database: Database, count: int) -> None:
    """`count` records, numbered by their prompt tokens from 0, through a log started and closed here."""
    await append_events(database, [model_call(number) for number in range(count)])


async def append_events(database: Database, events: Iterable[Event], site: str = "lu-gov-1") -> None:
    """The events' records, in order, through a log of its own (beside a server's, if one runs)."""
    log = AuditLog(database, site)
    await log.start()
    for event in events:
        await log.record(event)
    await log.close()


async def append_at(database: Database, events: list[tuple[datetime, Event]]) -> None:
    """Each event recorded at its moment, in order, through a log started and closed here."""
    moments = iter([moment for moment, _ in events])
    log = AuditLog(database, "lu-gov-1", clock=lambda: next(moments))  # read once per record, in order
    await log.start()
    for _, event in events:
        await log.record(event)
    await log.close()


def fill_store(data: Path, events: Iterable[tuple[datetime, Event]]) -> None:
    """A new SQLite store in the data folder `data`, as `souverain` commands find it, holding each event
    recorded at its moment, in order."""

    async def write() -> None:
        database = Database(f"sqlite:///{data / 'souverain.db'}")
        database.migrate()
        try:
            await append_at(database, list(events))
        finally:
            await database.close()

    asyncio.run(write())


def at(text: str) -> datetime:
    """A moment in UTC, written as in ISO 8601."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def usage_call(
    tenant: str = "lu-health",
    use_case: str | None = "citizen-faq",
    model: str = "mistral-small",
    tokens: tuple[int, int] = (0, 0),
    latency_ms: float = 0.0,
    status: str = "ok",
) -> ModelCall:
    """A model call as usage reports count it: by tenant, use case and model, with tokens and latency."""
    return ModelCall(
        tenant=tenant,
        principal="k1",
        role="member",
        use_case=use_case,
        status=status,
        endpoint="chat",
        model=model,
        classification="PUBLIC",
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        latency_ms=latency_ms,
    )


def logged(url: str, *kinds: str) -> tuple[list[Stored], Finding | None]:
    """The records of these kinds (default: all) in chain order, and the whole chain's first fault (None
    when it is intact), read from the store at `url` beside a server that may be running on it."""

    async def read() -> tuple[list[Stored], Finding | None]:
        database = Database(url)
        try:
            found = [record async for record in stored_records(database) if not kinds or record.kind in kinds]
            return found, (await verify_store(database))[1]
        finally:
            await database.close()

    return asyncio.run(read())


def logged_bodies(url: str, *kinds: str) -> tuple[list[dict[str, Any]], Finding | None]:
    """As `logged`, with each record's body parsed."""
    found, fault = logged(url, *kinds)
    return [orjson.loads(record.body) for record in found], fault
