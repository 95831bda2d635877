"""The store's contract, run alike on SQLite and PostgreSQL: migrations, tenants, API keys, limits."""

from __future__ import annotations

import asyncio
import hashlib
import json
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select, text, update

from souverain.config import Deployment, Limits, parse_deployment
from souverain.engines.registry import kind_infos
from souverain.errors import AuthenticationFailed, InvalidRequest, NotFound, RateLimited
from souverain.governance.audit.events import operator
from souverain.governance.audit.log import AuditLog
from souverain.store.database import MIGRATIONS, Database, include_in_autogenerate
from souverain.store.models import ApiKeyRow, Base, TenantRow
from souverain.store.repositories import RateCounterRepository
from souverain.tenancy.keys import KEY_PREFIX, KeyService
from souverain.tenancy.limits.base import DAY, MINUTE, Bucket
from souverain.tenancy.limits.store import StoreRateLimiter
from souverain.tenancy.principal import Role
from souverain.tenancy.tenants import sync_tenants

OPERATOR = operator("lu-health")

# The start of a minute (and not of a day), so that offsets below read as seconds into the window.
WINDOW = 1_700_000_040

HEALTH = {
    "name": "lu-health",
    "residency": ["LU"],
    "max_classification": "RESTRICTED",
    "limits": {"requests_per_minute": 100, "tokens_per_day": 50_000},
}
DEFENCE = {"name": "lu-defence", "residency": ["LU"]}
EDUCATION = {"name": "lu-education", "residency": ["EU"], "max_classification": "INTERNAL"}


def deployment(*tenants: dict[str, Any]) -> Deployment:
    raw = {"site": {"name": "lu-gov-1", "jurisdiction": "LU"}, "tenants": list(tenants)}
    return parse_deployment(raw, "test", kind_infos())


@pytest.fixture
async def keys(database: Database, audit: AuditLog) -> KeyService:
    site = deployment(HEALTH, DEFENCE)
    await sync_tenants(database, site)
    return KeyService(database, site, cache_seconds=60, audit=audit)


async def tenant_rows(database: Database) -> dict[str, TenantRow]:
    async with database.session() as session:
        return {row.name: row for row in (await session.scalars(select(TenantRow))).all()}


# --- migrations -------------------------------------------------------------------------------------


async def test_migrations_create_the_schema_and_can_run_again(database_url: str) -> None:
    store = Database(database_url)
    try:
        store.migrate()
        store.migrate()
        async with store.engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    finally:
        await store.close()
    assert {"tenants", "api_keys", "rate_counters"} <= tables
    assert versions == [(ScriptDirectory(str(MIGRATIONS)).get_current_head(),)]


async def test_migrations_match_the_models(database: Database) -> None:
    def differences(connection: Connection) -> list[Any]:
        found: list[Any] = compare_metadata(
            MigrationContext.configure(connection, opts={"include_object": include_in_autogenerate}),
            Base.metadata,
        )
        return found

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


# --- tenants ----------------------------------------------------------------------------------------


async def test_tenant_sync_adds_updates_and_deactivates_but_keeps_keys(
    database: Database, audit: AuditLog
) -> None:
    first = deployment(HEALTH, DEFENCE)
    await sync_tenants(database, first)
    rows = await tenant_rows(database)
    assert set(rows) == {"lu-health", "lu-defence"}
    assert all(row.active for row in rows.values())
    assert json.loads(rows["lu-health"].residency) == ["LU"]
    assert rows["lu-health"].max_classification == "RESTRICTED"
    assert rows["lu-defence"].max_classification == "SECRET"  # no ceiling: the highest level
    info, _ = await KeyService(database, first, cache_seconds=0, audit=audit).create(
        by=OPERATOR, tenant="lu-defence", role="admin"
    )

    second = deployment({**HEALTH, "residency": ["EU"], "max_classification": "INTERNAL"}, EDUCATION)
    await sync_tenants(database, second)
    await sync_tenants(database, second)  # the same file again changes nothing
    rows = await tenant_rows(database)
    assert {name: row.active for name, row in rows.items()} == {
        "lu-health": True,
        "lu-defence": False,
        "lu-education": True,
    }
    assert json.loads(rows["lu-health"].residency) == ["EU"]
    assert rows["lu-health"].max_classification == "INTERNAL"
    assert [key.id for key in await KeyService(database, second, cache_seconds=0, audit=audit).list()] == [
        info.id
    ]

    await sync_tenants(database, first)
    assert (await tenant_rows(database))["lu-defence"].active


