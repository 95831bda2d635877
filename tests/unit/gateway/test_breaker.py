"""The circuit breaker: a backend that keeps failing gets no traffic, then one probe decides."""

from __future__ import annotations

from souverain.gateway.breaker import CircuitBreaker, CircuitState

COOLDOWN = 15.0


def opened_breaker(at: float = 100.0) -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=3, cooldown=COOLDOWN)
    for _ in range(3):
        breaker.failed(now=at)
    return breaker


def test_a_new_breaker_lets_traffic_through() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cooldown=COOLDOWN)

    assert breaker.state(now=0.0) is CircuitState.CLOSED
    assert breaker.available(now=0.0)


def test_it_opens_after_the_threshold_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cooldown=COOLDOWN)

    breaker.failed(now=100.0)
    breaker.failed(now=100.5)
    assert breaker.available(now=101.0), "two failures out of three must not open the circuit"

    breaker.failed(now=101.0)
    assert breaker.state(now=101.0) is CircuitState.OPEN
    assert not breaker.available(now=101.0)
    assert not breaker.available(now=101.0 + COOLDOWN - 0.1)


def test_a_threshold_of_one_opens_on_the_first_failure() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cooldown=COOLDOWN)

    breaker.failed(now=5.0)

    assert not breaker.available(now=5.0)


def test_a_success_resets_the_count_of_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cooldown=COOLDOWN)
    breaker.failed(now=100.0)
    breaker.failed(now=100.0)

    breaker.succeeded()
    breaker.failed(now=101.0)
    breaker.failed(now=101.0)

    assert breaker.state(now=101.0) is CircuitState.CLOSED
    assert breaker.available(now=101.0)
    breaker.failed(now=102.0)
    assert not breaker.available(now=102.0), "the third consecutive failure must open the circuit"


def test_after_the_cooldown_exactly_one_probe_is_let_through() -> None:
    breaker = opened_breaker(at=100.0)
    probe_time = 100.0 + COOLDOWN

    assert breaker.state(now=probe_time) is CircuitState.HALF_OPEN
    assert breaker.available(now=probe_time)

    breaker.begin(now=probe_time)

    assert not breaker.available(now=probe_time), "a second request must wait for the probe's outcome"
    assert not breaker.available(now=probe_time + 60.0)


def test_a_successful_probe_closes_the_circuit() -> None:
    breaker = opened_breaker(at=100.0)
    breaker.begin(now=100.0 + COOLDOWN)

    breaker.succeeded()

    assert breaker.state(now=100.0 + COOLDOWN) is CircuitState.CLOSED
    assert breaker.available(now=100.0 + COOLDOWN)
    # Closed again from scratch: it takes the whole threshold of failures to open it once more.
    breaker.failed(now=120.0)
    breaker.failed(now=120.0)
    assert breaker.available(now=120.0)


def test_a_failed_probe_reopens_the_circuit_for_another_cooldown() -> None:
    breaker = opened_breaker(at=100.0)
    probe_time = 100.0 + COOLDOWN
    breaker.begin(now=probe_time)

    breaker.failed(now=probe_time + 1.0)

    assert breaker.state(now=probe_time + 1.0) is CircuitState.OPEN
    assert not breaker.available(now=probe_time + 1.0 + COOLDOWN - 0.1)
    assert breaker.available(now=probe_time + 1.0 + COOLDOWN), "a new probe after the second cool-down"
    breaker.begin(now=probe_time + 1.0 + COOLDOWN)
    assert not breaker.available(now=probe_time + 1.0 + COOLDOWN)


def test_a_request_begun_while_closed_does_not_count_as_a_probe() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cooldown=COOLDOWN)

    breaker.begin(now=0.0)

    assert breaker.available(now=0.0), "concurrent requests flow freely while the circuit is closed"
