"""The admin API (keys of one's own tenant) and the request and token limits a client runs into."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from souverain.tenancy.keys import hash_key
from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway, two_site_deployment

MESSAGES = [{"role": "user", "content": "one two three four five"}]  # the fake counts 10 tokens


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def chat(gateway: RunningGateway, key: str, **extra: Any) -> httpx.Response:
    body = {"model": "m", "messages": MESSAGES, **extra}
    return httpx.post(gateway.api + "/chat/completions", json=body, headers=bearer(key), timeout=10)


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def fresh_minute_window(margin: float = 5.0) -> None:
    """Limits count per calendar minute: start a test's calls well inside one window."""
    remaining = 60 - time.time() % 60
    if remaining < margin:
        time.sleep(remaining + 0.05)


def assert_rate_limited(response: httpx.Response) -> None:
    error = assert_error(response, 429, "rate_limit_exceeded")
    assert error["type"] == "rate_limit_error"
    retry_after = response.headers.get("retry-after")
    assert retry_after is not None and retry_after.isdigit(), f"Retry-After: {retry_after!r}"
    assert 1 <= int(retry_after) <= 60


# --- keys ----------------------------------------------------------------------------------------


def test_admin_creates_lists_and_revokes_a_key(two_sites: RunningGateway, fake_lu: FakeBackend) -> None:
    admin = two_sites.create_key("lu-health", "admin", "INTERNAL")
    keys_url = two_sites.url + "/admin/keys"
    request = {
        "role": "member",
        "name": "citizen-faq",
        "clearance": "INTERNAL",
        "expires_in_days": 30,
        "limits": {"requests_per_minute": 100},
    }
    created = httpx.post(keys_url, json=request, headers=bearer(admin))
    assert created.status_code == 201, created.text
    key = created.json()
    secret = key["key"]
    assert secret.startswith("sk-souv-") and len(secret) >= 40
    assert secret.startswith(key["prefix"]) and len(key["prefix"]) < len(secret) - 20
    assert (key["tenant"], key["name"], key["role"], key["clearance"]) == (
        "lu-health",
        "citizen-faq",
        "member",
        "INTERNAL",
    )
    assert key["expires_at"] and key["revoked_at"] is None
    assert key["limits"]["requests_per_minute"] == 100

    api = openai.OpenAI(base_url=two_sites.api, api_key=secret, max_retries=0)
    answer = api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "one two three four five"

    listed = httpx.get(keys_url, headers=bearer(admin))
    assert listed.status_code == 200
    items = listed.json()["data"]
    assert {item["id"] for item in items} >= {key["id"]} and len(items) == 2  # the admin's and the new one
    for item in items:
        assert "key" not in item and not any("hash" in field for field in item), f"secret material: {item}"
    for shown_once in (secret, hash_key(secret), admin, hash_key(admin), secret[len(key["prefix"]) :]):
        assert shown_once not in listed.text, "the key list shows a secret or its hash"

    revoked = httpx.delete(f"{keys_url}/{key['id']}", headers=bearer(admin))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None and "key" not in revoked.json()
    calls_before = fake_lu.stats.chat
    with pytest.raises(openai.AuthenticationError) as raised:
        api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert isinstance(raised.value.body, dict) and raised.value.body["code"] == "revoked_api_key"
    assert fake_lu.stats.chat == calls_before, "a revoked key still reached the backend"
    relisted = {item["id"]: item for item in httpx.get(keys_url, headers=bearer(admin)).json()["data"]}
    assert relisted[key["id"]]["revoked_at"] is not None

    assert_error(httpx.delete(f"{keys_url}/no-such-key", headers=bearer(admin)), 404)


