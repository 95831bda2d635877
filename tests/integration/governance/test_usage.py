"""Usage aggregated from the audit log on both stores: counted by UTC day, tenant, use case and model,
latency percentiles over answered calls, energy from the configured factors and unknown without one."""

from __future__ import annotations

import random
from datetime import date

from souverain.config import EnergyConfig
from souverain.governance.usage import Period, UsageRow, usage_report
from souverain.store.database import Database
from tests.integration.governance.records import append_at, at, usage_call

MARCH = Period(date(2026, 3, 1), date(2026, 3, 2))
NO_FACTORS = EnergyConfig()


def row(
    day: str,
    use_case: str | None,
    model: str,
    requests_and_errors: tuple[int, int],
    tokens: tuple[int, int],
    latency: tuple[float, float, float],
) -> UsageRow:
    """A row of tenant lu-health, without energy; `latency` is the mean, p50 and p95."""
    return UsageRow(
        date.fromisoformat(day), "lu-health", use_case, model, *requests_and_errors, *tokens, *latency, None
    )


async def test_calls_are_counted_by_utc_day_tenant_use_case_and_model(database: Database) -> None:
    await append_at(
        database,
        [
            (at("2026-02-28T23:59:59.999999"), usage_call(tokens=(7, 7), latency_ms=1)),  # the day before
            (at("2026-03-01T00:00:00"), usage_call(tokens=(100, 50), latency_ms=200)),
            (at("2026-03-01T09:00:00"), usage_call(status="rate_limit_exceeded")),
            (at("2026-03-01T10:00:00"), usage_call(use_case=None, tokens=(20, 10), latency_ms=50)),
            (at("2026-03-01T11:00:00"), usage_call(model="e5-small", tokens=(40, 0), latency_ms=30)),
            (at("2026-03-01T12:00:00"), usage_call(tenant="eu-research", tokens=(1000, 1000), latency_ms=9)),
            (at("2026-03-01T23:59:59.999999"), usage_call(tokens=(300, 150), latency_ms=400)),
            (at("2026-03-02T00:00:00"), usage_call(tokens=(10, 5), latency_ms=100)),
            (at("2026-03-03T00:00:00"), usage_call(tokens=(7, 7), latency_ms=1)),  # the day after
        ],
    )

    report = await usage_report(database, NO_FACTORS, MARCH, tenant="lu-health")

    assert report.rows == (
        row("2026-03-01", None, "mistral-small", (1, 0), (20, 10), (50, 50, 50)),
        row("2026-03-01", "citizen-faq", "e5-small", (1, 0), (40, 0), (30, 30, 30)),
        # Two answered (200 and 400 ms) and one refused: the refusal is an error, and not in the latency.
        row("2026-03-01", "citizen-faq", "mistral-small", (3, 1), (400, 200), (300, 200, 400)),
        row("2026-03-02", "citizen-faq", "mistral-small", (1, 0), (10, 5), (100, 100, 100)),
    )
    totals = report.totals
    assert (totals.requests, totals.errors) == (6, 1)
    assert (totals.prompt_tokens, totals.completion_tokens) == (470, 215)
    assert totals.latency_mean_ms == (50 + 30 + 200 + 400 + 100) / 5

    everyone = await usage_report(database, NO_FACTORS, MARCH)
    assert {row.tenant for row in everyone.rows} == {"lu-health", "eu-research"}
    assert everyone.totals.requests == 7

    narrowed = await usage_report(database, NO_FACTORS, MARCH, "lu-health", "citizen-faq", "mistral-small")
    assert [(row.day.day, row.requests) for row in narrowed.rows] == [(1, 3), (2, 1)]
    assert (narrowed.use_case, narrowed.model) == ("citizen-faq", "mistral-small")


async def test_latency_percentiles_are_nearest_ranks_of_the_answered_calls(database: Database) -> None:
    latencies = list(range(1, 21))  # 1 to 20 ms
    random.Random(7).shuffle(latencies)
    calls = [usage_call(latency_ms=latency) for latency in latencies]
    calls.append(usage_call(status="no_backend_available", latency_ms=5000))  # an error, not a latency
    calls += [usage_call(use_case="ties", latency_ms=latency) for latency in (5, 10, 5, 5, 5)]
    await append_at(database, [(at("2026-03-01T08:00:00"), made) for made in calls])

    spread, ties = (await usage_report(database, NO_FACTORS, MARCH)).rows

    assert (spread.requests, spread.errors) == (21, 1)
    # p50: the 10th of 20 (ceil(0.5 * 20)); p95: the 19th (ceil(0.95 * 20)).
    assert (spread.latency_mean_ms, spread.latency_p50_ms, spread.latency_p95_ms) == (10.5, 10, 19)
    # Four of five calls took 5 ms or less: 5 ms is the p50, and only 10 ms reaches 95 %.
    assert (ties.latency_mean_ms, ties.latency_p50_ms, ties.latency_p95_ms) == (6, 5, 10)


async def test_energy_comes_from_the_models_factor_and_is_unknown_without_one(database: Database) -> None:
    await append_at(
        database,
        [
            (at("2026-03-01T08:00:00"), usage_call(tokens=(1500, 500), latency_ms=10)),
            (at("2026-03-01T09:00:00"), usage_call(model="e5-small", tokens=(4000, 0), latency_ms=5)),
        ],
    )
    factors = EnergyConfig(wh_per_1k_tokens={"mistral-small": 0.3})

    report = await usage_report(database, factors, MARCH)
    e5, mistral = report.rows

    assert mistral.energy_wh == 0.6  # 2,000 tokens at 0.3 Wh per 1,000
    assert e5.energy_wh is None
    assert report.totals.energy_wh == 0.6
    assert report.totals.models_without_energy_factor == ("e5-small",)

    defaulted = EnergyConfig(wh_per_1k_tokens={"mistral-small": 0.3}, default_wh_per_1k_tokens=0.01)
    every = await usage_report(database, defaulted, MARCH)
    assert [row.energy_wh for row in every.rows] == [0.04, 0.6]
    assert (every.totals.energy_wh, every.totals.models_without_energy_factor) == (0.64, ())

    unknown = await usage_report(database, NO_FACTORS, MARCH)
    assert (unknown.totals.energy_wh, unknown.totals.models_without_energy_factor) == (
        None,
        ("e5-small", "mistral-small"),
    )


async def test_a_period_without_calls_is_an_empty_report(database: Database) -> None:
    report = await usage_report(database, NO_FACTORS, MARCH, tenant="lu-health")

    assert report.rows == ()
    assert (report.totals.requests, report.totals.latency_mean_ms, report.totals.energy_wh) == (0, None, 0.0)