# --- API keys ---------------------------------------------------------------------------------------


async def test_a_created_key_authenticates_as_its_principal(keys: KeyService) -> None:
    info, secret = await keys.create(
        by=OPERATOR,
        tenant="lu-health",
        role="member",
        clearance="INTERNAL",
        name="claims triage",
        limits=Limits(requests_per_minute=5, tokens_per_minute=2_000),
    )
    assert secret.startswith(KEY_PREFIX)
    assert len(secret) > len(KEY_PREFIX) + 40
    assert secret.startswith(info.prefix)
    assert (info.tenant, info.role, info.clearance) == ("lu-health", "member", "INTERNAL")
    assert info.name == "claims triage"
    assert info.revoked_at is None and info.expires_at is None

    principal = await keys.authenticate(secret)
    assert principal.key_id == info.id
    assert principal.tenant.name == "lu-health"
    assert principal.role is Role.MEMBER
    assert principal.clearance == "INTERNAL"
    assert principal.buckets == (
        Bucket(f"key:{info.id}", MINUTE, 5, 2_000),
        Bucket("tenant:lu-health", MINUTE, 100, None),
        Bucket("tenant:lu-health", DAY, None, 50_000),
    )


async def test_a_key_is_checked_against_the_store_not_only_the_process_that_made_it(
    database: Database, keys: KeyService
) -> None:
    _, secret = await keys.create(by=OPERATOR, tenant="lu-defence", role="auditor")
    elsewhere = KeyService(database, keys.deployment, cache_seconds=0, audit=keys.audit)
    principal = await elsewhere.authenticate(secret)
    assert (principal.tenant.name, principal.role) == ("lu-defence", Role.AUDITOR)
    assert principal.clearance == "PUBLIC"  # the lowest level unless asked
    assert principal.buckets == ()  # neither the key nor lu-defence has limits


