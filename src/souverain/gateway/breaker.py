"""A circuit breaker per backend: stop sending to a backend that keeps failing, probe it again later."""

from __future__ import annotations

import time
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"  # healthy: traffic flows
    OPEN = "open"  # failing: no traffic until the cool-down ends
    HALF_OPEN = "half_open"  # cool-down over: one probe request decides


class CircuitBreaker:
    def __init__(self, failure_threshold: int, cooldown: float) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    def state(self, now: float | None = None) -> CircuitState:
        if self.opened_at is None:
            return CircuitState.CLOSED
        now = time.monotonic() if now is None else now
        return CircuitState.HALF_OPEN if now - self.opened_at >= self.cooldown else CircuitState.OPEN

    def available(self, now: float | None = None) -> bool:
        """Whether a request may be sent now; in half-open state only one probe at a time."""
        state = self.state(now)
        return state is CircuitState.CLOSED or (state is CircuitState.HALF_OPEN and not self.probing)

    def begin(self, now: float | None = None) -> None:
        if self.state(now) is CircuitState.HALF_OPEN:
            self.probing = True

    def succeeded(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failed(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.failures += 1
        if self.probing or self.failures >= self.failure_threshold:
            self.opened_at = now
        self.probing = False
