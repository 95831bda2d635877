"""Searching the audit log: records by period, tenant, principal, use case, kind, status and policy
decision, in chain order (oldest first), a page at a time after a `seq` cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, cast, exists, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DataError

from souverain.errors import Conflict, InvalidRequest
from souverain.governance.audit.chain import INDEXED, Stored, timestamp, utc
from souverain.governance.audit.log import stored
from souverain.store.database import Database
from souverain.store.models import AuditRecordRow

MAX_PAGE = 1000
LAST_SEQ = 2**63 - 1  # the largest `seq` a store holds (BIGINT); a cursor beyond it is no cursor


@dataclass(frozen=True)
class Period:
    """Records made from `start` (included) to `end` (excluded), in UTC; None leaves that end open."""

    start: datetime | None = None
    end: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions = []
        if self.start is not None:
            conditions.append(AuditRecordRow.at >= self.start)
        if self.end is not None:
            conditions.append(AuditRecordRow.at < self.end)
        return conditions

    def described(self) -> dict[str, str | int]:
        bounds = {"from": self.start, "to": self.end}
        return {name: timestamp(moment) for name, moment in bounds.items() if moment is not None}


def period(start: datetime | None, end: datetime | None) -> Period:
    """The period from its bounds as given (a naive moment is UTC); InvalidRequest names a bound to fix."""
    bounds: dict[str, datetime | None] = {"from": start, "to": end}
    for name, moment in bounds.items():
        try:
            bounds[name] = None if moment is None else utc(moment)
        except OverflowError:
            raise InvalidRequest(f"{name}: out of range once converted to UTC", param=name) from None
    first, last = bounds["from"], bounds["to"]
    if first is not None and last is not None and first > last:
        raise InvalidRequest("from: must not be after to (the period is [from, to))", param="from")
    return Period(first, last)


@dataclass(frozen=True)
class RecordQuery:
    period: Period = Period()
    tenant: str | None = None  # None: every tenant's records (the site operator's view)
    principal: str | None = None
    use_case: str | None = None
    kind: str | None = None
    status: str | None = None
    decision: str | None = None  # one decision ("refused:residency_violation"), or a kind ("route:")
    after: int = 0  # the cursor: records after this `seq`
    limit: int = 100

    def described(self) -> dict[str, str | int]:
        """What was asked, for the record of the access: the filters given and the page."""
        given = {name: getattr(self, name) for name in (*INDEXED, "decision")}
        asked: dict[str, str | int] = self.period.described()
        asked |= {name: value for name, value in given.items() if value is not None}
        return asked | ({"after": self.after} if self.after else {}) | {"limit": self.limit}


@dataclass(frozen=True)
class Page:
    records: list[Stored]
    next_after: int | None  # the cursor of the next page; None when this page is the last


async def search(database: Database, query: RecordQuery) -> Page:
    statement = select(AuditRecordRow).where(AuditRecordRow.seq > query.after, *query.period.conditions())
    for name in INDEXED:  # the columns beside the body
        value = getattr(query, name)
        if value is not None:
            statement = statement.where(getattr(AuditRecordRow, name) == value)
    if query.decision is not None:
        statement = statement.where(decided(query.decision, database.is_sqlite))
    # One more than asked: whether a next page exists, without counting.
    statement = statement.order_by(AuditRecordRow.seq).limit(query.limit + 1)
    try:
        async with database.session() as session:
            records = [stored(row) for row in (await session.execute(statement)).scalars()]
    except DataError:
        # PostgreSQL refuses a body that is not JSON as jsonb; only tampering writes one.
        raise Conflict(
            "a record's content is not valid JSON, so decisions cannot be searched: the log was changed "
            "(its verification names the record)"
        ) from None
    page = records[: query.limit]
    return Page(page, page[-1].seq if len(records) > query.limit else None)


def decided(decision: str, sqlite: bool) -> ColumnElement[bool]:
    """Records whose body's `decisions` list holds `decision`, or, when it ends with ':' ("route:"), any
    decision of that kind; read by the store's own JSON functions."""
    if sqlite:
        # json_each stops the whole query at a body that is not JSON: such a body (tampered) has none.
        body = case((func.json_valid(AuditRecordRow.body) == 1, AuditRecordRow.body), else_="{}")
        items = func.json_each(body, "$.decisions").table_valued("value")
    else:
        listed = cast(AuditRecordRow.body, JSONB)["decisions"]
        items = func.jsonb_array_elements_text(listed).table_valued("value")
    value = items.c.value
    if decision.endswith(":"):  # by length, not LIKE: no wildcard to escape, and case-sensitive on SQLite
        matches = func.substr(value, 1, len(decision)) == decision
    else:
        matches = value == decision
    return exists(select(1).select_from(items).where(matches))
