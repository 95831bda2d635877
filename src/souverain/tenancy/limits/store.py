"""Limits counted in the store, so that all server processes on one PostgreSQL share them."""

from __future__ import annotations

from souverain.errors import RateLimited
from souverain.store.database import Database
from souverain.store.repositories import RateCounterRepository
from souverain.tenancy.limits.base import DAY, Bucket


class StoreRateLimiter:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._last_cleanup = 0

    async def admit(self, buckets: tuple[Bucket, ...], now: float) -> None:
        if not buckets:
            return
        async with self.database.session() as session, session.begin():
            counters = RateCounterRepository(session)
            for bucket in buckets:
                start = bucket.window_start(now)
                if not await counters.take_request(
                    bucket.scope, bucket.window_seconds, start, bucket.max_requests, bucket.max_tokens
                ):
                    raise RateLimited(f"{bucket.describe()} is reached", retry_after=bucket.retry_after(now))
            if now - self._last_cleanup > 3600:
                self._last_cleanup = int(now)
                await counters.forget_before(int(now) - 2 * DAY)

    async def add_tokens(self, buckets: tuple[Bucket, ...], tokens: int, now: float) -> None:
        if not buckets or tokens <= 0:
            return
        async with self.database.session() as session, session.begin():
            counters = RateCounterRepository(session)
            for bucket in buckets:
                if bucket.max_tokens is not None:
                    await counters.add_tokens(
                        bucket.scope, bucket.window_seconds, bucket.window_start(now), tokens
                    )
