"""Keeping the store's tenant table in step with the deployment file."""

from __future__ import annotations

from datetime import UTC, datetime

from souverain.config import Deployment
from souverain.store.database import Database
from souverain.store.repositories import TenantRepository


async def sync_tenants(database: Database, deployment: Deployment) -> None:
    declared = [
        (tenant.name, list(tenant.residency), deployment.ceiling(tenant.max_classification))
        for tenant in deployment.tenants
    ]
    async with database.session() as session, session.begin():
        await TenantRepository(session).sync(declared, datetime.now(UTC))
