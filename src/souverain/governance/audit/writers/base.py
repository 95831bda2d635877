"""What every store's writer does, and the records it writes: the events chained after the head."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, Protocol

from souverain.governance.audit.chain import INDEXED, Stored, canonical, digest, timestamp
from souverain.governance.audit.events import Event

Clock = Callable[[], datetime]
COLUMNS = tuple(column.name for column in fields(Stored))


def statements(placeholder: str) -> tuple[str, str]:
    """The INSERT of a record and the UPDATE of the head, in a driver's parameter style."""
    values = ", ".join([placeholder] * len(COLUMNS))
    insert = f"INSERT INTO audit_records ({', '.join(COLUMNS)}) VALUES ({values})"
    return insert, f"UPDATE audit_head SET seq = {placeholder}, hash = {placeholder} WHERE id = 1"


def head_of(rows: list[tuple[Any, ...]]) -> tuple[Any, Any]:
    """The new head after the rows: the last one's seq and hash."""
    return rows[-1][0], rows[-1][-1]


class Writer(Protocol):
    async def write(self, site: str, events: list[Event], clock: Clock) -> int:
        """Append the events in one transaction, durable when it returns; the first record's `seq`."""
        ...

    async def close(self) -> None: ...


def sealed(
    site: str,
    seq: int,
    prev: str,
    events: list[Event],
    clock: Clock,
    stored_at: Callable[[datetime, str], Any],
) -> list[tuple[Any, ...]]:
    """The rows (values in the order of COLUMNS) of the events chained after record `seq`, whose hash is
    `prev`; `stored_at` makes the `at` column from the moment and its text in the body."""
    rows = []
    for event in events:
        seq += 1
        moment = clock().astimezone(UTC)
        stamp = timestamp(moment)
        body = canonical({"seq": seq, "prev": prev, "at": stamp, "site": site} | event.fields())
        record_hash = digest(body)
        indexed = tuple(getattr(event, column) for column in INDEXED)
        rows.append((seq, stored_at(moment, stamp), *indexed, body.decode(), prev, record_hash))
        prev = record_hash
    return rows
