"""Queries on the store, one repository per table; the same SQL on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from souverain.store.database import affected
from souverain.store.models import ApiKeyRow, RateCounterRow, TenantRow


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sync(self, tenants: Sequence[tuple[str, list[str], str]], now: datetime) -> None:
        """Make the table match the deployment file; tenants no longer declared become inactive."""
        declared = {name for name, _, _ in tenants}
        existing = {row.name: row for row in (await self.session.scalars(select(TenantRow))).all()}
        for name, residency, ceiling in tenants:
            row = existing.get(name) or TenantRow(name=name)
            row.residency = json.dumps(residency)
            row.max_classification = ceiling
            row.active = True
            row.synced_at = now
            self.session.add(row)
        for name, row in existing.items():
            if name not in declared and row.active:
                row.active = False
                row.synced_at = now

    async def get(self, name: str) -> TenantRow | None:
        return await self.session.get(TenantRow, name)


class KeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: ApiKeyRow) -> None:
        self.session.add(row)

    async def by_hash(self, key_hash: str) -> ApiKeyRow | None:
        return await self.session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == key_hash))

    async def by_id(self, key_id: str) -> ApiKeyRow | None:
        return await self.session.get(ApiKeyRow, key_id)

    async def list(self, tenant: str | None = None) -> Sequence[ApiKeyRow]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        if tenant is not None:
            query = query.where(ApiKeyRow.tenant == tenant)
        return (await self.session.scalars(query)).all()

    async def revoke(self, key_id: str, now: datetime) -> bool:
        result = await self.session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(affected(result))


class RateCounterRepository:
    """Atomic counters per (scope, window): one upsert admits or refuses a request across processes."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self) -> sqlite.Insert | postgresql.Insert:
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(RateCounterRow)
        return sqlite.insert(RateCounterRow)

    async def take_request(
        self,
        scope: str,
        window_seconds: int,
        window_start: int,
        max_requests: int | None,
        max_tokens: int | None,
    ) -> bool:
        """Count one request unless the window is full; True when it was admitted."""
        table = RateCounterRow.__table__
        room = []
        if max_requests is not None:
            room.append(table.c.requests < max_requests)
        if max_tokens is not None:
            room.append(table.c.tokens < max_tokens)
        insert = self._insert().values(
            scope=scope, window_seconds=window_seconds, window_start=window_start, requests=1, tokens=0
        )
        statement = insert.on_conflict_do_update(
            index_elements=["scope", "window_seconds", "window_start"],
            set_={"requests": table.c.requests + 1},
            where=and_(*room) if room else None,
        ).returning(table.c.requests)
        return (await self.session.execute(statement)).first() is not None

    async def add_tokens(self, scope: str, window_seconds: int, window_start: int, tokens: int) -> None:
        table = RateCounterRow.__table__
        insert = self._insert().values(
            scope=scope, window_seconds=window_seconds, window_start=window_start, requests=0, tokens=tokens
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=["scope", "window_seconds", "window_start"],
                set_={"tokens": table.c.tokens + tokens},
            )
        )

    async def usage(self, scope: str, window_seconds: int, window_start: int) -> tuple[int, int]:
        row = await self.session.get(RateCounterRow, (scope, window_seconds, window_start))
        return (row.requests, row.tokens) if row else (0, 0)

    async def forget_before(self, window_start: int) -> None:
        """Drop windows that ended; called now and then so the table stays small."""
        await self.session.execute(delete(RateCounterRow).where(RateCounterRow.window_start < window_start))
