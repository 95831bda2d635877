"""Limits counted in one process's memory: the same rules as the store's limiter."""

from __future__ import annotations

import pytest

from souverain.errors import RateLimited
from souverain.tenancy.limits.base import DAY, MINUTE, Bucket
from souverain.tenancy.limits.memory import MemoryRateLimiter

WINDOW = 1_700_000_040  # the start of a minute


async def admitted(limiter: MemoryRateLimiter, buckets: tuple[Bucket, ...], now: float) -> bool:
    try:
        await limiter.admit(buckets, now)
    except RateLimited:
        return False
    return True


async def test_requests_over_the_limit_are_refused_until_the_minute_ends() -> None:
    limiter = MemoryRateLimiter()
    bucket = Bucket("key:a", MINUTE, 3, None)
    assert [await admitted(limiter, (bucket,), WINDOW + 10) for _ in range(4)] == [True, True, True, False]
    with pytest.raises(RateLimited) as caught:
        await limiter.admit((bucket,), WINDOW + 15.5)
    assert 1 <= caught.value.retry_after <= 60
    assert caught.value.retry_after == 45
    assert caught.value.headers() == {"Retry-After": "45"}
    with pytest.raises(RateLimited) as caught:
        await limiter.admit((bucket,), WINDOW + 59.9)
    assert caught.value.retry_after == 1
    assert [await admitted(limiter, (bucket,), WINDOW + 60) for _ in range(4)] == [True, True, True, False]


async def test_a_day_window_rolls_over_at_midnight_utc() -> None:
    limiter = MemoryRateLimiter()
    bucket = Bucket("tenant:t", DAY, 1, None)
    midnight = WINDOW // DAY * DAY + DAY
    await limiter.admit((bucket,), midnight - 3_600)
    with pytest.raises(RateLimited) as caught:
        await limiter.admit((bucket,), midnight - 1)
    assert caught.value.retry_after == 1
    await limiter.admit((bucket,), midnight)


async def test_a_request_is_refused_once_its_tokens_reach_the_limit() -> None:
    limiter = MemoryRateLimiter()
    bucket = Bucket("key:a", MINUTE, None, 100)
    await limiter.admit((bucket,), WINDOW)
    await limiter.add_tokens((bucket,), 60, WINDOW + 1)
    await limiter.admit((bucket,), WINDOW + 2)
    await limiter.add_tokens((bucket,), 40, WINDOW + 3)
    with pytest.raises(RateLimited):
        await limiter.admit((bucket,), WINDOW + 4)
    await limiter.admit((bucket,), WINDOW + MINUTE)  # tokens count afresh in the next minute


async def test_a_refusal_in_one_bucket_counts_the_request_in_none() -> None:
    limiter = MemoryRateLimiter()
    key = Bucket("key:a", MINUTE, 3, None)
    tenant = Bucket("tenant:t", MINUTE, 2, None)
    other_key = Bucket("key:b", MINUTE, 3, None)
    assert [await admitted(limiter, (key, tenant), WINDOW) for _ in range(4)] == [True, True, False, False]
    # The refused requests were not counted against key:a: it still has one request of room...
    assert await admitted(limiter, (key,), WINDOW)
    assert not await admitted(limiter, (key,), WINDOW)
    # ...and the tenant's bucket is full for its other keys too.
    assert not await admitted(limiter, (other_key, tenant), WINDOW)
    assert [await admitted(limiter, (other_key,), WINDOW) for _ in range(4)] == [True, True, True, False]


async def test_scopes_and_windows_count_apart() -> None:
    limiter = MemoryRateLimiter()
    per_minute = Bucket("key:a", MINUTE, 1, None)
    per_day = Bucket("key:a", DAY, 2, None)
    await limiter.admit((per_minute, per_day), WINDOW)
    await limiter.admit((Bucket("key:b", MINUTE, 1, None),), WINDOW)
    with pytest.raises(RateLimited) as caught:
        await limiter.admit((per_minute, per_day), WINDOW + 1)
    assert "minute" in caught.value.message
    await limiter.admit((per_minute, per_day), WINDOW + MINUTE)
    with pytest.raises(RateLimited) as caught:
        await limiter.admit((per_minute, per_day), WINDOW + 2 * MINUTE)
    assert "day" in caught.value.message
    assert caught.value.retry_after > MINUTE


async def test_no_buckets_means_no_limit() -> None:
    limiter = MemoryRateLimiter()
    for _ in range(1_000):
        await limiter.admit((), WINDOW)
    await limiter.add_tokens((), 10**9, WINDOW)
