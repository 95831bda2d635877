"""Records for the audit tests: model calls that differ by their token counts, or any events."""

from __future__ import annotations

from collections.abc import Iterable

from souverain.governance.audit.events import Event, ModelCall
from souverain.governance.audit.log import AuditLog
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