@pytest.mark.parametrize("role", ["member", "auditor"])
def test_non_admin_keys_get_403_on_admin_routes(two_sites: RunningGateway, role: str) -> None:
    key = two_sites.create_key("lu-health", role)
    other = two_sites.create_key("lu-health", "member")
    keys_url = two_sites.url + "/admin/keys"
    for response in (
        httpx.get(keys_url, headers=bearer(key)),
        httpx.post(keys_url, json={"role": "admin"}, headers=bearer(key)),
        httpx.delete(f"{keys_url}/anything", headers=bearer(key)),
    ):
        error = assert_error(response, 403)
        assert error["type"] == "permission_error"
    assert chat(two_sites, other).status_code == 200, "a refused admin call changed another key"
    assert_error(httpx.get(keys_url), 401, "missing_api_key")


def test_admin_cannot_see_nor_revoke_another_tenants_keys(two_sites: RunningGateway) -> None:
    admin_lu = two_sites.create_key("lu-health", "admin")
    admin_eu = two_sites.create_key("eu-research", "admin")
    keys_url = two_sites.url + "/admin/keys"
    created = httpx.post(keys_url, json={"role": "member"}, headers=bearer(admin_eu))
    assert created.status_code == 201
    eu_key = created.json()

    seen_by_lu = httpx.get(keys_url, headers=bearer(admin_lu)).json()["data"]
    assert {item["tenant"] for item in seen_by_lu} == {"lu-health"}
    assert eu_key["id"] not in {item["id"] for item in seen_by_lu}

    refused = httpx.delete(f"{keys_url}/{eu_key['id']}", headers=bearer(admin_lu))
    assert_error(refused, 404)
    assert chat(two_sites, eu_key["key"]).status_code == 200, "another tenant's admin revoked the key"

    # Nor can it create a key in another tenant.
    assert_error(
        httpx.post(keys_url, json={"role": "member", "tenant": "eu-research"}, headers=bearer(admin_lu)), 400
    )
    seen_by_eu = httpx.get(keys_url, headers=bearer(admin_eu)).json()["data"]
    assert len(seen_by_eu) == 2 and {item["tenant"] for item in seen_by_eu} == {"eu-research"}


def test_an_admin_cannot_hand_out_more_clearance_than_it_holds(two_sites: RunningGateway) -> None:
    admin = two_sites.create_key("lu-health", "admin", "INTERNAL")
    keys_url = two_sites.url + "/admin/keys"
    refused = httpx.post(keys_url, json={"role": "member", "clearance": "RESTRICTED"}, headers=bearer(admin))
    error = assert_error(refused, 403, "permission_denied")
    assert error["param"] == "clearance"
    allowed = httpx.post(keys_url, json={"role": "member", "clearance": "INTERNAL"}, headers=bearer(admin))
    assert allowed.status_code == 201
    assert len(httpx.get(keys_url, headers=bearer(admin)).json()["data"]) == 2


@pytest.mark.parametrize(
    ("request_body", "param"),
    [
        ({"role": "superuser"}, "role"),
        ({}, "role"),
        ({"role": "member", "clearance": "TOP-SECRET"}, "clearance"),
        ({"role": "member", "clearance": "CONFIDENTIAL"}, "clearance"),  # above the tenant's ceiling
        ({"role": "member", "expires_in_days": -1}, "expires_in_days"),
        ({"role": "member", "limits": {"requests_per_minute": 0}}, "limits"),
        ({"role": "member", "limits": {"requests_per_hour": 5}}, "limits"),
        ({"role": "member", "is_root": True}, "is_root"),
    ],
)
def test_invalid_key_request_is_400_and_creates_nothing(
    fake_lu: FakeBackend,
    fake_fr: FakeBackend,
    gateway_factory: Callable[..., RunningGateway],
    request_body: dict[str, Any],
    param: str,
) -> None:
    gateway = gateway_factory(two_site_deployment(fake_lu.url, fake_fr.url, max_classification="INTERNAL"))
    admin = gateway.create_key("lu-health", "admin", "INTERNAL")
    keys_url = gateway.url + "/admin/keys"
    error = assert_error(httpx.post(keys_url, json=request_body, headers=bearer(admin)), 400)
    assert error["type"] == "invalid_request_error"
    assert param in (error["param"] or "") + error["message"], f"the error should name {param!r}: {error}"
    assert len(httpx.get(keys_url, headers=bearer(admin)).json()["data"]) == 1