async def test_only_a_hash_of_the_secret_is_stored(database: Database, keys: KeyService) -> None:
    info, secret = await keys.create(by=OPERATOR, tenant="lu-health", role="admin")
    async with database.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM api_keys"))).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    assert secret[len(KEY_PREFIX) :] not in stored
    assert rows[0]["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert rows[0]["prefix"] == info.prefix and len(info.prefix) <= len(KEY_PREFIX) + 4


async def test_keys_are_listed_per_tenant_without_secrets(keys: KeyService) -> None:
    first, _ = await keys.create(by=OPERATOR, tenant="lu-health", role="admin", name="first")
    second, _ = await keys.create(by=OPERATOR, tenant="lu-defence", role="member", name="second")
    third, _ = await keys.create(by=OPERATOR, tenant="lu-health", role="member", name="third")
    assert {key.id for key in await keys.list()} == {first.id, second.id, third.id}
    assert [key.id for key in await keys.list("lu-health")] == [first.id, third.id]
    assert [key.id for key in await keys.list("lu-education")] == []


async def test_a_revoked_key_stops_working_at_once(database: Database, keys: KeyService) -> None:
    info, secret = await keys.create(by=OPERATOR, tenant="lu-health", role="member")
    await keys.authenticate(secret)  # now cached

    revoked = await keys.revoke(info.id, OPERATOR, tenant="lu-health")

    assert revoked.revoked_at is not None
    assert [key.revoked_at is not None for key in await keys.list()] == [True]
    for service in (keys, KeyService(database, keys.deployment, cache_seconds=0, audit=keys.audit)):
        with pytest.raises(AuthenticationFailed) as caught:
            await service.authenticate(secret)
        assert caught.value.code == "revoked_api_key"
        assert secret not in caught.value.message


async def test_an_admin_cannot_revoke_another_tenants_key(keys: KeyService) -> None:
    info, secret = await keys.create(by=OPERATOR, tenant="lu-health", role="member")
    with pytest.raises(NotFound):
        await keys.revoke(info.id, OPERATOR, tenant="lu-defence")
    with pytest.raises(NotFound):
        await keys.revoke("0123456789abcdef", OPERATOR)
    assert (await keys.authenticate(secret)).key_id == info.id


async def test_an_expired_key_is_refused(database: Database, keys: KeyService) -> None:
    info, secret = await keys.create(by=OPERATOR, tenant="lu-health", role="member", expires_in_days=30)
    assert info.expires_at is not None
    assert timedelta(days=29) < info.expires_at - datetime.now(UTC) <= timedelta(days=30)
    async with database.session() as session, session.begin():
        await session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == info.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    with pytest.raises(AuthenticationFailed) as caught:
        await keys.authenticate(secret)
    assert caught.value.code == "expired_api_key"


async def test_a_cached_key_is_refused_once_it_expires(keys: KeyService) -> None:
    _, secret = await keys.create(by=OPERATOR, tenant="lu-health", role="member", expires_in_days=0.3 / DAY)
    await keys.authenticate(secret)  # cached for a minute, but the key lives 0.3 s
    await asyncio.sleep(0.35)
    with pytest.raises(AuthenticationFailed) as caught:
        await keys.authenticate(secret)
    assert caught.value.code == "expired_api_key"


async def test_repeated_refusals_do_not_pile_up(keys: KeyService) -> None:
    # The refusal is cached; each caller must get its own exception, not one whose traceback (and
    # the frames it keeps alive) grows with every attempt.
    depths = []
    for _ in range(20):
        with pytest.raises(AuthenticationFailed) as caught:
            await keys.authenticate(KEY_PREFIX + "guessed")
        depths.append(len(traceback.extract_tb(caught.value.__traceback__)))
    assert depths == depths[:1] * 20


async def test_an_unknown_or_missing_key_is_refused(keys: KeyService) -> None:
    await keys.create(by=OPERATOR, tenant="lu-health", role="member")
    with pytest.raises(AuthenticationFailed) as caught:
        await keys.authenticate(KEY_PREFIX + "not-a-key-anyone-was-given")
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(AuthenticationFailed) as caught:
        await keys.authenticate(None)
    assert caught.value.code == "missing_api_key"


async def test_a_key_of_a_tenant_no_longer_configured_is_refused(
    database: Database, keys: KeyService
) -> None:
    _, secret = await keys.create(by=OPERATOR, tenant="lu-defence", role="member")
    without_defence = deployment(HEALTH)
    await sync_tenants(database, without_defence)
    with pytest.raises(AuthenticationFailed) as caught:
        await KeyService(database, without_defence, cache_seconds=0, audit=keys.audit).authenticate(secret)
    assert caught.value.code == "unknown_tenant"


@pytest.mark.parametrize(
    ("request_", "error", "param"),
    [
        ({"tenant": "lu-health", "role": "superuser"}, InvalidRequest, "role"),
        ({"tenant": "lu-health", "role": "member", "clearance": "CONFIDENTIAL"}, InvalidRequest, "clearance"),
        ({"tenant": "lu-health", "role": "member", "clearance": "TOP"}, InvalidRequest, "clearance"),
        ({"tenant": "lu-health", "role": "member", "expires_in_days": 0}, InvalidRequest, "expires_in_days"),
        ({"tenant": "lu-finance", "role": "member"}, NotFound, "tenant"),
    ],
    ids=["bad-role", "above-ceiling", "unknown-clearance", "no-lifetime", "unknown-tenant"],
)
async def test_a_bad_key_request_is_refused_and_creates_nothing(
    keys: KeyService, request_: dict[str, Any], error: type[Exception], param: str
) -> None:
    with pytest.raises(error) as caught:
        await keys.create(by=OPERATOR, **request_)
    assert getattr(caught.value, "param", None) == param
    assert await keys.list() == []


# --- rate limits ------------------------------------------------------------------------------------


async def usage(database: Database, bucket: Bucket, now: float) -> tuple[int, int]:
    async with database.session() as session:
        return await RateCounterRepository(session).usage(
            bucket.scope, bucket.window_seconds, bucket.window_start(now)
        )


async def test_counters_take_requests_until_the_window_is_full(database: Database) -> None:
    async with database.session() as session, session.begin():
        counters = RateCounterRepository(session)
        taken = [await counters.take_request("key:a", MINUTE, WINDOW, 2, None) for _ in range(3)]
        assert taken == [True, True, False]
        assert await counters.take_request("key:b", MINUTE, WINDOW, 2, None)  # other scopes count apart
        assert await counters.take_request("key:a", MINUTE, WINDOW + MINUTE, 2, None)  # and other windows
        await counters.add_tokens("key:c", MINUTE, WINDOW, 30)
        await counters.add_tokens("key:c", MINUTE, WINDOW, 12)
        assert await counters.usage("key:c", MINUTE, WINDOW) == (0, 42)
        assert not await counters.take_request("key:c", MINUTE, WINDOW, None, 42)
        assert await counters.usage("key:a", MINUTE, WINDOW) == (2, 0)
        assert await counters.usage("key:z", MINUTE, WINDOW) == (0, 0)
        await counters.forget_before(WINDOW + MINUTE)
        assert await counters.usage("key:a", MINUTE, WINDOW) == (0, 0)
        assert await counters.usage("key:a", MINUTE, WINDOW + MINUTE) == (1, 0)


async def test_requests_over_the_limit_are_refused_until_the_window_ends(database: Database) -> None:
    limiter = StoreRateLimiter(database)
    bucket = Bucket("key:a", MINUTE, 3, None)
    for _ in range(3):
        await limiter.admit((bucket,), WINDOW + 10)
    with pytest.raises(RateLimited) as caught:
        await limiter.admit((bucket,), WINDOW + 15.5)
    assert 1 <= caught.value.retry_after <= 60
    assert caught.value.retry_after == 45  # the rest of the minute
    assert await usage(database, bucket, WINDOW) == (3, 0)  # the refused request is not counted

    with pytest.raises(RateLimited) as caught:
        await limiter.admit((bucket,), WINDOW + 59.9)
    assert caught.value.retry_after == 1
    await limiter.admit((bucket,), WINDOW + 60)  # a new minute
    assert await usage(database, bucket, WINDOW + 60) == (1, 0)


async def test_a_day_window_rolls_over_at_midnight_utc(database: Database) -> None:
    limiter = StoreRateLimiter(database)
    bucket = Bucket("tenant:t", DAY, 1, None)
    midnight = WINDOW // DAY * DAY + DAY
    await limiter.admit((bucket,), midnight - 3_600)
    with pytest.raises(RateLimited) as caught:
        await limiter.admit((bucket,), midnight - 1)
    assert caught.value.retry_after == 1
    await limiter.admit((bucket,), midnight)


async def test_a_request_is_refused_once_its_tokens_reach_the_limit(database: Database) -> None:
    limiter = StoreRateLimiter(database)
    bucket = Bucket("key:a", MINUTE, None, 100)
    await limiter.admit((bucket,), WINDOW)
    await limiter.add_tokens((bucket,), 60, WINDOW + 1)
    await limiter.admit((bucket,), WINDOW + 2)  # 60 of 100: still room
    await limiter.add_tokens((bucket,), 40, WINDOW + 3)
    with pytest.raises(RateLimited):
        await limiter.admit((bucket,), WINDOW + 4)
    assert await usage(database, bucket, WINDOW) == (2, 100)
    await limiter.admit((bucket,), WINDOW + MINUTE)


async def test_a_refusal_in_one_bucket_counts_the_request_in_none(database: Database) -> None:
    limiter = StoreRateLimiter(database)
    key = Bucket("key:a", MINUTE, 10, None)
    tenant = Bucket("tenant:t", MINUTE, 2, None)
    for _ in range(2):
        await limiter.admit((key, tenant), WINDOW)
    for _ in range(3):
        with pytest.raises(RateLimited) as caught:
            await limiter.admit((key, tenant), WINDOW)
        assert "tenant" in caught.value.message
    assert await usage(database, key, WINDOW) == (2, 0)
    assert await usage(database, tenant, WINDOW) == (2, 0)


async def test_tokens_count_only_where_tokens_are_limited(database: Database) -> None:
    limiter = StoreRateLimiter(database)
    requests_only = Bucket("key:a", MINUTE, 10, None)
    tokens_too = Bucket("tenant:t", MINUTE, 10, 1_000)
    await limiter.admit((requests_only, tokens_too), WINDOW)
    await limiter.add_tokens((requests_only, tokens_too), 250, WINDOW)
    await limiter.add_tokens((requests_only, tokens_too), 0, WINDOW)
    assert await usage(database, requests_only, WINDOW) == (1, 0)
    assert await usage(database, tokens_too, WINDOW) == (1, 250)
