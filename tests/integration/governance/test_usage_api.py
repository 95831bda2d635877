"""`GET /v1/usage` through a real server: each tenant's admins and auditors see their own tenant's usage,
members are refused, and bad periods are a 400 naming what to change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway, two_site_deployment
from tests.integration.test_admin_api import assert_error, bearer, chat

WATT_HOURS_PER_1K_TOKENS = 0.5


@pytest.fixture
def gateway(
    fake_lu: FakeBackend, fake_fr: FakeBackend, gateway_factory: Callable[..., RunningGateway]
) -> RunningGateway:
    deployment = two_site_deployment(fake_lu.url, fake_fr.url)
    deployment["energy"] = {"wh_per_1k_tokens": {"m": WATT_HOURS_PER_1K_TOKENS}}
    return gateway_factory(deployment)


def usage(gateway: RunningGateway, key: str | None, **query: str) -> httpx.Response:
    headers = bearer(key) if key else {}
    return httpx.get(gateway.api + "/usage", params=query, headers=headers, timeout=10)


def around_today() -> dict[str, str]:
    """From yesterday to tomorrow (UTC): today's calls, even when the test runs across midnight."""
    today = datetime.now(UTC).date()
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}


def by_model(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["model"]: row for row in report["rows"]}


def test_admins_and_auditors_see_their_own_tenants_usage_only(gateway: RunningGateway) -> None:
    lu_member, eu_member = gateway.create_key("lu-health"), gateway.create_key("eu-research")
    for _ in range(2):
        assert chat(gateway, lu_member).status_code == 200
    assert chat(gateway, eu_member).status_code == 200
    assert chat(gateway, lu_member, model="not-served").status_code == 404

    answered = usage(gateway, gateway.create_key("lu-health", "admin"), **around_today())
    assert answered.status_code == 200, answered.text
    report = answered.json()
    assert report["tenant"] == "lu-health"
    assert {row["tenant"] for row in report["rows"]} == {"lu-health"}
    served, refused = by_model(report)["m"], by_model(report)["not-served"]
    assert (served["requests"], served["errors"], served["prompt_tokens"]) == (2, 0, 10)
    tokens = served["prompt_tokens"] + served["completion_tokens"]
    assert served["energy_wh"] == pytest.approx(tokens / 1000 * WATT_HOURS_PER_1K_TOKENS)
    assert served["latency_p50_ms"] > 0 and served["latency_p95_ms"] >= served["latency_p50_ms"]
    # Refused before any backend: an error, no latency, and no energy factor for a model never served.
    assert (refused["requests"], refused["errors"], refused["latency_mean_ms"]) == (1, 1, None)
    assert refused["energy_wh"] is None
    assert report["totals"]["requests"] == 3
    assert report["totals"]["energy_wh"] == served["energy_wh"]
    assert report["totals"]["models_without_energy_factor"] == ["not-served"]

    auditor = usage(gateway, gateway.create_key("eu-research", "auditor"), **around_today())
    assert auditor.status_code == 200, auditor.text
    assert [(row["tenant"], row["requests"]) for row in auditor.json()["rows"]] == [("eu-research", 1)]

    narrowed = usage(gateway, gateway.create_key("lu-health", "auditor"), model="m", **around_today())
    assert [row["model"] for row in narrowed.json()["rows"]] == ["m"]


def test_members_and_callers_without_a_key_are_refused(gateway: RunningGateway) -> None:
    assert_error(usage(gateway, gateway.create_key("lu-health")), 403, "permission_denied")
    assert_error(usage(gateway, None), 401)


@pytest.mark.parametrize(
    ("query", "param", "what"),
    [
        ({"from": "2026-13-01"}, "from", "valid date"),
        ({"to": "yesterday"}, "to", "valid date"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from", "is after `to`"),
        ({"from": "2024-01-01", "to": "2025-12-31"}, "from", "a report at most 366"),
        ({"from": "0001-01-01", "to": "9999-12-31"}, "from", "a report at most 366"),
        ({"use_case": "x" * 101}, "use_case", "at most 100 characters"),
    ],
    ids=["month-13", "not-a-date", "backwards", "two-years", "all-of-time", "long-use-case"],
)
def test_a_bad_period_or_filter_is_a_400_naming_what_to_change(
    gateway: RunningGateway, query: dict[str, str], param: str, what: str
) -> None:
    error = assert_error(usage(gateway, gateway.create_key("lu-health", "auditor"), **query), 400)

    assert what in error["message"]
    assert param in (error["param"] or "")