@pytest.mark.parametrize(
    "request_body",
    [
        {"role": "member", "expires_in_days": 1e8},  # past the year 9999
        {"role": "member", "limits": {"requests_per_minute": 10**20}},  # past a 64-bit integer
        {"role": "member", "limits": {"tokens_per_day": 2**63}},
    ],
    ids=["expiry-past-year-9999", "requests-past-int64", "tokens-past-int64"],
)
def test_out_of_range_key_request_is_400_not_500(
    two_sites: RunningGateway, request_body: dict[str, Any]
) -> None:
    admin = two_sites.create_key("lu-health", "admin")
    keys_url = two_sites.url + "/admin/keys"
    response = httpx.post(keys_url, json=request_body, headers=bearer(admin))
    assert response.status_code == 400, (
        f"{request_body} -> {response.status_code} {response.text}: a value pydantic accepts but the store "
        "(or datetime) cannot hold must be refused as bad input, not end in a 500"
    )
    assert len(httpx.get(keys_url, headers=bearer(admin)).json()["data"]) == 1


# --- limits --------------------------------------------------------------------------------------


def test_tenant_requests_per_minute_is_shared_by_its_keys(
    fake_lu: FakeBackend, fake_fr: FakeBackend, gateway_factory: Callable[..., RunningGateway]
) -> None:
    gateway = gateway_factory(
        two_site_deployment(fake_lu.url, fake_fr.url, limits={"requests_per_minute": 3})
    )
    first, second = gateway.create_key("lu-health"), gateway.create_key("lu-health")
    other_tenant = gateway.create_key("eu-research")
    fresh_minute_window()
    assert [chat(gateway, key).status_code for key in (first, second, first)] == [200, 200, 200]

    assert_rate_limited(chat(gateway, first))
    assert_rate_limited(chat(gateway, second))
    assert_rate_limited(chat(gateway, second, stream=True))
    api = openai.OpenAI(base_url=gateway.api, api_key=first, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert fake_lu.stats.chat == 3, "requests over the limit reached the backend"

    assert chat(gateway, other_tenant).status_code == 200, "one tenant's limit blocked another tenant"


def test_key_requests_per_minute(two_sites: RunningGateway, fake_lu: FakeBackend) -> None:
    limited = two_sites.create_key("lu-health", limits={"requests_per_minute": 2})
    unlimited = two_sites.create_key("lu-health")
    fresh_minute_window()
    assert [chat(two_sites, limited).status_code for _ in range(2)] == [200, 200]
    assert_rate_limited(chat(two_sites, limited))
    assert fake_lu.stats.chat == 2
    assert chat(two_sites, unlimited).status_code == 200, "one key's limit blocked another key"
    assert fake_lu.stats.chat == 3


def test_tokens_per_minute_refuses_once_usage_reaches_the_limit(
    two_sites: RunningGateway, fake_lu: FakeBackend
) -> None:
    key = two_sites.create_key("lu-health", limits={"tokens_per_minute": 20})
    api = openai.OpenAI(base_url=two_sites.api, api_key=key, max_retries=0)
    fresh_minute_window()
    used = 0
    for _ in range(2):
        answer = api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert answer.usage is not None
        used += answer.usage.total_tokens
    assert used == 20
    assert_rate_limited(chat(two_sites, key))
    assert fake_lu.stats.chat == 2


def test_streamed_tokens_count_towards_the_limit(two_sites: RunningGateway, fake_lu: FakeBackend) -> None:
    key = two_sites.create_key("lu-health", limits={"tokens_per_minute": 10})
    api = openai.OpenAI(base_url=two_sites.api, api_key=key, max_retries=0)
    fresh_minute_window()
    chunks = list(api.chat.completions.create(model="m", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    assert chunks and all(chunk.usage is None for chunk in chunks), "usage sent though the client did not ask"
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices).strip()
    # The fake counted 5 prompt + 8 completion tokens: the limit of 10 is reached.
    assert_rate_limited(chat(two_sites, key, stream=True))
    assert fake_lu.stats.chat == 1
