"""API keys: created once and shown once, stored as a hash, verified on every request.

Verified keys are cached for `key_cache_seconds`, so the store is not asked on every call; a key
revoked through this process is dropped from the cache at once, one revoked elsewhere within that time.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from souverain.config import Deployment, Limits, TenantConfig
from souverain.errors import AuthenticationFailed, InvalidRequest, NotFound, PermissionDenied
from souverain.governance.audit.events import Actor, AdminAction
from souverain.governance.audit.log import AuditLog
from souverain.store.database import Database, aware
from souverain.store.models import ApiKeyRow, UseCaseRow
from souverain.store.repositories import KeyRepository
from souverain.tenancy.limits.base import buckets
from souverain.tenancy.principal import Principal, Role
from souverain.tenancy.usecases import UseCase, registered

KEY_PREFIX = "sk-souv-"
MAX_EXPIRY_DAYS = 36_500
_CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key after its creation: everything but the secret."""

    id: str
    tenant: str
    name: str
    role: str
    clearance: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    limits: Limits
    use_case: str | None

    @classmethod
    def of(cls, row: ApiKeyRow) -> KeyInfo:
        return cls(
            id=row.id,
            tenant=row.tenant,
            name=row.name,
            role=row.role,
            clearance=row.clearance,
            prefix=row.prefix,
            created_at=aware(row.created_at),
            expires_at=aware(row.expires_at) if row.expires_at else None,
            revoked_at=aware(row.revoked_at) if row.revoked_at else None,
            limits=Limits(
                requests_per_minute=row.requests_per_minute,
                requests_per_day=row.requests_per_day,
                tokens_per_minute=row.tokens_per_minute,
                tokens_per_day=row.tokens_per_day,
            ),
            use_case=row.use_case,
        )


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyService:
    def __init__(
        self, database: Database, deployment: Deployment, cache_seconds: float, audit: AuditLog
    ) -> None:
        self.database = database
        self.deployment = deployment
        self.cache_seconds = cache_seconds
        self.audit = audit
        self._cache: dict[str, tuple[float, Principal | AuthenticationFailed | PermissionDenied]] = {}

    async def create(
        self,
        *,
        by: Actor,
        tenant: str,
        role: str,
        clearance: str | None = None,
        expires_in_days: float | None = None,
        name: str = "",
        limits: Limits | None = None,
        creator_clearance: str | None = None,
        use_case: str | None = None,
    ) -> tuple[KeyInfo, str]:
        """Create a key; returns its description and the secret, which is never stored nor shown again.

        `creator_clearance` is the clearance of the admin key creating it through the API: nobody can
        hand out more than they hold. The CLI, run by the operator, passes none."""
        tenant_config = self.deployment.tenant(tenant)
        if tenant_config is None:
            known = ", ".join(t.name for t in self.deployment.tenants) or "none"
            raise NotFound(f"unknown tenant {tenant!r} (tenants: {known})", param="tenant")
        try:
            key_role = Role(role)
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidRequest(f"unknown role {role!r}: expected one of {known}", param="role") from None
        ceiling = self.deployment.ceiling(tenant_config.max_classification)
        clearance = clearance or self.deployment.classification_levels[0]
        if clearance not in self.deployment.classification_levels:
            known = ", ".join(self.deployment.classification_levels)
            raise InvalidRequest(
                f"unknown clearance {clearance!r}: expected one of {known}", param="clearance"
            )
        if self.deployment.rank(clearance) > self.deployment.rank(ceiling):
            raise InvalidRequest(
                f"clearance {clearance} is above tenant {tenant!r}'s ceiling {ceiling}", param="clearance"
            )
        if creator_clearance is not None and self.deployment.rank(clearance) > self.deployment.rank(
            creator_clearance
        ):
            raise PermissionDenied(
                f"clearance {clearance} is above the creating key's clearance {creator_clearance}",
                param="clearance",
            )
        if expires_in_days is not None and not 0 < expires_in_days <= MAX_EXPIRY_DAYS:
            raise InvalidRequest(
                f"expires_in_days must be between 0 and {MAX_EXPIRY_DAYS}", param="expires_in_days"
            )
        limits = limits or Limits()
        if use_case is not None:
            await self._check_use_case(tenant, use_case)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = ApiKeyRow(
            id=secrets.token_hex(8),
            tenant=tenant,
            name=name,
            role=key_role.value,
            clearance=clearance,
            key_hash=hash_key(secret),
            prefix=secret[: len(KEY_PREFIX) + 4],
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
            revoked_at=None,
            use_case=use_case,
            **limits.model_dump(),
        )
        async with self.database.session() as session, session.begin():
            KeyRepository(session).add(row)
        details = (f"role:{row.role}", f"clearance:{clearance}", f"use_case:{use_case or 'none'}")
        await self.audit.record(AdminAction(**by, action="key.create", target=row.id, details=details))
        return KeyInfo.of(row), secret

    async def _check_use_case(self, tenant: str, name: str) -> None:
        async with self.database.session() as session:
            row = await registered(session, tenant, name)
        if row.retired_at is not None:
            raise InvalidRequest(f"use case {name!r} is retired", param="use_case")

    async def list(self, tenant: str | None = None) -> list[KeyInfo]:
        async with self.database.session() as session:
            return [KeyInfo.of(row) for row in await KeyRepository(session).list(tenant)]

    async def revoke(self, key_id: str, by: Actor, tenant: str | None = None) -> KeyInfo:
        """Revoke a key; with `tenant`, only a key of that tenant (an admin cannot reach another's)."""
        async with self.database.session() as session, session.begin():
            keys = KeyRepository(session)
            row = await keys.by_id(key_id)
            if row is None or (tenant is not None and row.tenant != tenant):
                raise NotFound(f"no key with id {key_id!r}", param="key_id")
            await keys.revoke(key_id, datetime.now(UTC))
            await session.refresh(row)
            info = KeyInfo.of(row)
        self._forget(lambda principal: principal.key_id == key_id)
        who: Actor = {**by, "tenant": info.tenant}
        await self.audit.record(AdminAction(**who, action="key.revoke", target=key_id))
        return info

    def forget_use_case(self, tenant: str, name: str) -> None:
        """Drop cached keys bound to a use case that changed, so the change applies at once here."""
        self._forget(
            lambda principal: (
                principal.use_case is not None
                and (principal.use_case.tenant, principal.use_case.name) == (tenant, name)
            )
        )

    def _forget(self, matches: Callable[[Principal], bool]) -> None:
        """Drop the cached keys whose principal matches; cached refusals stay until they expire."""
        self._cache = {
            h: entry
            for h, entry in self._cache.items()
            if not (isinstance(entry[1], Principal) and matches(entry[1]))
        }

    async def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            raise AuthenticationFailed(
                "missing API key: send it as `Authorization: Bearer <key>`", code="missing_api_key"
            )
        key_hash = hash_key(secret)
        now = time.monotonic()
        cached = self._cache.get(key_hash)
        if cached is None or cached[0] < now:
            outcome, trusted_for = await self._verify(key_hash)
            cached = (now + trusted_for, outcome)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key_hash] = cached
        outcome = cached[1]
        if isinstance(outcome, AuthenticationFailed):
            # A fresh exception each time: raising the cached one would grow its traceback on every
            # refusal and keep each caller's frames (the secret among their locals) alive.
            raise AuthenticationFailed(outcome.message, code=outcome.code)
        if isinstance(outcome, PermissionDenied):
            raise PermissionDenied(outcome.message, code=outcome.code)
        return outcome

    async def _verify(
        self, key_hash: str
    ) -> tuple[Principal | AuthenticationFailed | PermissionDenied, float]:
        """The outcome for this key, and how many seconds it may be cached (never past the key's expiry)."""
        async with self.database.session() as session:
            row = await KeyRepository(session).by_hash(key_hash)
            case_row = (
                await session.get(UseCaseRow, (row.tenant, row.use_case)) if row and row.use_case else None
            )
        if row is None:
            return AuthenticationFailed("invalid API key"), self.cache_seconds
        lifetime = float("inf")
        if row.expires_at is not None:
            lifetime = (aware(row.expires_at) - datetime.now(UTC)).total_seconds()
        tenant = self.deployment.tenant(row.tenant)
        if row.revoked_at is not None:
            refusal = AuthenticationFailed("this API key was revoked", code="revoked_api_key")
        elif lifetime <= 0:
            refusal = AuthenticationFailed("this API key has expired", code="expired_api_key")
        elif tenant is None:
            refusal = AuthenticationFailed(
                f"tenant {row.tenant!r} is no longer configured on this site", code="unknown_tenant"
            )
        elif case_row is not None and case_row.retired_at is not None:
            # The key is sound, the purpose it was made for is not any more: forbidden, not unauthenticated.
            return PermissionDenied(
                f"this key's use case {case_row.name!r} was retired", code="use_case_retired"
            ), self.cache_seconds
        else:
            case = UseCase.of(case_row) if case_row is not None else None
            return self._principal(row, tenant, case), min(self.cache_seconds, lifetime)
        return refusal, self.cache_seconds

    def _principal(self, row: ApiKeyRow, tenant: TenantConfig, use_case: UseCase | None) -> Principal:
        info = KeyInfo.of(row)
        return Principal(
            key_id=row.id,
            key_prefix=row.prefix,
            tenant=tenant,
            role=Role(row.role),
            clearance=row.clearance,
            buckets=(
                *buckets(f"key:{row.id}", info.limits),
                *buckets(f"tenant:{tenant.name}", tenant.limits),
            ),
            use_case=use_case,
        )
