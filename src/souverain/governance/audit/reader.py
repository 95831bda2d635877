"""What a tenant's auditor may read of the site-wide audit log: its tenant's records, its tenant's view of
a signed export, and the whole chain's integrity. Each read is itself recorded before it is answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from souverain.errors import PermissionDenied
from souverain.governance.audit.chain import Finding
from souverain.governance.audit.events import AuditAccess, actor
from souverain.governance.audit.export import export_lines
from souverain.governance.audit.log import AuditLog, verify_store
from souverain.governance.audit.search import Page, Period, RecordQuery, search
from souverain.store.database import Database
from souverain.tenancy.principal import Principal


class AuditReader:
    def __init__(
        self, database: Database, log: AuditLog, site: str, signing_key: Callable[[], Ed25519PrivateKey]
    ) -> None:
        self.database = database
        self.log = log
        self.site = site
        self._signing_key = signing_key  # read when needed: made on first use, and may be rotated

    async def search(self, auditor: Principal, query: RecordQuery) -> Page:
        """The auditor's tenant's records; asking for another tenant's is refused (and recorded)."""
        await self._access(auditor, "search", query.described(), query.tenant)
        return await search(self.database, replace(query, tenant=auditor.tenant.name))

    async def export(self, auditor: Principal, period: Period) -> AsyncIterator[str]:
        """The lines of the tenant's view of the period (the others' records as stubs), signed."""
        key = await self.signing_key()
        await self._access(auditor, "export", period.described())
        return export_lines(self.database, key, self.site, period.start, period.end, auditor.tenant.name)

    async def verify(self, auditor: Principal) -> tuple[int, Finding | None]:
        """The whole chain's verification: it is one chain for the site, whose findings name records by
        their place and say what is wrong, never what they hold."""
        await self._access(auditor, "verify", {})
        return await verify_store(self.database)

    async def public_key(self) -> Ed25519PublicKey:
        return (await self.signing_key()).public_key()

    async def signing_key(self) -> Ed25519PrivateKey:
        return await asyncio.to_thread(self._signing_key)  # a file read, made the first time

    async def _access(
        self, auditor: Principal, action: str, query: Mapping[str, str | int], tenant: str | None = None
    ) -> None:
        refusal = None
        if tenant is not None and tenant != auditor.tenant.name:
            refusal = PermissionDenied(
                f"an auditor key of tenant {auditor.tenant.name!r} reads that tenant's records only",
                param="tenant",
            )
        status = refusal.code if refusal else "ok"
        # Durable before anything is read: a read the log cannot record is refused (AuditUnavailable).
        await self.log.record(AuditAccess(**actor(auditor), action=action, query=query, status=status))
        if refusal is not None:
            raise refusal
