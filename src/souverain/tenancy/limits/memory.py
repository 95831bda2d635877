"""Limits counted in this process's memory: exact for one process, the embedded default."""

from __future__ import annotations

from souverain.errors import RateLimited
from souverain.tenancy.limits.base import Bucket


class MemoryRateLimiter:
    def __init__(self) -> None:
        # (scope, window) -> [window_start, requests, tokens]
        self._counters: dict[tuple[str, int], list[int]] = {}

    def _counter(self, bucket: Bucket, now: float) -> list[int]:
        start = bucket.window_start(now)
        counter = self._counters.get((bucket.scope, bucket.window_seconds))
        if counter is None or counter[0] != start:
            counter = [start, 0, 0]
            self._counters[(bucket.scope, bucket.window_seconds)] = counter
        return counter

    async def admit(self, buckets: tuple[Bucket, ...], now: float) -> None:
        counters = [self._counter(bucket, now) for bucket in buckets]
        for bucket, (_, requests, tokens) in zip(buckets, counters, strict=True):
            if (bucket.max_requests is not None and requests >= bucket.max_requests) or (
                bucket.max_tokens is not None and tokens >= bucket.max_tokens
            ):
                raise RateLimited(f"{bucket.describe()} is reached", retry_after=bucket.retry_after(now))
        for counter in counters:
            counter[1] += 1

    async def add_tokens(self, buckets: tuple[Bucket, ...], tokens: int, now: float) -> None:
        for bucket in buckets:
            self._counter(bucket, now)[2] += tokens
