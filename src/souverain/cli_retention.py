"""`souverain privacy purge`: the retention purge run from the command line, as the site's operator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from souverain.app import build_services
from souverain.cli_support import deployment_of, out, run, settings_for
from souverain.governance.audit.events import operator
from souverain.privacy.retention import CATEGORIES, Purged, RetentionService
from souverain.tenancy.tenants import sync_tenants

_UNITS = {"answers": "answers", "reviews": "held outputs", "documents": "documents", "chunks": "chunks"}
_UNITS |= {"records": "request records"}


def purge_command(tenant: str | None, dry_run: bool, config: Path | None) -> None:
    settings = settings_for(config)
    deployment = deployment_of(settings)

    async def purge() -> list[Purged]:
        services = build_services(settings, deployment)  # no engine is started: a purge calls none
        database, audit = services.database, services.audit
        try:
            await asyncio.to_thread(database.migrate)
            await sync_tenants(database, deployment)
            await audit.start()
            retention = RetentionService(database, deployment, services.knowledge, audit)
            return await retention.purge(tenant, dry_run=dry_run, by=operator)
        finally:
            await audit.close()  # the purge events are written before the store closes
            await database.close()

    done = {(purged.tenant, purged.category): purged for purged in run(purge())}
    verb = "would purge" if dry_run else "purged"
    for config_of in deployment.tenants:
        if tenant not in (None, config_of.name):
            continue
        for category in CATEGORIES:
            purged = done.get((config_of.name, category))
            if purged is None:
                out.print(f"{config_of.name} {category}: kept until deleted (no retention period)")
                continue
            counts = ", ".join(f"{count} {_UNITS[name]}" for name, count in purged.counts.items())
            before = purged.cutoff.isoformat(timespec="seconds")
            out.print(f"{purged.tenant} {category}: {verb} {counts} (made before {before})")
