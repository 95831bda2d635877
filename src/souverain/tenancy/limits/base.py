"""The RateLimiter protocol and the windows it counts in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from souverain.config import Limits

MINUTE = 60
DAY = 86_400


@dataclass(frozen=True)
class Bucket:
    """One limit to enforce: at most so many requests and tokens per window for one scope."""

    scope: str  # "key:<id>" or "tenant:<name>"
    window_seconds: int
    max_requests: int | None
    max_tokens: int | None

    def window_start(self, now: float) -> int:
        return int(now) // self.window_seconds * self.window_seconds

    def retry_after(self, now: float) -> int:
        return self.window_start(now) + self.window_seconds - int(now)

    def describe(self) -> str:
        window = "minute" if self.window_seconds == MINUTE else "day"
        owner = self.scope.split(":", 1)[0]
        return f"the {owner}'s limit per {window}"


def buckets(scope: str, limits: Limits) -> list[Bucket]:
    found = []
    for window, max_requests, max_tokens in (
        (MINUTE, limits.requests_per_minute, limits.tokens_per_minute),
        (DAY, limits.requests_per_day, limits.tokens_per_day),
    ):
        if max_requests is not None or max_tokens is not None:
            found.append(Bucket(scope, window, max_requests, max_tokens))
    return found


class RateLimiter(Protocol):
    async def admit(self, buckets: tuple[Bucket, ...], now: float) -> None:
        """Count one request in every bucket, or raise RateLimited naming the first that is full."""

    async def add_tokens(self, buckets: tuple[Bucket, ...], tokens: int, now: float) -> None:
        """Count the tokens a finished request used."""
