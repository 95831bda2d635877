"""Several gateway processes on one PostgreSQL share each tenant's limits, and the keys made in one."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway, two_site_deployment

MESSAGE = {"model": "m", "messages": [{"role": "user", "content": "bonjour"}]}


def test_two_gateways_on_one_postgresql_share_a_tenants_limit(
    postgres_url: str,
    fake_lu: FakeBackend,
    fake_fr: FakeBackend,
    gateway_factory: Callable[..., RunningGateway],
) -> None:
    deployment = two_site_deployment(fake_lu.url, fake_fr.url, limits={"requests_per_day": 7})
    first = gateway_factory(deployment, database_url=postgres_url)
    second = gateway_factory(deployment, database_url=postgres_url)
    key = first.create_key("lu-health")
    headers = {"Authorization": f"Bearer {key}"}

    statuses = []
    for index in range(14):  # alternate between the two servers
        gateway = first if index % 2 == 0 else second
        response = httpx.post(gateway.api + "/chat/completions", json=MESSAGE, headers=headers)
        statuses.append(response.status_code)

    assert statuses.count(200) == 7, statuses
    assert statuses.count(429) == 7
    assert fake_lu.stats.chat == 7


def test_a_key_revoked_through_one_gateway_stops_on_the_other(
    postgres_url: str,
    fake_lu: FakeBackend,
    fake_fr: FakeBackend,
    gateway_factory: Callable[..., RunningGateway],
) -> None:
    deployment = two_site_deployment(fake_lu.url, fake_fr.url)
    first = gateway_factory(deployment, database_url=postgres_url, key_cache_seconds=0.2)
    second = gateway_factory(deployment, database_url=postgres_url, key_cache_seconds=0.2)
    admin = {"Authorization": f"Bearer {first.create_key('lu-health', 'admin')}"}
    created = httpx.post(first.url + "/admin/keys", json={"role": "member"}, headers=admin).json()
    member = {"Authorization": f"Bearer {created['key']}"}
    assert httpx.post(second.api + "/chat/completions", json=MESSAGE, headers=member).status_code == 200

    assert httpx.delete(f"{first.url}/admin/keys/{created['id']}", headers=admin).status_code == 200
    time.sleep(0.3)  # the other process trusts its cache this long (SOUVERAIN_KEY_CACHE_SECONDS)
    refused = httpx.post(second.api + "/chat/completions", json=MESSAGE, headers=member)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "revoked_api_key"
