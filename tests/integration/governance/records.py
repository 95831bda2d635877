"""Records for the audit tests: model calls that differ by their token counts."""

from __future__ import annotations

from souverain.governance.audit.events import ModelCall
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
    log = AuditLog(database, "lu-gov-1")
    await log.start()
    for number in range(count):
        await log.record(model_call(number))
    await log.close()
